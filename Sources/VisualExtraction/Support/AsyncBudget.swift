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
    private var waiters: [(bytes: Int, continuation: CheckedContinuation<Void, Never>)] = []
    private var head = 0

    init(limit: Int) { self.limit = max(1, limit) }

    func acquire(_ bytes: Int) async {
        await withCheckedContinuation { continuation in
            lock.lock()
            if head == waiters.count && fits(bytes) {
                used += bytes
                lock.unlock()
                continuation.resume()
            } else {
                waiters.append((bytes, continuation))
                lock.unlock()
            }
        }
    }

    func release(_ bytes: Int) {
        var ready: [CheckedContinuation<Void, Never>] = []
        lock.lock()
        used -= bytes
        // In arrival order: a large body is not overtaken forever by small ones.
        while head < waiters.count && fits(waiters[head].bytes) {
            used += waiters[head].bytes
            ready.append(waiters[head].continuation)
            head += 1
        }
        if head == waiters.count {
            waiters.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > waiters.count {
            waiters.removeFirst(head)
            head = 0
        }
        lock.unlock()
        for continuation in ready { continuation.resume() }
    }

    private func fits(_ bytes: Int) -> Bool { used == 0 || used + bytes <= limit }
}
