import Foundation
public import Logging

/// Opens (or creates) a work directory for a pipeline and an input, refuses a mismatched
/// resume, ingests what is not ingested yet, and returns abandoned work to pending.
public struct ExtractionJob {
    public let pipeline: Pipeline
    public let inputPath: String
    public let imagesRoot: String
    public let workDirectory: String
    public let teacherURL: String
    public let shard: Shard?
    /// Why a changed pipeline or input is accepted under an existing work directory; nil refuses.
    public let allowChanged: String?
    /// Follow image symlinks that lead out of `imagesRoot` (`--follow-symlinks`).
    public var followSymlinks = false

    public init(
        pipeline: Pipeline, inputPath: String, imagesRoot: String, workDirectory: String, teacherURL: String,
        shard: Shard? = nil, allowChanged: String? = nil
    ) {
        self.pipeline = pipeline
        self.inputPath = inputPath
        self.imagesRoot = imagesRoot
        self.workDirectory = workDirectory
        self.teacherURL = teacherURL
        self.shard = shard
        self.allowChanged = allowChanged
    }

    /// The images folder as this run reads it.
    public var imageRoot: ImageRoot { ImageRoot(path: imagesRoot, followSymlinks: followSymlinks) }

    /// The store file of a run in a work directory: `vxt.sqlite`, or `shard-0003-of-0016.sqlite`.
    public static func storePath(workDirectory: String, shard: Shard?) -> String {
        (workDirectory as NSString).appendingPathComponent((shard?.fileStem ?? "vxt") + ".sqlite")
    }

    public struct Mismatch: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public struct Opened {
        public let store: JobStore
        public let lock: WorkDirectoryLock
        public let configuration: RunConfiguration
        /// Tasks a dead process left `running`, now pending again.
        public let released: Int
        public let ingested: Ingestor.Summary?
        /// The ingest still to do when `open(ingestLater: true)` left it to the caller, to run
        /// beside the teacher calls; nil when the input is already in the store.
        public let pendingIngest: PendingIngest?
        /// The `--images` folder the run had before, when this open changed it.
        public let previousImagesRoot: String?
        /// Records whose images were missing, looked for again under a changed `--images`.
        public let imageRecheck: ImageRecheck.Outcome?
    }

    /// The part of ingest that may run while a run is under way: reading the input into the store
    /// batch by batch (each batch's tasks claimable once committed), then marking ingest complete
    /// with the input's full hash and counts.
    public struct PendingIngest: Sendable {
        var ingestor: Ingestor
        let store: JobStore
        let stages: [StageGraph.Node]
        let configuration: RunConfiguration

        /// Records per committed batch (each batch's tasks become claimable together).
        public var batchSize: Int {
            get { ingestor.batchSize }
            set { ingestor.batchSize = max(1, newValue) }
        }

        /// Ingests the rest of the input; `onBatch` is called after each committed batch with what
        /// it added (tasks to do, records with problems).
        public func run(progress: ((Int, Int64) -> Void)? = nil, onBatch: (@Sendable (Ingestor.BatchAdded) -> Void)? = nil) throws
            -> Ingestor.Summary
        {
            let summary = try ingestor.run(into: store, stages: stages, progress: progress, onBatch: onBatch)
            var configuration = try store.configuration() ?? configuration
            configuration.ingestComplete = true
            configuration.inputSHA256 = summary.sha256
            let status = try store.status()
            configuration.recordCount = status.records
            configuration.problemCount = status.inputProblems
            try store.saveConfiguration(configuration)
            try store.useRunCacheSize()
            return summary
        }

        /// Runs the ingest on a thread of its own (it is synchronous and spreads record decoding
        /// over worker threads of its own), announcing each committed batch to `arrivals`, then
        /// telling `onBatch` what it added, and finishing `arrivals` with the ingest's failure, if any.
        public func start(
            announcingTo arrivals: WorkArrivals, onBatch: @escaping @Sendable (Ingestor.BatchAdded) -> Void,
            onFinish: @escaping @Sendable (Ingestor.Summary) -> Void
        ) {
            let thread = Thread {
                do {
                    let summary = try run(onBatch: { added in
                        arrivals.announce()
                        onBatch(added)
                    })
                    onFinish(summary)
                    arrivals.finish()
                } catch {
                    arrivals.finish(failure: error)
                }
            }
            thread.name = "vxt-ingest"
            thread.start()
        }
    }

