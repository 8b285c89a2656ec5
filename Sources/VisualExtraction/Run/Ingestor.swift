import Foundation

/// Reads the input file into the job store, streaming, in batches of one transaction each.
///
/// Every record ends up in the store: usable, skipped (no image, video) or as a problem with
/// its position, byte offset and reason. On resume the records already stored are passed over
/// (the file is still read through, to check its hash).
public struct Ingestor: Sendable {
    public let inputPath: String
    public let imageRoot: ImageRoot
    /// Only records of this slice are stored; nil for all.
    public let shard: Shard?
    public var batchSize = 2000

    public init(inputPath: String, imageRoot: ImageRoot, shard: Shard? = nil) {
        self.inputPath = inputPath
        self.imageRoot = imageRoot
        self.shard = shard
    }

    public struct Summary: Sendable {
        public var records: Int
        public var problems: Int
        public var layout: RecordLayout
        public var bytes: Int64
        public var sha256: String
    }

    /// What one committed batch added to the store.
    public struct BatchAdded: Sendable {
        /// Tasks to do (pending or waiting): they can be claimed now.
        public var tasks: Int
        /// Records whose tasks failed as they were stored (an image missing, a record unreadable),
        /// so that a run's progress line counts them as they arrive, not only its final summary.
        public var problems: Int
    }

    /// - Parameter onBatch: called after each committed batch with what it added.
    public func run(
        into store: JobStore, stages: [StageGraph.Node], progress: ((Int, Int64) -> Void)? = nil,
        onBatch: (@Sendable (BatchAdded) -> Void)? = nil
    ) throws -> Summary {
        let already = try store.ingestResumePosition()
        let shard = self.shard
        let root = imageRoot
        // Records are cut (and the file hashed) on this thread, decoded and their images checked on
        // the workers, and written in file order in batches of one transaction.
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let map = OrderedParallelMap<[SplitEvent], [JobStore.IngestItem]>(workers: workers, maxInFlight: 2 * workers) { events in
            events.map { Ingestor.item(for: $0, root: root) }
        }
        // Batches are written on a thread of their own, so that cutting the file and writing the
        // store overlap: either alone keeps a core busy on a mix665k-sized input.
        let writer = BatchWriter(store: store, stages: stages, onBatch: onBatch)
        var pending: [JobStore.IngestItem] = []
        var problems = 0
        let write = { (items: [JobStore.IngestItem]) in
            problems += items.count { $0.isProblem }
            pending.append(contentsOf: items)
            while pending.count >= batchSize {
                try writer.submit(Array(pending.prefix(batchSize)))
                pending.removeFirst(batchSize)
            }
        }
        var seen = 0
        let split: RecordSplitter.Summary
        do {
            split = try RecordSplitter(path: inputPath).forEachBatch(
                map,
                keep: { event in
                    seen += 1
                    switch event {
                    case let .record(raw):
                        if seen % 10_000 == 0 { progress?(seen, raw.byteOffset) }
                        return raw.index >= already && (shard?.contains(position: raw.index) ?? true)
                    case let .problem(problem):
                        return problem.index >= already && (shard?.contains(position: problem.index) ?? true)
                    }
                }, consume: write)
            if !pending.isEmpty { try writer.submit(pending) }
        } catch {
            try? writer.finish()
            throw error
        }
        try writer.finish()
        return Summary(
            records: split.records + split.problems, problems: problems, layout: split.layout, bytes: split.bytes,
            sha256: split.sha256)
    }

    /// Writes batches of records on its own thread, in order, at most two batches behind.
    final class BatchWriter: @unchecked Sendable {
        private let condition = NSCondition()
        private var queue: [[JobStore.IngestItem]] = []
        private var closed = false
        private var done = false
        private var failure: (any Error)?

        init(store: JobStore, stages: [StageGraph.Node], onBatch: (@Sendable (BatchAdded) -> Void)?) {
            let thread = Thread { [self] in
                while true {
                    condition.lock()
                    while queue.isEmpty && !closed { condition.wait() }
                    guard !queue.isEmpty, failure == nil else {
                        done = true
                        condition.broadcast()
                        condition.unlock()
                        return
                    }
                    let batch = queue[0]
                    condition.unlock()
                    do {
                        try store.ingest(batch, stages: stages)
                        // Tasks to do: every stage of a usable record (waiting ones become ready in turn).
                        onBatch?(BatchAdded(tasks: batch.count { $0.isUsable } * stages.count, problems: batch.count { $0.isProblem }))
                    } catch {
                        condition.lock()
                        failure = error
                        condition.unlock()
                    }
                    condition.lock()
                    queue.removeFirst()
                    condition.broadcast()
                    condition.unlock()
                }
            }
            thread.name = "vxt-ingest-writer"
            thread.start()
        }

        /// Queues a batch, waiting while two are queued; throws the writer's failure, if any.
        func submit(_ items: [JobStore.IngestItem]) throws {
            condition.lock()
            defer { condition.unlock() }
            while queue.count >= 2 && failure == nil { condition.wait() }
            if let failure { throw failure }
            queue.append(items)
            condition.broadcast()
        }

        /// Waits until every queued batch is written; throws the writer's failure, if any.
        func finish() throws {
            condition.lock()
            defer { condition.unlock() }
            closed = true
            condition.broadcast()
            while !done { condition.wait() }
            if let failure { throw failure }
        }
    }

    static func item(for event: SplitEvent, root: ImageRoot) -> JobStore.IngestItem {
        switch event {
        case let .record(raw):
            switch LLaVARecordDecoder.decode(raw) {
            case let .success(record):
                let row = JobStore.RecordRow(record)
                guard record.skipReason == nil, let missing = imageProblem(record, root: root) else {
                    return .row(row, problem: nil, kind: .inputInvalid)
                }
                return .row(row, problem: "\(missing) (record \(record.displayID), line \(raw.line))", kind: missing.failureKind)
            case let .failure(problem):
                return .problem(
                    position: problem.position, byteOffset: problem.byteOffset, line: problem.line,
                    recordID: problem.recordID, reason: problem.description)
            }
        case let .problem(problem):
            return .problem(
                position: problem.index, byteOffset: problem.byteOffset, line: problem.line, recordID: nil,
                reason: "record \(problem.index) at line \(problem.line), byte \(problem.byteOffset): \(problem.reason)")
        }
    }

    /// A record whose image cannot be read is reported now, before any teacher call is spent on it.
    static func imageProblem(_ record: CorpusRecord, root: ImageRoot) -> ImageError? {
        for path in record.images {
            do {
                _ = try root.resolve(path)
            } catch {
                return error
            }
        }
        return nil
    }
}
