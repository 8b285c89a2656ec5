import Foundation
import VisualExtraction

/// The mock teacher as a local process (`vxt mock-teacher --stdio`): request lines on stdin,
/// answer lines on stdout, in the JSONL protocol of `LocalProcessTeacher`. Answers are written
/// as they become ready, so with latency they arrive out of order, as a batching server's would.
public enum MockStdioTeacher {
    /// - Parameters:
    ///   - exitAfter: exit with status 3 after this many answers, abandoning requests still held,
    ///     to rehearse a model process that crashes.
    ///   - jitterMs: a further delay in 0...jitterMs, drawn from the request id, so answers overtake each other.
    public static func serve(latencyMs: Int, jitterMs: Int = 0, exitAfter: Int?) async {
        let output = LineWriter()
        await withTaskGroup(of: Void.self) { group in
            for await line in StdinLines() {
                group.addTask {
                    let request = Array(line.utf8)
                    let id = (try? JSONParser.parse(request))?["id"]?.stringValue ?? ""
                    let delay = latencyMs + (jitterMs > 0 ? Int(MockFaults.hash(Array(id.utf8)) % UInt64(jitterMs + 1)) : 0)
                    if delay > 0 { try? await Task.sleep(nanoseconds: UInt64(delay) * 1_000_000) }
                    // The answer object with its `id` replaced by the request's.
                    let answer = MockResponder.answer(body: request)
                    guard case let .object(members)? = try? JSONParser.parse(answer.body) else { return }
                    let line = JSONValue.object([(key: "id", value: .string(id))] + members.filter { $0.key != "id" })
                    output.write(line.jsonText, exitAfter: exitAfter)
                }
            }
        }
    }

    /// Serialises answer lines and counts them.
    final class LineWriter: @unchecked Sendable {
        private let lock = NSLock()
        private var written = 0

        func write(_ line: String, exitAfter: Int?) {
            lock.lock()
            defer { lock.unlock() }
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
            written += 1
            if let exitAfter, written >= exitAfter { exit(3) }
        }
    }

    /// stdin as an async sequence of lines, read on a thread of its own.
    struct StdinLines: AsyncSequence {
        typealias Element = String
        func makeAsyncIterator() -> AsyncStream<String>.Iterator {
            AsyncStream<String> { continuation in
                let thread = Thread {
                    while let line = readLine(strippingNewline: true) {
                        if !line.isEmpty { continuation.yield(line) }
                    }
                    continuation.finish()
                }
                thread.start()
            }.makeAsyncIterator()
        }
    }
}
