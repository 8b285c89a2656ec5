import Foundation
public import Logging

/// Batch files both ways: requests written as OpenAI Batch JSONL for a hosted batch API or
/// `vllm run-batch`, and their output files committed as an online run would commit the answers.
///
/// Both directions replay a task's stage executor, the same code an online run uses, with a
/// teacher that answers from imported batch results. The first request it has no answer for is
/// the one the task needs next: an export writes it to a file (the task becomes `batched`); an
/// import hands the task back to pending for the next export (a re-ask, a per-pair follow-up).
/// So parsing, statement checks and re-ask rules are the online ones by construction.
public struct BatchJob: Sendable {
    public let store: JobStore
    public let pipeline: Pipeline
    public let preparer: ImagePreparer
    public let imageFiles: PreparedImageFiles?
    /// Tasks replayed at once (image preparation is the CPU work).
    public var parallelism = max(2, ProcessInfo.processInfo.activeProcessorCount)
    let logger: Logger

    public init(
        store: JobStore, pipeline: Pipeline, preparer: ImagePreparer, imageFiles: PreparedImageFiles? = nil, logger: Logger = .disabled
    ) {
        self.store = store
        self.pipeline = pipeline
        self.preparer = preparer
        self.imageFiles = imageFiles
        self.logger = logger
    }

    /// Where a batch file is cut.
    public struct Limits: Sendable {
        public var maxRequests: Int
        public var maxBytes: Int
        public init(maxRequests: Int = 50_000, maxBytes: Int = 200_000_000) {
            self.maxRequests = maxRequests
            self.maxBytes = maxBytes
        }
    }

    public struct WrittenFile: Sendable, Equatable {
        public var path: String
        public var stage: String
        public var requests: Int
        public var bytes: Int
    }

    public struct ExportSummary: Sendable {
        public var files: [WrittenFile] = []
        /// Tasks finished while replaying, without a new request: every answer they need was
        /// imported already, or no call is needed (statements all written by rule).
        public var finished = 0
        public var requests: Int { files.reduce(0) { $0 + $1.requests } }
    }

    public struct ImportSummary: Sendable {
        /// Lines read from the files, and lines that were not a result (not JSON, no custom_id).
        public var lines = 0
        public var unreadable = 0
        public var unreadableExamples: [String] = []
        public var counts = BatchImportCounts()
        /// Requests the service never ran (expired, cancelled): `--resubmit` sends them again.
        public var unrun = 0
        public var done = 0
        public var failed = 0
        /// Tasks that need a request no batch holds yet (a re-ask): work for the next export.
        public var needAnotherRequest = 0
    }

    /// The custom_id of a request: its record and stage, and a hash of what makes the request
    /// (model, limits, prompt, each image's source hash; the image settings are the pipeline's),
    /// so that it is stable across re-exports, a re-ask (another prompt or limit) gets its own, and
    /// an import can name it without resizing the image again.
    static func customID(_ task: ClaimedTask, _ request: ChatRequest) -> String {
        var identity = [request.model, String(request.maxTokens), request.temperature.map { "\($0)" } ?? "-", request.prompt]
        identity += request.images.map(\.sourceSHA256)
        // Only when there are any: the ids of requests without extra fields stay as they were.
        if !request.extraBody.isEmpty { identity.append(JSONValue.object(request.extraBody).jsonText) }
        return "\(task.recordKey)|\(task.stage)|" + ContentHasher.sha256(identity.joined(separator: "\u{0}")).prefix(16)
    }

    /// A task's replay: what it finished as, or the first request no imported result answers.
    struct Replay: Sendable {
        var task: ClaimedTask
        var result: TaskResult
        var needed: Needed.Request?
        /// The custom_id of the replay's first request, whose exported form an import stores.
        var first: String?
    }

    /// The requests of one replay: the first one sent, and the first without an answer (later
    /// ones cannot happen, a stage sends in sequence, but only the first counts).
    final class Needed: @unchecked Sendable {
        struct Request: Sendable {
            var customID: String
            var body: [UInt8]
            /// The request as the store keeps it (images as placeholders).
            var logged: String
        }
        private let lock = NSLock()
        private var value: Request?
        private var firstID: String?
        func sent(_ customID: String) {
            lock.lock()
            defer { lock.unlock() }
            if firstID == nil { firstID = customID }
        }
        func set(_ customID: String, _ request: ChatRequest) {
            lock.lock()
            defer { lock.unlock() }
            if value == nil { value = Request(customID: customID, body: request.body(), logged: request.loggedBody()) }
        }
        var current: Request? { lock.lock(); defer { lock.unlock() }; return value }
        var first: String? { lock.lock(); defer { lock.unlock() }; return firstID }
    }

