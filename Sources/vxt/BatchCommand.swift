import ArgumentParser
import Foundation
import VisualExtraction

struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Exchange work with a batch service: OpenAI Batch JSONL files out, output files in.",
        discussion: """
            For hosted batch APIs (about half the online price) and `vllm run-batch` on a GPU node with no server \
            to keep alive. The stages chain through the files:

              vxt batch export paper --input data/train.json --images data/images --work out/b --out out/b/batches
              vllm run-batch -i out/b/batches/vxt-statements-0001.jsonl -o results-s1.jsonl --model Qwen/Qwen3-VL-8B-Instruct
              vxt batch import --work out/b results-s1.jsonl
              vxt batch export --work out/b --out out/b/batches           # now the extraction requests
              vllm run-batch -i out/b/batches/vxt-extraction-0001.jsonl -o results-e1.jsonl --model …
              vxt batch import --work out/b results-e1.jsonl
              vxt export --work out/b --format llava --out corpus.json

            A request in a batch file is not sent by an online `vxt run` on the same work directory; a re-ask (a \
            statement count that did not fit, a cut answer) becomes a request for the next export or for an online run.
            """,
        subcommands: [BatchExportCommand.self, BatchImportCommand.self]
    )
}

/// A byte count as people write it: 200MB, 1.5GB, 500k, 1048576.
struct ByteCount: ExpressibleByArgument {
    var bytes: Int
    init(bytes: Int) { self.bytes = bytes }
    var defaultValueDescription: String { bytes % 1_000_000 == 0 ? "\(bytes / 1_000_000)MB" : "\(bytes)" }
    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Double)] = [("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("G", 1e9), ("M", 1e6), ("K", 1e3), ("B", 1)]
        var scale = 1.0
        var number = Substring(text)
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            scale = factor
            number = text.dropLast(suffix.count)
            break
        }
        guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value > 0 else { return nil }
        bytes = Int(value * scale)
    }
}

struct BatchExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the requests the stages would send now as OpenAI Batch JSONL files.",
        discussion: """
            Each line is {"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"} with exactly the body \
            an online run would POST (images inline as base64, or file:// paths with image_transport: file). The \
            custom_id names the record and stage and hashes the request, so it is stable across re-exports. Files are \
            cut at --max-requests and --max-bytes and named vxt-<stage>-NNNN.jsonl; their tasks are marked as in a \
            batch. With a pipeline and --input on a new work directory the input is ingested first, as `vxt run` does, \
            after the same preflight: an input layout vxt does not read or an --images folder where none of the first \
            records finds its image stops the export with exit status 3 before anything is ingested or written.
            """
    )

    @Argument(help: "Pipeline file or built-in name (paper, clean); only for a new work directory, with --input.")
    var pipeline: String?

    @Option(help: "Corpus file, to ingest into a new work directory.")
    var input: String?

    @Option(help: "Folder the records' image paths are relative to (default: the input file's folder).")
    var images: String?

    @Flag(help: "For a new work directory: follow symlinks inside --images that lead to other folders.")
    var followSymlinks = false

    @Flag(help: "For a new work directory: skip the checks of the input's first records and of --images.")
    var skipPreflight = false

    @Option(help: "Work directory (holds vxt.sqlite).")
    var work: String

    @Option(help: "Folder to write the batch files into (created if needed).")
    var out: String

    @Option(help: "Only this stage (default: every stage, in pipeline order, that has requests ready).")
    var stage: String?

    @Option(help: "Most requests in one file (OpenAI's limit is 50,000).")
    var maxRequests = 50_000

    @Option(help: ArgumentHelp("Largest file, e.g. 200MB (OpenAI's limit is 200 MB).", valueName: "size"))
    var maxBytes = ByteCount(bytes: 200_000_000)

    @Flag(help: "Write again the requests of earlier batch files that have no result yet (an expired or lost batch).")
    var resubmit = false

    @OptionGroup var logging: LogOptions

    func validate() throws {
        guard maxRequests >= 1 else { throw ValidationError("--max-requests must be at least 1") }
        if (pipeline == nil) != (input == nil) {
            throw ValidationError("give a pipeline and --input together (a new work directory), or neither (an existing one)")
        }
    }

    func run() async throws {
        logging.bootstrap()
        let logger = logging.logger()
        let job: BatchJob
        let lock: WorkDirectoryLock
        if let pipeline, let input {
            try CorpusPath.check(input)
            let loaded = try Pipeline.load(path: pipeline)
            let imagesRoot =
                images ?? ExtractionJob.defaultImagesRoot(forInput: input)
            if !skipPreflight && !FileManager.default.fileExists(atPath: work + "/vxt.sqlite") {
                try ImagePreflight(inputPath: input, imagesRoot: imagesRoot, followSymlinks: followSymlinks)
                    .runForCommand("batch export")
            }
            var extraction = ExtractionJob(
                pipeline: loaded, inputPath: input, imagesRoot: imagesRoot, workDirectory: work, teacherURL: "batch")
            extraction.followSymlinks = followSymlinks
            let opened = try extraction.open(logger: logger)
            if let ingested = opened.ingested {
                Output.info("ingested \(ingested.records) records from \(input), \(ingested.problems) with problems")
            }
            lock = opened.lock
            job = BatchJob(store: opened.store, pipeline: loaded, workDirectory: work, imageRoot: extraction.imageRoot, logger: logger)
        } else {
            (job, lock) = try BatchJob.open(workDirectory: work, logger: logger)
        }
        defer { withExtendedLifetime(lock) {} }
        let names = job.pipeline.stages.map(\.definition.name)
        if let stage, !names.contains(stage) {
            throw ValidationError("no stage \"\(stage)\" in the pipeline; its stages: \(names.joined(separator: ", "))")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let summary = try await job.export(
            stages: stage.map { [$0] } ?? names, to: out,
            limits: BatchJob.Limits(maxRequests: maxRequests, maxBytes: maxBytes.bytes), resubmit: resubmit)
        for file in summary.files {
            Output.info("\(file.path): \(file.requests) \(file.stage) requests, \(file.bytes) bytes")
        }
        if summary.finished > 0 {
            Output.info("\(summary.finished) tasks finished without a new request (answers already imported, or rules)")
        }
        if summary.files.isEmpty {
            Output.info(
                resubmit
                    ? "no batch request is waiting for a result: nothing to resubmit"
                    : "no requests are ready\(stage.map { " for \($0)" } ?? ""): `vxt status --work \(work)` shows what waits for what")
        } else {
            Output.info(
                "\(summary.requests) requests in \(summary.files.count) files; run them (vllm run-batch -i FILE -o RESULTS --model …, "
                    + "or a hosted batch API), then: \(CommandLine.arguments[0]) batch import --work \(work) RESULTS…")
        }
    }
}

