import Foundation

/// Tells a running `Runner` that tasks became ready from outside it (a batch of records ingested
/// while the run goes on) and, at the end, that no more will come or why they stopped coming.
///
/// The runner would otherwise end as soon as it finds nothing pending; with arrivals it waits for
/// the next announcement instead, and claims at once when one comes, so a run on a large input
/// sends its first requests seconds after it starts, not after the whole file is read.
public final class WorkArrivals: @unchecked Sendable {
    private let lock = NSLock()
    private var generation = 0
    private var finished = false
    private var failure: (any Error)?
    private var waiters: [(id: Int, continuation: CheckedContinuation<Void, Never>)] = []
    private var nextWaiter = 0

    public init() {}

    /// More work is ready (called after each committed batch).
    public func announce() {
        let woken = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            generation += 1
            defer { waiters.removeAll() }
            return waiters.map(\.continuation)
        }
        woken.forEach { $0.resume() }
    }

    /// No more work will arrive; with `failure`, because the source failed (the run stops with it).
    public func finish(failure: (any Error)? = nil) {
        let woken = lock.withLock { () -> [CheckedContinuation<Void, Never>] in
            finished = true
            self.failure = failure
            generation += 1
            defer { waiters.removeAll() }
            return waiters.map(\.continuation)
        }
        woken.forEach { $0.resume() }
    }

    /// What has been announced so far: a number that grows with each announcement, and whether
    /// the source has finished (and how).
    struct Seen: Sendable {
        var generation: Int
        var finished: Bool
    }

    var current: Seen { lock.withLock { Seen(generation: generation, finished: finished) } }

    /// The failure the source finished with, if any.
    var sourceFailure: (any Error)? { lock.withLock { failure } }

    /// Waits until something is announced after `seen` (or the source finishes); returns at once
    /// when the task is cancelled.
    func wait(after seen: Int) async -> Seen {
        let id = lock.withLock { () -> Int in
            nextWaiter += 1
            return nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = lock.withLock { () -> Bool in
                    if generation != seen || finished || Task.isCancelled { return true }
                    waiters.append((id, continuation))
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = lock.withLock { () -> CheckedContinuation<Void, Never>? in
                guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return waiters.remove(at: index).continuation
            }
            waiter?.resume()
        }
        return current
    }
}
