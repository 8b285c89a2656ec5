import Foundation
import Testing
@testable import VisualExtraction

/// The result writer's promise to the runner: when `flush()` returns, every result handed to it
/// before is committed. The runner decides that a run is over on that promise.
@Suite struct ResultWriterTests {
    /// A commit that waits until the test opens the gate, and logs what happened in order.
    final class GatedCommit: @unchecked Sendable {
        private let lock = NSLock()
        private var gate: CheckedContinuation<Void, Never>?
        private var open = false
        private(set) var log: [String] = []
        var waiting: Bool { lock.withLock { gate != nil } }

        func add(_ entry: String) { lock.withLock { log.append(entry) } }

        func commit(_ batch: [TaskResult]) async {
            await withCheckedContinuation { continuation in
                let go = lock.withLock { () -> Bool in
                    if open { return true }
                    gate = continuation
                    return false
                }
                if go { continuation.resume() }
            }
            add("committed \(batch.map(\.recordKey).joined(separator: ","))")
        }

        func release() {
            let waiting = lock.withLock { () -> CheckedContinuation<Void, Never>? in
                open = true
                defer { gate = nil }
                return gate
            }
            waiting?.resume()
        }
    }

    static func result(_ key: String) -> TaskResult {
        TaskResult(recordKey: key, stage: "s", outcome: .failed(reason: "x"), request: nil, startedAt: 0, finishedAt: 0)
    }

    @Test func aFlushWaitsForACommitAnotherFlushStarted() async throws {
        let gated = GatedCommit()
        let writer = ResultWriter(maxBatch: 1, delayMilliseconds: 1000) { await gated.commit($0) }
        // The first result fills a batch: its flush starts the commit, which waits at the gate.
        let first = Task { await writer.add(Self.result("a")) }
        while !gated.waiting { await Task.yield() }
        // A second flush while that commit is under way (the buffer is empty by now).
        let second = Task {
            gated.add("flush called")
            await writer.flush()
            gated.add("flush returned")
        }
        while !gated.log.contains("flush called") { await Task.yield() }
        for _ in 0..<200 { await Task.yield() }
        #expect(gated.log == ["flush called"], "the second flush must not return before the commit it depends on")
        gated.release()
        await first.value
        await second.value
        #expect(gated.log == ["flush called", "committed a", "flush returned"])
    }
}