    /// Replays claimed tasks, `parallelism` at a time, and returns them in claim order. An export
    /// prepares images as a run would (they go into the request); an import only identifies them.
    func replay(_ tasks: [ClaimedTask], exporting: Bool) async -> [Replay] {
        let store = store, pipeline = pipeline, logger = logger
        let preparer = preparer
        let identify: @Sendable (String) throws(ImageError) -> PreparedImage = { path throws(ImageError) in
            try preparer.identify(path)
        }
        let prepareImage = exporting ? Runner.imagePreparation(preparer: preparer, imageFiles: imageFiles) : identify
        var replays: [Int: Replay] = [:]
        await withTaskGroup(of: (Int, Replay).self) { group in
            var next = 0
            func add() {
                let index = next, task = tasks[index]
                next += 1
                group.addTask {
                    let needed = Needed()
                    let result = await Runner.perform(task, pipeline: pipeline, logger: logger, prepareImage: prepareImage) { request in
                        let id = BatchJob.customID(task, request)
                        needed.sent(id)
                        // An export sends again what failed before (a retried task); an import
                        // replays the failure.
                        if let stored = try? store.batchResult(customID: id), stored.succeeded || !exporting {
                            return BatchFormat.answer(stored)
                        }
                        needed.set(id, request)
                        return .failure(TeacherFailure(message: "waiting for a batch result", status: nil, attempts: 0))
                    }
                    return (index, Replay(task: task, result: result, needed: needed.current, first: needed.first))
                }
            }
            while next < min(parallelism, tasks.count) { add() }
            while let (index, replay) = await group.next() {
                replays[index] = replay
                if next < tasks.count { add() }
            }
        }
        return (0..<tasks.count).compactMap { replays[$0] }
    }

    /// Writes the requests `stages` would send now into Batch JSONL files in `directory`, cut at
    /// `limits`, and marks their tasks `batched`. With `resubmit`, the tasks of earlier files that
    /// have no result yet are written again (same custom_ids) instead of pending ones.
    public func export(stages: [String], to directory: String, limits: Limits, resubmit: Bool) async throws -> ExportSummary {
        var summary = ExportSummary()
        var taken = try store.batchFileNames()
        let graph = StageGraph(pipeline.definition)
        for stageName in stages {
            guard let node = graph.stages.first(where: { $0.name == stageName }) else { continue }
            var file: (output: OutputFile, name: String, requests: [BatchRequestRow], bytes: Int)?
            func close() async throws {
                guard let open = file else { return }
                try open.output.commit()
                try await store.markBatched(open.requests, file: open.name)
                summary.files.append(
                    WrittenFile(
                        path: (directory as NSString).appendingPathComponent(open.name), stage: stageName, requests: open.requests.count,
                        bytes: open.bytes))
                file = nil
            }
            while true {
                let claimed = try await store.claim(stage: node, limit: 256, from: resubmit ? .batchUnanswered : .pending)
                if claimed.isEmpty { break }
                let replays = await replay(claimed, exporting: true)
                var finished: [TaskResult] = []
                for replay in replays {
                    guard let needed = replay.needed else {
                        finished.append(replay.result)
                        continue
                    }
                    let line = BatchFormat.requestLine(customID: needed.customID, body: needed.body)
                    if let open = file, open.requests.count >= limits.maxRequests || open.bytes + line.count > limits.maxBytes {
                        try await close()
                    }
                    if file == nil {
                        var index = 1
                        var name: String { "vxt-\(stageName)-\(String(format: "%04d", index)).jsonl" }
                        let fm = FileManager.default
                        while taken.contains(name) || fm.fileExists(atPath: (directory as NSString).appendingPathComponent(name)) {
                            index += 1
                        }
                        taken.insert(name)
                        file = (try OutputFile(path: (directory as NSString).appendingPathComponent(name)), name, [], 0)
                    }
                    try file?.output.write(line)
                    file?.requests.append(BatchRequestRow(taskID: replay.task.taskID, customID: needed.customID, logged: needed.logged))
                    file?.bytes += line.count
                }
                if !finished.isEmpty {
                    try await store.commit(finished, graph: graph)
                    summary.finished += finished.count
                }
            }
            try await close()
        }
        return summary
    }