struct BatchImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Commit the answers of batch output (and error) files, as an online run would.",
        discussion: """
            Reads lines {"custom_id", "response": {"status_code", "body"}, "error"} (plain, gzip or zstd) and commits \
            each answer with the online run's parsing, statement checks and re-ask rules. Error lines and non-200 \
            responses become failures with their kind (`vxt retry` returns them to work); requests the service never ran \
            (expired, cancelled) stay in their batch for `vxt batch export --resubmit`. Lines whose custom_id this work \
            directory never wrote, and results already imported, are counted and change nothing: importing a file \
            twice is harmless.
            """
    )

    @Option(help: "Work directory the requests were exported from.")
    var work: String

    @Argument(help: "Batch output or error files.")
    var files: [String]

    @OptionGroup var logging: LogOptions

    func run() async throws {
        logging.bootstrap()
        let (job, lock) = try BatchJob.open(workDirectory: work, logger: logging.logger())
        defer { withExtendedLifetime(lock) {} }
        let summary = try await job.importResults(files: files)
        let counts = summary.counts
        Output.info(
            "read \(summary.lines) lines from \(files.count) files: \(counts.stored) new results, \(counts.duplicates) already imported, "
                + "\(counts.unmatched) with a custom_id this work directory never exported, \(summary.unreadable) unreadable, "
                + "\(summary.unrun) never run (expired or cancelled)")
        for example in counts.unmatchedExamples { Output.info("  unmatched custom_id: \(example)") }
        for example in summary.unreadableExamples { Output.info("  unreadable: \(example)") }
        Output.info(
            "committed: \(summary.done) tasks done, \(summary.failed) failed; \(summary.needAnotherRequest) need another request "
                + "(a re-ask): they go in the next `vxt batch export` or an online `vxt run`")
        for (file, tasks) in try job.store.batchesAwaitingResults() {
            Output.info("  still waiting for results: \(tasks) requests of \(file)")
        }
        try job.store.checkpoint()
        if summary.unrun > 0 {
            Output.info(
                "send the requests that never ran again: \(CommandLine.arguments[0]) batch export --work \(work) --out DIR --resubmit")
        }
    }
}
