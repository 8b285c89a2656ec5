import Foundation
import VisualExtraction

/// The mock teacher as an offline batch runner, the way `vllm run-batch` is one: reads an OpenAI
/// Batch request file and writes one output line per request, answered as the server would.
public enum MockBatch {
    public struct Summary: Sendable {
        public var answered = 0
        public var failed = 0
    }

    /// With `failRate`, that seeded share of requests gets a 500 response instead of an answer.
    public static func run(
        input: String, output: String, statementFault: MockResponder.StatementFault? = nil, failRate: Double = 0, seed: UInt64 = 1
    ) throws -> Summary {
        guard let data = FileManager.default.contents(atPath: input) else {
            throw MockResponder.MockError("cannot read batch input \(input)")
        }
        var summary = Summary()
        var out = ""
        var state = seed
        for (number, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
            guard let request = try? JSONParser.parse([UInt8](line)), let customID = request["custom_id"]?.stringValue,
                let body = request["body"]
            else {
                throw MockResponder.MockError("\(input):\(number + 1): not a batch request line")
            }
            // The same seed and file give the same failures.
            let draw = Double(MockFaults.splitmix(&state) >> 11) / Double(1 << 53)
            let answer =
                draw < failRate
                ? MockResponder.Answer(status: 500, body: #"{"error":{"message":"mock batch fault","type":"server_error"}}"#)
                : MockResponder.answer(body: Array(body.jsonText.utf8), statementFault: statementFault)
            if answer.status == 200 { summary.answered += 1 } else { summary.failed += 1 }
            out += "{\"id\":\"vxt-mock-batch-\(number)\",\"custom_id\":"
            JSONValueWriter.string(customID, to: &out)
            out +=
                ",\"response\":{\"status_code\":\(answer.status),\"request_id\":\"vxt-mock-\(number)\",\"body\":\(answer.body)},\"error\":null}\n"
        }
        guard FileManager.default.createFile(atPath: output, contents: Data(out.utf8)) else {
            throw MockResponder.MockError("cannot write batch output \(output)")
        }
        return summary
    }
}
