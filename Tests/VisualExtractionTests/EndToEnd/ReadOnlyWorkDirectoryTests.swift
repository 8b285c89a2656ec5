import Foundation
import Testing
@testable import VisualExtraction

/// A finished work directory on a read-only mount or archived without write permission: the
/// commands that only read it work, and `run` says why it cannot.
@Suite(.serialized, .timeLimit(.minutes(10))) struct ReadOnlyWorkDirectoryTests {
    /// Root may write anywhere, so as root the commands run as `nobody` (setpriv), for whom the
    /// folder is read-only; as anyone else the permissions alone do it.
    static let isRoot = getuid() == 0
    static let canDropPrivileges =
        !isRoot
        || (FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") && worldReachable(TestSupport.vxtBinary.path)
            && worldReachable(TestSupport.sampleCorpus.path) && worldReachable(NSTemporaryDirectory()))

    /// Whether `nobody` can get to `path`: every folder on the way searchable by others.
    static func worldReachable(_ path: String) -> Bool {
        var current = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        while !current.isEmpty && current != "/" {
            var st = stat()
            guard stat(current, &st) == 0, st.st_mode & S_IROTH != 0 || st.st_mode & S_IXOTH != 0 else { return false }
            current = (current as NSString).deletingLastPathComponent
        }
        return true
    }

    func runWithoutWriteAccess(_ arguments: [String]) async throws -> TestSupport.ProcessResult {
        let dir = try TestSupport.temporaryDirectory("ro-out")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("stdout"), err = dir.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        if Self.isRoot {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", TestSupport.vxtBinary.path] + arguments
        } else {
            process.executableURL = TestSupport.vxtBinary
            process.arguments = arguments
        }
        process.currentDirectoryURL = TestSupport.packageRoot
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let status = await TestSupport.exitStatus(of: process)
        return .init(
            status: status, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    @Test(.enabled(if: canDropPrivileges, "running as root without setpriv: no way to lose write access"))
    func readingCommandsWorkAndRunSaysWhy() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer {
            _ = try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.appendingPathComponent("work").path)
            try? FileManager.default.removeItem(at: dir)
        }
        // A temporary folder that `nobody` can enter.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
        let work = dir.appendingPathComponent("work")
        let run = try await TestSupport.runVXT([
            "run", "paper", "--input", "samples/llava_sample.json", "--images", "samples/images", "--work", work.path
        ])
        #expect(run.status == 0, "\(run.stderr)")
        for name in try FileManager.default.contentsOfDirectory(atPath: work.path) {
            try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: work.appendingPathComponent(name).path)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: work.path)

        let status = try await runWithoutWriteAccess(["status", "--work", work.path, "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(try JSONParser.parse(status.stdout)["records"] == .number("12"))
        let export = try await runWithoutWriteAccess(["export", "--work", work.path, "--format", "jsonl", "--out", "-"])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.split(separator: "\n").count == 10)
        let show = try await runWithoutWriteAccess(["show", "--work", work.path, "--id", "coffee-0004"])
        #expect(show.status == 0 && show.stdout.contains("coffee-0004"), "\(show.stderr)")

        let again = try await runWithoutWriteAccess([
            "run", "paper", "--input", TestSupport.sampleCorpus.path, "--images", TestSupport.sampleImages.path, "--work", work.path
        ])
        #expect(again.status != 0)
        #expect(again.stderr.contains("is read-only"), "\(again.stderr)")
        #expect(!again.stderr.contains("another vxt run"))
    }
}
