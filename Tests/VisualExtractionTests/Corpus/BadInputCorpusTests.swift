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

    /// Runs `vxt inspect --json` under a Python parent that reports the child's peak RSS (KB) as
    /// the last line of stderr.
    static func inspect(_ path: String) async throws -> (status: Int32, json: JSONValue?, stderr: String, peakKB: Int) {
        let measure = """
            import resource, subprocess, sys
            r = subprocess.run(sys.argv[1:])
            sys.stderr.write("\\n%d\\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
            sys.exit(r.returncode)
            """
        let result = try await TestSupport.run(
            executable: "/usr/bin/python3", ["-c", measure, TestSupport.vxtBinary.path, "inspect", path, "--json"])
        let lines = result.stderr.split(separator: "\n")
        let peak = lines.last.flatMap { Int($0) } ?? 0
        return (result.status, try? JSONParser.parse(result.stdout), result.stderr, peak)
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
        for item in cases {
            let result = try await Self.inspect(dir.appendingPathComponent(item.file).path)
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
