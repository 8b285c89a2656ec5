/// Reads the input file into the job store, streaming, in batches of one transaction each.
///
/// Every record ends up in the store: usable, skipped (no image, video) or as a problem with
/// its position, byte offset and reason. On resume the records already stored are passed over
/// (the file is still read through, to check its hash).
public struct Ingestor {
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

    public func run(into store: JobStore, stages: [Stage], progress: ((Int, Int64) -> Void)? = nil) throws -> Summary {
        let already = try store.ingestResumePosition()
        let shard = self.shard
        var batch: [JobStore.IngestItem] = []
        batch.reserveCapacity(batchSize)
        var problems = 0
        var seen = 0
        let split = try RecordSplitter(path: inputPath).forEach { event in
            seen += 1
            let item: JobStore.IngestItem
            switch event {
            case let .record(raw):
                guard raw.index >= already, shard?.contains(position: raw.index) ?? true else { return }
                switch LLaVARecordDecoder.decode(raw) {
                case let .success(record):
                    let missing = record.skipReason == nil ? imageProblem(record) : nil
                    item = .record(record, problem: missing.map { "\($0) (record \(record.displayID), line \(raw.line))" })
                    if missing != nil { problems += 1 }
                case let .failure(problem):
                    problems += 1
                    item = .problem(position: problem.position, byteOffset: problem.byteOffset, line: problem.line,
                                    recordID: problem.recordID, reason: problem.description)
                }
                progress?(seen, raw.byteOffset)
            case let .problem(problem):
                guard problem.index >= already, shard?.contains(position: problem.index) ?? true else { return }
                problems += 1
                item = .problem(position: problem.index, byteOffset: problem.byteOffset, line: problem.line, recordID: nil,
                                reason: "record \(problem.index) at line \(problem.line), byte \(problem.byteOffset): \(problem.reason)")
            }
            batch.append(item)
            if batch.count >= batchSize {
                try store.ingest(batch, stages: stages)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { try store.ingest(batch, stages: stages) }
        return Summary(records: split.records + split.problems, problems: problems, layout: split.layout, bytes: split.bytes,
                       sha256: split.sha256)
    }

    /// A record whose image cannot be read is reported now, before any teacher call is spent on it.
    func imageProblem(_ record: CorpusRecord) -> String? {
        for path in record.images {
            do {
                _ = try imageRoot.resolve(path)
            } catch {
                return error.description
            }
        }
        return nil
    }
}