    /// Reads output and error files and commits what they answer, as an online run would.
    public func importResults(files: [String]) async throws -> ImportSummary {
        var summary = ImportSummary()
        for path in files {
            var results: [BatchResult] = []
            var unread: [String] = []
            _ = try RecordSplitter(path: path).forEach { event in
                summary.lines += 1
                switch event {
                case let .problem(problem):
                    unread.append("\(path):\(problem.line): \(problem.reason)")
                case let .record(raw):
                    do {
                        let result = try BatchFormat.result(fromLine: try JSONParser.parse(raw.bytes))
                        if BatchFormat.isUnrun(result) { summary.unrun += 1 } else { results.append(result) }
                    } catch {
                        unread.append("\(path):\(raw.line): \(error)")
                    }
                }
            }
            summary.unreadable += unread.count
            summary.unreadableExamples += unread.prefix(max(0, 3 - summary.unreadableExamples.count))
            // Stored in chunks of a few thousand: an output file holds up to 50,000 answers of ~2 KB.
            var start = 0
            while start < results.count {
                let chunk = Array(results[start..<min(start + 2000, results.count)])
                start += chunk.count
                let counts = try await store.importBatchResults(chunk, file: (path as NSString).lastPathComponent)
                summary.counts.stored += counts.stored
                summary.counts.duplicates += counts.duplicates
                summary.counts.unmatched += counts.unmatched
                summary.counts.unmatchedExamples += counts.unmatchedExamples.prefix(max(0, 3 - summary.counts.unmatchedExamples.count))
            }
        }
        let graph = StageGraph(pipeline.definition)
        for node in graph.stages {
            while true {
                let claimed = try await store.claim(stage: node, limit: 256, from: .batchAnswered)
                if claimed.isEmpty { break }
                let replays = await replay(claimed, exporting: false)
                var finished: [TaskResult] = []
                var back: [Int64] = []
                for replay in replays {
                    if replay.needed != nil {
                        back.append(replay.task.taskID)
                        continue
                    }
                    // The request as exported (with its image's real placeholder), not as replayed.
                    var result = replay.result
                    if let first = replay.first, let logged = try store.batchRequestLogged(customID: first) { result.request = logged }
                    finished.append(result)
                    if case .done = result.outcome { summary.done += 1 } else { summary.failed += 1 }
                }
                try await store.commit(finished, graph: graph)
                try await store.returnToPending(back)
                summary.needAnotherRequest += back.count
            }
        }
        return summary
    }
}

extension BatchJob {
    /// A batch job on an existing work directory, holding its lock (no `vxt run` beside it), with
    /// work a dead process left running handed back first.
    public static func open(workDirectory: String, logger: Logger = .disabled) throws -> (job: BatchJob, lock: WorkDirectoryLock) {
        guard FileManager.default.fileExists(atPath: (workDirectory as NSString).appendingPathComponent(JobStore.fileName)) else {
            throw JobStore.StoreError.noStore(workDirectory: workDirectory)
        }
        let lock = try WorkDirectoryLock(workDirectory: workDirectory)
        let store = try JobStore.open(workDirectory: workDirectory, readOnly: false)
        try store.releaseAbandoned()
        guard let configuration = try store.configuration() else { throw JobStore.StoreError.noStore(workDirectory: workDirectory) }
        let pipeline = try Pipeline(definition: try store.storedPipeline(), path: "the pipeline stored in \(workDirectory)")
        return (
            BatchJob(store: store, pipeline: pipeline, workDirectory: workDirectory, imageRoot: configuration.imageRoot, logger: logger),
            lock
        )
    }

    /// The images as an online run of this work directory would send them.
    public init(store: JobStore, pipeline: Pipeline, workDirectory: String, imageRoot: ImageRoot, logger: Logger = .disabled) {
        let teacher = pipeline.definition.teacher
        self.init(
            store: store, pipeline: pipeline,
            preparer: ImagePreparer(root: imageRoot, settings: pipeline.definition.image),
            imageFiles: teacher.imageTransport == .file
                ? PreparedImageFiles(
                    directory: teacher.imageDirectory ?? (workDirectory as NSString).appendingPathComponent("prepared-images"))
                : nil,
            logger: logger)
    }
}
