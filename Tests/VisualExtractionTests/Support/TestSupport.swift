import Foundation
import Testing
@testable import VisualExtraction

/// Paths and child-process helpers shared by the tests.
enum TestSupport {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var samples: URL { packageRoot.appendingPathComponent("samples") }
    static var sampleImages: URL { samples.appendingPathComponent("images") }
    static var sampleCorpus: URL { samples.appendingPathComponent("llava_sample.json") }
    static var paperPipeline: URL { packageRoot.appendingPathComponent("pipelines/paper.yaml") }

    /// `../shared/data` beside the project: third-party fixtures that are never committed.
    static var sharedData: URL? {
        let url = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// The `vxt` executable built next to the test bundle.
    static var vxtBinary: URL {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vxt")
        if FileManager.default.isExecutableFile(atPath: besideTests.path) { return besideTests }
        return packageRoot.appendingPathComponent(".build/debug/vxt")
    }

    /// `pipelines/paper.yaml` with a fleet: two servers with their own settings, and prices.
    static func fleetPipeline(in directory: URL) throws -> URL {
        let paper = try String(contentsOf: paperPipeline, encoding: .utf8)
        let fleet = paper.replacingOccurrences(
            of: "teacher:\n",
            with: """
                teacher:
                  endpoints:
                    - {url: http://gpu-01:8000/v1, max_concurrency: 64}
                    - {url: https://api.example.com/v1, model: qwen3-vl-8b, api_key_env: EXAMPLE_API_KEY, requests_per_minute: 500,
                       tokens_per_minute: 2000000, headers: {X-Team: vision}}
                  prices: {Qwen/Qwen3-VL-8B-Instruct: {input_per_million: 0.2, output_per_million: 0.8}}

                """)
        let url = directory.appendingPathComponent("fleet.yaml")
        try fleet.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    static func temporaryDirectory(_ name: String = #function) throws -> URL {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vxt-tests-\(safe)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    struct ProcessResult {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Starts `vxt` (or another executable) with arguments; the caller waits or kills.
    static func startVXT(
        _ arguments: [String], stdout: URL, stderr: URL, environment: [String: String] = [:],
        executable: URL? = nil, onExit: (@Sendable (Process) -> Void)? = nil
    ) throws -> Process {
        let process = Process()
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.executableURL = executable ?? vxtBinary
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        _ = FileManager.default.createFile(atPath: stdout.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        process.standardInput = FileHandle.nullDevice
        process.terminationHandler = onExit
        try process.run()
        return process
    }

    /// Runs `vxt` to completion and returns what it printed. Awaits the exit instead of blocking:
    /// a test thread blocked in `waitUntilExit` is one of the few cooperative threads (two on a
    /// two-core machine), and two of them starved every timer of the other tests for ~16 s.
    static func runVXT(_ arguments: [String], environment: [String: String] = [:]) async throws -> ProcessResult {
        try await run(executable: vxtBinary.path, arguments, environment: environment)
    }

    /// Runs any executable to completion, as `runVXT` runs `vxt`.
    static func run(executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> ProcessResult {
        let dir = try temporaryDirectory("out")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("stdout"), err = dir.appendingPathComponent("stderr")
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            do {
                _ = try startVXT(
                    arguments, stdout: out, stderr: err, environment: environment, executable: URL(fileURLWithPath: executable)
                ) {
                    continuation.resume(returning: $0.terminationStatus)
                }
            } catch {
                continuation.resume(throwing: error)
            }
        }
        return ProcessResult(
            status: status,
            stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// Waits for a process started elsewhere, without holding a cooperative thread (see `runVXT`).
    static func exitStatus(of process: Process) async -> Int32 {
        while process.isRunning { try? await Task.sleep(nanoseconds: 20_000_000) }
        return process.terminationStatus
    }

    static func record(_ id: String, pairs: [(String, String)], image: String? = "skimage/coffee.png") -> CorpusRecord {
        CorpusRecord(position: 0, sourceID: id, images: image.map { [$0] } ?? [], pairs: pairs.map { QAPair(question: $0.0, answer: $0.1) })
    }

    /// Starts `executable` with posix_spawn, stdout and stderr to `output`; returns its pid.
    /// For programs that start daemons (munged, slurmctld, a tmux server): a daemon inherits the
    /// descriptor Foundation's `Process` watches for the child's exit and keeps it open for good,
    /// so the exit is never seen and the child never reaped.
    static func spawn(_ executable: String, _ arguments: [String], environment: [String: String] = [:], output: URL) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in env { free(p) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, env)
        guard result == 0 else {
            throw NSError(domain: "vxt-tests", code: Int(result), userInfo: [NSLocalizedDescriptionKey: "cannot start \(executable)"])
        }
        return pid
    }

    /// Waits for a spawned child on a thread of its own (a blocking wait must not hold a cooperative thread).
    static func exitStatus(ofSpawned pid: pid_t) async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                let exited = status & 0x7f == 0
                continuation.resume(returning: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f))
            }
        }
    }

    /// Runs a program that may start daemons to its end (see `spawn`); its output, stdout and stderr together.
    static func runSpawned(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], scratch: URL
    ) async throws -> (status: Int32, output: String) {
        let output = scratch.appendingPathComponent("spawned-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: output) }
        let pid = try spawn(executable, arguments, environment: environment, output: output)
        let status = await exitStatus(ofSpawned: pid)
        return (status, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }

    static func jsonLines(_ url: URL) throws -> [JSONValue] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(String($0)) }
    }
}

/// A clock for code that takes `now: () -> Double`: it shows what the test sets, and moves on by
/// `step` seconds at every look, so that "time passes" is decided by the test, not the machine.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var seconds: Double
    private let step: Double

    init(_ seconds: Double, step: Double = 0) {
        self.seconds = seconds
        self.step = step
    }

    func set(_ value: Double) {
        lock.lock()
        seconds = value
        lock.unlock()
    }

    var read: @Sendable () -> Double {
        { [self] in
            lock.lock()
            defer { lock.unlock() }
            seconds += step
            return seconds
        }
    }
}
