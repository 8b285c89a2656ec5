/// Commits finished tasks in small batches: whatever arrives within a few milliseconds (or 256
/// results) shares one transaction. A crash loses at most the batch not yet committed; those
/// tasks are still `running` in the store and are simply redone by the next run.
actor ResultWriter {
    let store: JobStore
    let graph: StageGraph
    let maxBatch: Int
    let delayNanoseconds: UInt64
    private var buffer: [TaskResult] = []
    private var flushScheduled = false
    private var failure: (any Error)?

    init(store: JobStore, graph: StageGraph, maxBatch: Int = 256, delayMilliseconds: UInt64 = 5) {
        self.store = store
        self.graph = graph
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

    /// Commits what is buffered; rethrows the first commit error seen.
    func flush() async {
        flushScheduled = false
        guard !buffer.isEmpty else { return }
        let batch = buffer
        buffer.removeAll(keepingCapacity: true)
        do {
            try await store.commit(batch, graph: graph)
        } catch {
            failure = failure ?? error
        }
    }

    func checkFailure() throws {
        if let failure { throw failure }
    }
}
