import Foundation
import Testing
@testable import VisualExtraction

/// The weighted async semaphore behind the upload budget and the run's call limit.
struct AsyncBudgetTests {
    final class Log: @unchecked Sendable {
        private let lock = NSLock()
        private var entries: [String] = []
        func add(_ entry: String) { lock.withLock { entries.append(entry) } }
        var all: [String] { lock.withLock { entries } }
    }

    @Test func waitersGoInArrivalOrderWhenUnitsComeBack() async throws {
        let budget = AsyncBudget(limit: 4)
        let log = Log()
        await budget.acquire(3)
        let big = Task {
            await budget.acquire(3); log.add("big")
        }
        await Self.until { budget.waiting == 1 }
        let small = Task {
            await budget.acquire(1); log.add("small")
        }
        await Self.until { budget.waiting == 2 }
        // One unit is free, but the small claim queues behind the big one: no overtaking.
        #expect(log.all.isEmpty)
        budget.release(3)
        await big.value
        await small.value
        #expect(log.all == ["big", "small"])
    }

    @Test func aClaimLargerThanTheBudgetGoesAlone() async throws {
        let budget = AsyncBudget(limit: 10)
        let log = Log()
        await budget.acquire(25)  // nothing else held: it goes
        log.add("25")
        let next = Task {
            await budget.acquire(1); log.add("1")
        }
        await Self.until { budget.waiting == 1 }
        #expect(log.all == ["25"], "nothing fits beside a claim over the limit")
        log.add("released")
        budget.release(25)
        await next.value
        #expect(log.all == ["25", "released", "1"])
        #expect(budget.waiting == 0)
    }

    /// Yields until `condition` holds: order is asserted on what happened, never on how long it took.
    static func until(_ condition: () -> Bool) async {
        while !condition() { await Task.yield() }
    }

    @Test func theQueueKeepsOrderAcrossCompactions() {
        var queue = FIFOQueue<Int>()
        var popped: [Int] = []
        for n in 0..<5000 {
            queue.append(n)
            if n % 3 == 0, let first = queue.popFirst() { popped.append(first) }
        }
        while let first = queue.popFirst() { popped.append(first) }
        #expect(popped == Array(0..<5000))
        #expect(queue.isEmpty && queue.first == nil)
    }
}