    /// - Parameter ingestLater: leave the ingest to the caller (`Opened.pendingIngest`), so that
    ///   teacher calls start on the first committed batch instead of after the whole file.
    public func open(logger: Logger = .disabled, ingestProgress: ((Int, Int64) -> Void)? = nil, ingestLater: Bool = false) throws
        -> Opened
    {
        let fm = FileManager.default
        try fm.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        let lock = try WorkDirectoryLock(workDirectory: workDirectory, stem: shard?.fileStem ?? "vxt")
        let store = try JobStore(path: ExtractionJob.storePath(workDirectory: workDirectory, shard: shard))
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try fm.attributesOfItem(atPath: inputPath)
        } catch {
            throw Mismatch(message: "cannot read input \(inputPath): it does not exist or is not readable")
        }
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let absoluteInput = ExtractionJob.absolute(inputPath)
        let absoluteImages = ExtractionJob.absolute(imagesRoot)
        let pipelineJSON = String(decoding: (try? JSONEncoder().encode(pipeline.definition)) ?? Data(), as: UTF8.self)

        var configuration: RunConfiguration
        var acceptedInputHash: String?
        var previousImagesRoot: String?
        // Only a regular file can be read twice (a pipe's bytes would be gone before ingest).
        let probe = attributes[.type] as? FileAttributeType == .typeRegular ? try ExtractionJob.probe(inputPath, size: size) : nil
        if let existing = try store.configuration() {
            if existing.imagesRoot != absoluteImages { previousImagesRoot = existing.imagesRoot }
            if !existing.ingestComplete, let known = existing.inputProbe, let probe, known != probe {
                // Part of the earlier file is stored and there is no full hash to accept a change
                // against: continuing would store the new file's records after the old one's.
                throw Mismatch(
                    message: """
                        \(inputPath) is not the file \(workDirectory) began to ingest (\(existing.inputPath)); the store holds part \
                        of that file. Restore it to finish, or use a new --work directory for this one.
                        """)
            }
            if existing.shard != shard {
                throw Mismatch(
                    message:
                        "this store holds shard \(existing.shard?.description ?? "none"), not \(shard?.description ?? "the whole input")")
            }
            if existing.pipelineHash != pipeline.hash {
                if let reason = allowChanged {
                    logger.notice(
                        "accepting a changed pipeline", metadata: ["work.directory": "\(workDirectory)", "change.reason": "\(reason)"])
                    try store.recordChange(what: "pipeline", before: existing.pipelineHash, after: pipeline.hash, reason: reason)
                } else {
                    throw Mismatch(
                        message: """
                            \(workDirectory) was started with a different pipeline (\(existing.pipelineName), hash \(existing.pipelineHash.prefix(12))); \
                            \(pipeline.path) now hashes to \(pipeline.hash.prefix(12)). Outputs of two pipelines must not mix: \
                            use a new --work directory, restore the pipeline file (and --model) it was started with, or accept \
                            the change with --allow-changed "<why>" (recorded in the store).
                            """)
                }
            }
            if existing.inputSize != size || existing.inputModified != modified || existing.inputPath != absoluteInput {
                if let known = existing.inputSHA256 {
                    logger.notice("input changed on disk or moved; checking its content hash", metadata: ["input.path": "\(inputPath)"])
                    let hash = try ExtractionJob.hashFile(inputPath)
                    if hash != known {
                        if let reason = allowChanged {
                            try store.recordChange(what: "input", before: known, after: hash, reason: reason)
                            acceptedInputHash = hash
                        } else {
                            throw Mismatch(
                                message: """
                                    \(inputPath) is not the input \(workDirectory) was started with (\(existing.inputPath), sha256 \(known.prefix(12)); \
                                    now \(hash.prefix(12))). Use a new --work directory for a new input, or --allow-changed "<why>".
                                    """)
                        }
                    }
                }
            }
            configuration = existing
            configuration.pipelineHash = pipeline.hash
            configuration.pipelineJSON = pipelineJSON
            if let rehash = acceptedInputHash { configuration.inputSHA256 = rehash }
            configuration.inputProbe = probe
            configuration.inputPath = absoluteInput
            configuration.inputSize = size
            configuration.inputModified = modified
            // Following symlinks finds images that were refused before: look for them again.
            if configuration.followSymlinks != followSymlinks && previousImagesRoot == nil { previousImagesRoot = existing.imagesRoot }
            configuration.imagesRoot = absoluteImages
            configuration.followSymlinks = followSymlinks
            configuration.teacherURL = teacherURL
            configuration.teacherModel = pipeline.definition.teacher.model
        } else {
            configuration = RunConfiguration(
                pipelineName: pipeline.definition.name, pipelineHash: pipeline.hash, pipelineJSON: pipelineJSON,
                inputPath: absoluteInput, inputSize: size, inputModified: modified, inputSHA256: nil, imagesRoot: absoluteImages,
                teacherURL: teacherURL, teacherModel: pipeline.definition.teacher.model, vxtVersion: VXTVersion.current,
                createdAt: Date().timeIntervalSince1970, shard: shard, inputProbe: probe)
            configuration.followSymlinks = followSymlinks
        }
        try store.saveConfiguration(configuration)

