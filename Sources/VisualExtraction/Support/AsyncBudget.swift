import Foundation

/// A weighted async semaphore: units (bytes, requests) are taken, waited for in arrival order,
/// and given back from any thread. A claim larger than the whole budget still goes, alone.
///
/// Used for the bytes of request bodies built but not yet sent (twelve thousand requests starting
/// at once would otherwise build 1.6 GB of base64 images before the first is on the wire) and for
/// the requests a run has in flight (so that image work for the next tasks overlaps them).
final class AsyncBudget: @unchecked Sendable {
    let limit: Int
    private let lock = NSLock()
    private var used = 0
    private var waiters = FIFOQueue<(units: Int, continuation: CheckedContinuation<Void, Never>)>()

    init(limit: Int) { self.limit = max(1, limit) }

    func acquire(_ units: Int) async {
        await withCheckedContinuation { continuation in
            lock.lock()
            if waiters.isEmpty && fits(units) {
                used += units
                lock.unlock()
                continuation.resume()
            } else {
                waiters.append((units, continuation))
                lock.unlock()
            }
        }
    }

    func release(_ units: Int) {
        var ready: [CheckedContinuation<Void, Never>] = []
        lock.lock()
        used -= units
        // In arrival order: a large claim is not overtaken forever by small ones.
        while let next = waiters.first, fits(next.units), let waiter = waiters.popFirst() {
            used += waiter.units
            ready.append(waiter.continuation)
        }
        lock.unlock()
        for continuation in ready { continuation.resume() }
    }

    /// Claims waiting now; lets a test see that a claim has queued instead of sleeping for it.
    var waiting: Int { lock.withLock { waiters.count } }

    private func fits(_ units: Int) -> Bool { used == 0 || used + units <= limit }
}
