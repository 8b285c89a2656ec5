/// Commits finished tasks in small batches: whatever arrives within a few milliseconds (or 256
/// results) shares one transaction. A crash loses at most the batch not yet committed; those
/// tasks are still `running` in the store and are simply redone by the next run.
actor ResultWriter {
    /// Commits one batch in one transaction (`JobStore.commit`; a test's own in its tests).
    let commit: @Sendable ([TaskResult]) async throws -> Void
    let maxBatch: Int
    let delayNanoseconds: UInt64
    private var buffer: [TaskResult] = []
    private var flushScheduled = false
    private var failure: (any Error)?
    /// The most recent commit; each waits for the one before it.
    private var lastCommit: Task<Void, Never>?

    init(store: JobStore, graph: StageGraph, maxBatch: Int = 256, delayMilliseconds: UInt64 = 5) {
        self.init(maxBatch: maxBatch, delayMilliseconds: delayMilliseconds) { try await store.commit($0, graph: graph) }
    }

    init(maxBatch: Int = 256, delayMilliseconds: UInt64 = 5, commit: @escaping @Sendable ([TaskResult]) async throws -> Void) {
        self.commit = commit
        self.maxBatch = maxBatch
        delayNanoseconds = delayMilliseconds * 1_000_000
    }

    func add(_ result: TaskResult) async {
        buffer.append(result)
        if buffer.count >= maxBatch {
            await flush()
        } else if !flushScheduled {
            flushScheduled = true
            Task {
                try? await Task.sleep(nanoseconds: delayNanoseconds)
                await self.flush()
            }
        }
    }

    /// Commits what is buffered and returns once every commit started so far has landed.
    ///
    /// An actor is reentrant: while one flush waits for its transaction, another may run. Had it
    /// returned at once on an empty buffer, the runner would have looked for ready tasks before
    /// the first flush's results (and the dependents they make pending) were committed, and ended
    /// the run with work left pending. That happened when answers came back at once (a response
    /// cache replaying a run) on a busy machine: extraction tasks stayed pending after a run that
    /// exited 0. So commits are chained, in order, and every flush awaits the last of them.
    func flush() async {
        flushScheduled = false
        if !buffer.isEmpty {
            let batch = buffer
            buffer.removeAll(keepingCapacity: true)
            let previous = lastCommit
            let commit = commit
            lastCommit = Task {
                await previous?.value
                do {
                    try await commit(batch)
                } catch {
                    self.record(error)
                }
            }
        }
        await lastCommit?.value
    }

    private func record(_ error: any Error) {
        failure = failure ?? error
    }

    func checkFailure() throws {
        if let failure { throw failure }
    }
}
