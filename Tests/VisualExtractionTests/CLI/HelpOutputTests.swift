import Foundation
import Testing
@testable import VisualExtraction

/// `--help` is the first documentation a user reads: each command's text is kept in
/// `Fixtures/help/<command>.txt`, so a change to it shows in review like any other change.
/// After an intended change: `VXT_UPDATE_HELP=1 swift test --filter HelpOutputTests`.
@Suite(.timeLimit(.minutes(10))) struct HelpOutputTests {
    static let commands = [
        "", "run", "status", "show", "audit", "export", "prompts", "inspect", "images", "merge", "retry",
        "validate", "init", "mock-teacher", "batch", "batch export", "batch import"
    ]

    static func golden(_ command: String) -> URL {
        TestSupport.packageRoot.appendingPathComponent(
            "Tests/VisualExtractionTests/Fixtures/help/\(command.isEmpty ? "vxt" : command.replacingOccurrences(of: " ", with: "-")).txt")
    }

    @Test(arguments: commands)
    func helpMatchesTheCommittedText(_ command: String) async throws {
        // A fixed width: swift-argument-parser wraps to the terminal's, and tests have none.
        let words = command.split(separator: " ").map(String.init)
        let result = try await TestSupport.runVXT(words + ["--help"], environment: ["COLUMNS": "100"])
        #expect(result.status == 0, "\(result.stderr)")
        let path = Self.golden(command)
        if ProcessInfo.processInfo.environment["VXT_UPDATE_HELP"] == "1" {
            try Data(result.stdout.utf8).write(to: path)
        }
        let expected = try String(contentsOf: path, encoding: .utf8)
        #expect(result.stdout == expected, "vxt \(command) --help changed; if intended, update with VXT_UPDATE_HELP=1")
    }

    @Test func everyCommandHasItsHelpText() async throws {
        // A new command without a golden file fails here, not silently.
        let result = try await TestSupport.runVXT(["--help"], environment: ["COLUMNS": "100"])
        let listed =
            result.stdout.components(separatedBy: "SUBCOMMANDS:").last?.split(separator: "\n")
            .compactMap { line -> String? in
                let trimmed = line.drop { $0 == " " }
                guard line.hasPrefix("  "), !line.hasPrefix("    "), let name = trimmed.split(separator: " ").first,
                    name.allSatisfy({ $0.isLowercase || $0 == "-" })
                else { return nil }
                return String(name)
            } ?? []
        #expect(!listed.isEmpty)
        #expect(Set(listed) == Set(Self.commands.filter { !$0.isEmpty && !$0.contains(" ") }), "listed: \(listed)")
    }
}
