import Foundation
import Testing
@testable import VisualExtraction

/// Ids and paths with control characters: what reaches the terminal is visible text, what
/// reaches the store is what the record said, and nothing is silently cut at a NUL.
@Suite(.timeLimit(.minutes(10))) struct HostileRecordTests {
    static let corpus = """
        [
         {"id": "esc\\u001b[31mRED\\u001b[0m", "image": "skimage/coffee.png", "conversations": [{"from": "human", "value": "<image>\\nWhat is it?"}, {"from": "gpt", "value": "A cup."}]},
         {"id": "a\\u0000b", "image": "skimage/coffee.png", "conversations": [{"from": "human", "value": "<image>\\nWhat is it?"}, {"from": "gpt", "value": "A cup."}]},
         {"id": "a", "image": "skimage/coffee.png", "conversations": [{"from": "human", "value": "<image>\\nWhat is it?"}, {"from": "gpt", "value": "A cup."}]},
         {"id": "nulpath", "image": "skimage/coffee.png\\u0000.gif", "conversations": [{"from": "human", "value": "<image>\\nWhat is it?"}, {"from": "gpt", "value": "A cup."}]}
        ]
        """

    @Test func controlCharactersNeverReachTheTerminalAndANULNeverCutsAnId() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("hostile.json")
        try Data(Self.corpus.utf8).write(to: input)
        let work = dir.appendingPathComponent("work").path
        let run = try await TestSupport.runVXT(["run", "paper", "--input", input.path, "--images", "samples/images", "--work", work])
        #expect(run.status == 2, "two hostile records fail, the rest is done: \(run.stderr)")
        let inspect = try await TestSupport.runVXT(["inspect", input.path])
        let show = try await TestSupport.runVXT(["show", "--work", work, "--id", "0"])
        let status = try await TestSupport.runVXT(["status", "--work", work])
        for output in [run.stderr, inspect.stdout, inspect.stderr, show.stdout, status.stdout] {
            #expect(!output.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0 }, "\(output)")
        }
        #expect(show.stdout.contains("esc\\u{1b}[31mRED"), "shown escaped: \(show.stdout)")
        // The NUL id and the NUL path fail as input problems; "a" is its own record, done.
        #expect(status.stdout.contains("holds a NUL character") && status.stdout.contains("holds a control character"))
        let export = try await TestSupport.runVXT(["export", "--work", work, "--format", "jsonl", "--out", "-"])
        let ids = try export.stdout.split(separator: "\n").map { try JSONParser.parse(String($0))["id"]?.stringValue }
        #expect(ids == ["esc\u{1b}[31mRED\u{1b}[0m", "a"], "JSON keeps the id exactly (escaped by JSON itself)")
    }
}