        var ingested: Ingestor.Summary?
        var pendingIngest: PendingIngest?
        if !configuration.ingestComplete {
            let pending = PendingIngest(
                ingestor: Ingestor(inputPath: inputPath, imageRoot: imageRoot, shard: shard), store: store,
                stages: pipeline.graph.stages, configuration: configuration)
            if ingestLater {
                pendingIngest = pending
            } else {
                ingested = try pending.run(progress: ingestProgress)
                configuration = try store.configuration() ?? configuration
            }
        } else {
            // A resumed run has no ingest to end: the writer's page cache is the run's at once.
            try store.useRunCacheSize()
        }
        var recheck: ImageRecheck.Outcome?
        if let previous = previousImagesRoot {
            logger.notice(
                "--images changed: looking again for the images that were missing",
                metadata: ["images.before": "\(previous)", "images.after": "\(absoluteImages)"])
            recheck = try ImageRecheck(store: store, root: imageRoot, stages: pipeline.graph.stages).run()
        }
        let released = try store.releaseAbandoned()
        return Opened(
            store: store, lock: lock, configuration: configuration, released: released, ingested: ingested,
            pendingIngest: pendingIngest, previousImagesRoot: previousImagesRoot, imageRecheck: recheck)
    }

    /// The `--images` folder when none is given: the input file's folder, as LLaVA's layout has it.
    public static func defaultImagesRoot(forInput input: String) -> String {
        let folder = (input as NSString).deletingLastPathComponent
        return folder.isEmpty ? "." : folder
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return (path as NSString).standardizingPath }
        return ((FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path) as NSString).standardizingPath
    }

    /// SHA-256 of the size, the first MiB and the last MiB: cheap at any size, and different for
    /// a replaced file in practice (a full hash needs the whole read, at the end of ingest).
    static func probe(_ path: String, size: Int64) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Mismatch(message: "cannot read input \(path)") }
        defer { try? handle.close() }
        var hasher = ContentHasher()
        withUnsafeBytes(of: size.littleEndian) { hasher.update($0) }
        let window = 1 << 20
        if let head = try handle.read(upToCount: window) { head.withUnsafeBytes { hasher.update($0) } }
        if size > Int64(window) {
            try handle.seek(toOffset: UInt64(size - Int64(window)))
            if let tail = try handle.read(upToCount: window) { tail.withUnsafeBytes { hasher.update($0) } }
        }
        return hasher.finalize()
    }

    static func hashFile(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw Mismatch(message: "cannot read input \(path)")
        }
        defer { try? handle.close() }
        var hasher = ContentHasher()
        while let chunk = try handle.read(upToCount: 1 << 22), !chunk.isEmpty {
            chunk.withUnsafeBytes { hasher.update($0) }
        }
        return hasher.finalize()
    }
}
