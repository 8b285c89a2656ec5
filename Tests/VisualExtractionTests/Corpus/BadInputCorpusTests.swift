import Foundation
import Testing
@testable import VisualExtraction

/// Every file of the bad-input corpus (`Fixtures/bad/make_bad_inputs.py`) through `vxt inspect`:
/// the exit status, the records that still decode, the problems counted and their messages are
/// what the manifest says, and no file costs more than a bounded amount of memory.
@Suite(.serialized, .timeLimit(.minutes(10))) struct BadInputCorpusTests {
    static let pythonAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

    struct Case: Decodable, CustomStringConvertible {
        var file: String
        var status: Int32
        var usable: Int?
        var problems: Int
        var fragment: String?
        var note: String
        var description: String { file }
    }

    /// What `vxt inspect --json` did with one file, and its peak RSS (KB).
    struct Inspection: Decodable {
        var status: Int32
        var stdout: String
        var stderr: String
        var peakKB: Int
        var json: JSONValue? { try? JSONParser.parse(Array(stdout.utf8)) }
    }

    /// Runs `vxt inspect --json` on each file, one after another, under one Python parent that
    /// takes each child's own peak RSS from `wait4`. One process for all of them: the test then
    /// waits once, not once per file for a cooperative thread to resume it, which on a busy
    /// machine in the full suite took it from 17 s to past its 10-minute limit.
    static func inspect(_ paths: [String]) async throws -> [Inspection] {
        let measure = """
            import json, os, sys, tempfile
            vxt, results = sys.argv[1], []
            for path in sys.argv[2:]:
                with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                    pid = os.posix_spawn(vxt, [vxt, "inspect", path, "--json"], os.environ,
                                         file_actions=[(os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
                    _, status, usage = os.wait4(pid, 0)
                    out.seek(0); err.seek(0)
                    results.append({"status": os.waitstatus_to_exitcode(status), "peakKB": usage.ru_maxrss,
                                    "stdout": out.read().decode("utf-8", "replace"), "stderr": err.read().decode("utf-8", "replace")})
            print(json.dumps(results))
            """
        let result = try await TestSupport.run(executable: "/usr/bin/python3", ["-c", measure, TestSupport.vxtBinary.path] + paths)
        guard result.status == 0 else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: result.stderr)) }
        return try JSONDecoder().decode([Inspection].self, from: Data(result.stdout.utf8))
    }

    @Test(.enabled(if: pythonAvailable, "python3 is needed to make the bad inputs"))
    func everyBadInputHasItsExpectedOutcome() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let maker = TestSupport.packageRoot.appendingPathComponent("Tests/VisualExtractionTests/Fixtures/bad/make_bad_inputs.py")
        let made = try await TestSupport.run(executable: "/usr/bin/python3", [maker.path, dir.path])
        #expect(made.status == 0, "\(made.stderr)")
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: dir.appendingPathComponent("manifest.json")))
        #expect(cases.count >= 15)
        let inspections = try await Self.inspect(cases.map { dir.appendingPathComponent($0.file).path })
        #expect(inspections.count == cases.count)
        for (item, result) in zip(cases, inspections) {
            #expect(result.status == item.status, "\(item.file) (\(item.note)): \(result.stderr)")
            // Bounded memory whatever the file holds (the huge record is 70 MB).
            #expect(result.peakKB > 0 && result.peakKB < 200_000, "\(item.file): peak RSS \(result.peakKB) KB")
            if item.status != 0 {
                #expect(result.stderr.contains(item.fragment ?? ""), "\(item.file): \(result.stderr)")
                continue
            }
            guard let json = result.json, case let .number(records)? = json["records"], case let .number(problems)? = json["problems"],
                let total = Int(records), let bad = Int(problems)
            else {
                Issue.record("\(item.file): no inspect JSON: \(result.stderr)"); continue
            }
            #expect(bad == item.problems, "\(item.file): \(json["errors"]?.jsonText ?? "")")
            if let usable = item.usable { #expect(total - bad == usable, "\(item.file): \(total) records, \(bad) problems") }
            if let fragment = item.fragment, !fragment.isEmpty {
                #expect(json["errors"]?.jsonText.contains(fragment) == true, "\(item.file): \(json["errors"]?.jsonText ?? "")")
            }
        }
    }
}
