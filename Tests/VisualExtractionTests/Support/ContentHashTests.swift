import Foundation
import Testing
@testable import VisualExtraction

/// SHA-256 through libcrypto, and what libcrypto does when the process ends.
@Suite struct ContentHashTests {
    /// A process may end with `exit()` while another of its threads is hashing: the mock teacher's
    /// `--exit-after` with requests in hand (every answer is keyed by a SHA-256), or a SIGTERM
    /// while ingest hashes the input. libcrypto's own exit-time clean-up used to free the lock
    /// that thread then took: about 1 exit in 10 ended in SIGSEGV (status 139) instead of the
    /// status asked for (13 of 120, 2 of 40 in this test, here before the fix), and a supervisor reads 139 as a crash.
    @Test func aProcessThatExitsWhileAnotherThreadHashesEndsWithItsOwnStatus() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let requests = dir.appendingPathComponent("requests.jsonl")
        var lines = ""
        for n in 0..<3000 {
            let body = JSONValue.object([
                (key: "id", value: .string("r\(n)")), (key: "model", value: .string("m")),
                (
                    key: "messages",
                    value: .array([
                        .object([
                            (key: "role", value: .string("user")),
                            (key: "content", value: .string("Question #1: What color is cup \(n)?\nAnswer: Red\nDeclarative Statement(s):"))
                        ])
                    ])
                ),
                (key: "max_tokens", value: .number("32"))
            ])
            lines += body.jsonText + "\n"
        }
        try lines.write(to: requests, atomically: true, encoding: .utf8)
        var statuses: [Int32: Int] = [:]
        for round in 0..<100 {
            // All 3000 requests at once on stdin: the exit comes with most of them mid-answer.
            let exited = try await TestSupport.run(
                executable: "/bin/sh",
                [
                    "-c", "exec \"$0\" mock-teacher --stdio --exit-after \"$1\" < \"$2\" > /dev/null",
                    TestSupport.vxtBinary.path, "\(1 + round % 4)", requests.path
                ])
            statuses[exited.status, default: 0] += 1
        }
        #expect(statuses == [3: 100], "exit statuses (11 is SIGSEGV): \(statuses)")
    }
}
