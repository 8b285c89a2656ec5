import ArgumentParser
import Dispatch
import Foundation
import Glibc
import MockTeacher
import VisualExtraction

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline over a corpus, resumably.",
        discussion: """
            Ingests the input into <work>/vxt.sqlite (once), then runs every stage of the pipeline for every record \
            with an image, committing each result as it arrives. Run the same command again after a crash, Ctrl-C or \
            kill -9: finished work is kept and never redone, abandoned work is picked up again.

            Records without an image are counted as skipped; records that cannot be used (bad JSON, no conversations, \
            a missing image file) are counted as failed with their kind and reason. Neither stops the run: see \
            `vxt status`. A rerun with another --images looks again for the images that were missing.

            Before anything is ingested or sent, a preflight checks that the first records are ones vxt can read, \
            that --images exists and that the first records' images resolve under it, and asks each teacher server for its models (GET /v1/models); a server (or cmd: \
            process) that will describe images is shown two plain colours to name, so that one that drops images (and would let the model \
            describe from the statements alone) is caught. A wrong folder, a server that is not there, a model it does \
            not serve, a server that does not see or an input layout vxt does not read stop the run at once (exit \
            status 3). A teacher that \
            stops answering mid-run (every attempt failing on transport for --give-up-after seconds) stops it too.

            SIGINT and SIGTERM stop at once: results that have landed are kept, requests in flight go back to pending \
            for the next run; exit status 130 (SIGINT) or 143 (SIGTERM).

            Exit status: 0 every record is done (or skipped for want of an image); 2 the run finished but some \
            records failed and are not in the corpus (`vxt status` lists them by kind, `vxt retry` returns them to \
            work); 3 a preflight failed or the teacher stopped answering; 1 a configuration error before any work \
            (pipeline, input file, API key); 64 a usage error in the command line; 130/143 interrupted.
            """
    )

    @Argument(help: "Pipeline file (e.g. pipelines/paper.yaml), or a built-in pipeline by name: paper, clean.")
    var pipeline: String

    @Option(help: "Corpus file: a LLaVA JSON array or JSONL, optionally gzip- or zstd-compressed.")
    var input: String

    @Option(help: "Folder the records' image paths are relative to (default: the input file's folder).")
    var images: String?

    @Option(help: "Work directory: holds the job store (vxt.sqlite); reuse it to resume.")
    var work: String

    @Option(
        help: ArgumentHelp(
            "Teacher base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1; give it once per server to spread requests over a fleet (or list teacher.endpoints in the pipeline file). Or cmd:'<command>': a local process that reads request lines on stdin and writes answer lines on stdout (see the README). Without any, the built-in mock teacher answers.",
            valueName: "url|cmd:..."))
    var teacher: [String] = []

    @Option(
        help: ArgumentHelp(
            "A teacher for one stage, e.g. statements=http://127.0.0.1:8001/v1 (a cheap text model for statements, the VLM for descriptions); repeatable; overrides the stage's teacher.endpoints in the pipeline. Its model: the stage's teacher.model, else --model/teacher.model.",
            valueName: "stage=url|stage=cmd:..."))
    var stageTeacher: [String] = []

    @Option(help: "Model name to request (default: the pipeline's teacher.model).")
    var model: String?

    @Option(help: "Environment variable that holds the API key, sent as a Bearer token; never logged or stored.")
    var apiKeyEnv = "OPENAI_API_KEY"

    @Option(help: "Requests in flight at once, over all endpoints.")
    var concurrency = 16

    @Option(help: "Most requests in flight on one endpoint (default: --concurrency); the adaptive limit stays below it.")
    var endpointConcurrency: Int?

    @Option(help: "Seconds one request may take before it is abandoned and retried (default: teacher.timeout_seconds, else 600).")
    var timeout: Double?

    @Option(help: "Requests per minute per endpoint (hosted APIs).")
    var rpm: Double?

    @Option(help: "Tokens per minute per endpoint, counted as providers do: prompt + images + max_tokens.")
    var tpm: Double?

    @Option(help: "Mock teacher only: delay each answer by this many milliseconds.")
    var mockLatencyMs = 0

    @Option(
        help: "Mock teacher only: answer statement prompts with too few lines (short-once, short-always), to rehearse the count checks.")
    var mockStatementFault: MockResponder.StatementFault?

    @Option(help: "Mock teacher only: share of requests that meet a fault (see --mock-faults), seeded and reproducible.")
    var mockFailRate: Double = 0

    @Option(help: "Mock teacher only: which faults, comma-separated.")
    var mockFaults = MockFaultKinds.all

    @Option(help: "Seconds between progress lines on stderr.")
    var progressInterval: Double = 5

    @Option(
        help: ArgumentHelp(
            "Run only slice i of n (0-based), into <work>/shard-000i-of-000n.sqlite; read from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX + VXT_SHARD_COUNT when absent.",
            valueName: "i/n"))
    var shard: Shard?

    @Option(
        help: ArgumentHelp(
            "Accept a changed pipeline (or --model) or input under an existing work directory; the reason is recorded in the store.",
            valueName: "why"))
    var allowChanged: String?

    @Option(
        help:
            "Directory of the response cache (responses.sqlite), shared across work directories; keep it on local disk. Answers are keyed by the teacher too: a mock rehearsal's answers are never served to a real run."
    )
    var cache: String?

    @Option(
        help: ArgumentHelp(
            "Stop the run when no teacher attempt has been answered for this long and every attempt failed on transport (connection refused, timeout).",
            valueName: "seconds"))
    var giveUpAfter: Double = 300

    @Option(
        help: ArgumentHelp(
            "Stop the run (exit status 3) when this many tasks of a stage have failed, with none of it done, for a reason retrying will not fix: an HTTP 4xx such as a context shorter than the stage's max_tokens, answers vxt cannot use. 0: never.",
            valueName: "n"))
    var stopAfterFirstFailures = 200

    @Option(
        help: ArgumentHelp(
            "PEM file of certificates to trust for https:// teachers instead of the system's (a private CA, a self-signed server); certificates are always verified.",
            valueName: "pem"))
    var caFile: String?

    @Option(
        help: ArgumentHelp(
            "Serve Prometheus metrics at http://127.0.0.1:<port>/metrics while the run goes on (0 picks a free port; each shard its own).",
            valueName: "port"))
    var metricsPort: Int?

    @Flag(
        help:
            "Follow symlinks inside --images that lead to other folders (coco/, gqa/… linked from a shared disk); without it they are refused."
    )
    var followSymlinks = false

    @Flag(
        help:
            "Skip the checks of the input's first records, of --images, of the teacher's /models and of its sight before the run (for servers that misbehave on GET /models)."
    )
    var skipPreflight = false

    @OptionGroup var logging: LogOptions

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        if let problem = TeacherSetup.problem(with: teacher) { throw ValidationError(problem) }
        _ = try stageTeacherURLs()
        guard (0...1).contains(mockFailRate) else { throw ValidationError("--mock-fail-rate is a share between 0 and 1") }
        if let timeout, !(timeout >= 0.001) {
            throw ValidationError("--timeout is a number of seconds greater than 0 (got \(timeout))")
        }
        if let metricsPort, !(0...65535).contains(metricsPort) { throw ValidationError("--metrics-port is a TCP port, 0 to 65535") }
        guard giveUpAfter > 0 else { throw ValidationError("--give-up-after is a number of seconds greater than 0") }
        guard stopAfterFirstFailures >= 0 else { throw ValidationError("--stop-after-first-failures is a count, 0 or more") }
    }

    /// `--stage-teacher stage=url` values, grouped by stage.
    func stageTeacherURLs() throws -> [String: [String]] {
        var byStage: [String: [String]] = [:]
        for item in stageTeacher {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ValidationError("--stage-teacher takes stage=url, e.g. statements=http://127.0.0.1:8001/v1 (got \(item))")
            }
            if let problem = TeacherSetup.problem(with: [parts[1]]) { throw ValidationError(problem) }
            byStage[parts[0], default: []].append(parts[1])
        }
        return byStage
    }

    func run() async throws {
        logging.bootstrap()
        let logger = logging.logger()
        // First thing: a SIGTERM during the preflight or a long ingest must stop the run too (an
        // inherited "ignore" would otherwise swallow it until the watcher exists).
        let stopTarget = StopTarget()
        let signals = SignalWatcher { count, signal in
            let status: Int32 = signal == SIGTERM ? 143 : 130
            let name = signal == SIGTERM ? "SIGTERM" : "SIGINT"
            guard count == 1, let runner = stopTarget.runner else {
                Output.info(
                    count == 1
                        ? "stopping (\(name)) before any request was sent; the next run resumes where this one stopped"
                        : "quitting now; unfinished requests will be redone by the next run")
                Glibc.exit(status)
            }
            Output.info(
                "stopping (\(name)): committing what has landed; requests in flight go back to pending for the next run "
                    + "(a second signal quits at once)")
            Task {
                do {
                    let released = try await runner.abandon()
                    Output.info("stopped: \(released) tasks handed back to pending; run the same command again to go on")
                } catch {
                    Output.info("stopped; the store could not be tidied (\(error)); the next run returns abandoned work itself")
                }
                Glibc.exit(status)
            }
        }
        defer { withExtendedLifetime(signals) {} }
        try CorpusPath.check(input)
        var loaded = try Pipeline.load(path: pipeline)
        if let model {
            var definition = loaded.definition
            definition.teacher.model = model
            loaded = try Pipeline(definition: definition, path: pipeline)
        }
        let pipeline = loaded
        let byStage = try stageTeacherURLs()
        for name in byStage.keys.sorted() where pipeline.stage(named: name) == nil {
            throw ValidationError(
                "--stage-teacher names \(name), not a stage of \(pipeline.definition.name); its stages: "
                    + pipeline.stages.map(\.definition.name).joined(separator: ", "))
        }
        let imagesRoot =
            images ?? ExtractionJob.defaultImagesRoot(forInput: input)
        if !skipPreflight {
            try ImagePreflight(inputPath: input, imagesRoot: imagesRoot, followSymlinks: followSymlinks).runForCommand("run")
        }

        var mock: MockTeacherServer?
        var teachers = teacher
        if teachers.isEmpty && (pipeline.definition.teacher.endpoints ?? []).isEmpty {
            let server = try await MockTeacherServer.start(
                .init(
                    latencyMs: mockLatencyMs, statementFault: mockStatementFault,
                    faults: MockFaults(failRate: mockFailRate, kinds: mockFaults.kinds)))
            mock = server
            teachers = [server.baseURL]
            Output.info("no --teacher given: using the built-in mock teacher at \(server.baseURL) (outputs are marked mock)")
        }
        var setup = TeacherSetup(teachers: teachers, concurrency: concurrency)
        setup.apiKeyEnv = apiKeyEnv
        setup.endpointConcurrency = endpointConcurrency
        setup.timeoutSeconds = timeout
        setup.requestsPerMinute = rpm
        setup.tokensPerMinute = tpm
        setup.cacheDirectory = cache
        setup.preflight = !skipPreflight
        setup.isMock = mock != nil
        setup.logger = logger
        setup.caFile = caFile
        // Which stages have their own teacher: the pipeline's teacher is shown images only when
        // a stage that sends them asks it.
        let ownTeacher = Set(
            pipeline.stages.map(\.definition.name).filter {
                !(byStage[$0] ?? []).isEmpty || !(pipeline.stage(named: $0)?.definition.teacher?.endpoints ?? []).isEmpty
            })
        let mainStages = pipeline.stages.map(\.definition.name).filter { !ownTeacher.contains($0) }
        setup.stageModels = mainStages.map { pipeline.model(forStage: $0) }
        setup.sights = pipeline.stages.filter { $0.sendsImage && !ownTeacher.contains($0.definition.name) }.map {
            TeacherSetup.Sight(
                model: pipeline.model(forStage: $0.definition.name), extraBody: pipeline.extraBody(forStage: $0.definition.name))
        }
        let connection: TeacherSetup.Connection
        do {
            connection = try await setup.connect(settings: pipeline.definition.teacher, environment: ProcessInfo.processInfo.environment)
        } catch {
            await mock?.shutdown()
            Output.info("vxt run: \(error)")
            if case .preflight = error { throw ExitCode(3) }
            throw ExitCode.failure
        }
        for note in connection.notes { Output.info(note) }
        // Stages with a teacher of their own: --stage-teacher, else the stage's endpoints in the pipeline.
        var stageConnections: [String: TeacherSetup.Connection] = [:]
        for stage in pipeline.stages {
            let name = stage.definition.name
            let urls = byStage[name] ?? []
            guard ownTeacher.contains(name) else { continue }
            var settings = pipeline.definition.teacher
            settings.model = pipeline.model(forStage: name)
            settings.endpoints = urls.isEmpty ? stage.definition.teacher?.endpoints : nil
            var stageSetup = setup
            stageSetup.teachers = urls
            stageSetup.isMock = false
            stageSetup.stageModels = []
            stageSetup.sights =
                stage.sendsImage ? [TeacherSetup.Sight(model: settings.model, extraBody: pipeline.extraBody(forStage: name))] : []
            do {
                let own = try await stageSetup.connect(settings: settings, environment: ProcessInfo.processInfo.environment)
                for note in own.notes { Output.info("\(name): \(note)") }
                stageConnections[name] = own
            } catch {
                connection.shutdown()
                for other in stageConnections.values { other.shutdown() }
                await mock?.shutdown()
                Output.info("vxt run: stage \(name): \(error)")
                if case .preflight = error { throw ExitCode(3) }
                throw ExitCode.failure
            }
        }
        let baseURL = connection.destination
        let slice = try shard ?? Shard.fromEnvironment(ProcessInfo.processInfo.environment)
        var job = ExtractionJob(
            pipeline: pipeline, inputPath: input, imagesRoot: imagesRoot, workDirectory: work, teacherURL: baseURL,
            shard: slice, allowChanged: allowChanged)
        job.followSymlinks = followSymlinks
        let storePath = ExtractionJob.storePath(workDirectory: work, shard: slice)
        Output.info(
            "reading \(input) into \(storePath)"
                + (slice.map { " (shard \($0): records at positions ≡ \($0.index) mod \($0.count))" } ?? ""))
        let ingestStart = ProgressMeter.now()
        // The input is read into the store beside the run (below): requests start with its first batch.
        let opened = try job.open(logger: logger, ingestLater: true)
        if opened.pendingIngest == nil {
            Output.info("resuming: input already ingested (\(opened.configuration.recordCount) records)")
        } else if try opened.store.ingestResumePosition() > 0 {
            Output.info("resuming an ingest that was cut short: reading on after the last stored record")
        }
        if let recheck = opened.imageRecheck {
            Output.info(
                "images found again under the new --images: \(recheck.found) of \(recheck.checked) records that missed one are back to work"
            )
        }
        if opened.released > 0 {
            Output.info("returned \(opened.released) tasks left running by an earlier process to pending")
        }

        let monitor = connection.monitor
        let stageMonitors = stageConnections.values.map(\.monitor)
        let allConnections = [connection] + stageConnections.keys.sorted().compactMap { stageConnections[$0] }
        var imageFiles: PreparedImageFiles?
        if pipeline.definition.teacher.imageTransport == .file {
            let files = PreparedImageFiles(
                directory: pipeline.definition.teacher.imageDirectory
                    ?? (work as NSString).appendingPathComponent("prepared-images"))
            Output.info(
                "images go to the teacher as file:// paths under \(files.directory) (image_transport: file; "
                    + "servers must read that path, e.g. vLLM --allowed-local-media-path \(files.directory))")
            imageFiles = files
        }
        // Inline images at high concurrency wait for their answers in files, not in memory.
        var imageSpool: ImageSpool?
        if imageFiles == nil, concurrency > ImageSpool.worthAboveConcurrency {
            do {
                imageSpool = try ImageSpool(parent: ImageSpool.parent(workDirectory: work))
                Output.info("images wait for their answers in \(imageSpool?.directory ?? ""), not in memory (removed at the end)")
            } catch {
                Output.info("warning: images stay in memory while their requests are in flight: cannot make a spool folder (\(error))")
            }
        }
        defer { imageSpool?.remove() }
        let runner = Runner(
            store: opened.store, pipeline: pipeline, teacher: connection.teacher,
            preparer: ImagePreparer(root: job.imageRoot, settings: pipeline.definition.image),
            imageFiles: imageFiles, imageSpool: imageSpool, concurrency: concurrency,
            stageTeachers: stageConnections.mapValues(\.teacher), logger: logger)

        let before = try opened.store.status()
        let total = before.stages.reduce(0) { $0 + $1.remaining }
        var startingMeter = ProgressMeter(total: total)
        startingMeter.inputProblems = before.inputProblems
        let arrivals: WorkArrivals?
        if opened.pendingIngest != nil {
            startingMeter.totalIsFinal = false
            arrivals = WorkArrivals()
            Output.info(
                "\(total) tasks to do so far over \(pipeline.stages.count) stages (more as the input is read) with \(concurrency) in flight → \(baseURL)"
            )
        } else {
            arrivals = nil
            Output.info("\(total) tasks to do over \(pipeline.stages.count) stages with \(concurrency) in flight → \(baseURL)")
        }
        let meter = ProgressBox(startingMeter)
        let metrics = RunMetrics()
        var metricsServer: MetricsServer?
        if let metricsPort {
            let store = opened.store
            metricsServer = try MetricsServer(port: metricsPort) { metrics.text(status: try? store.status(), monitor: monitor) }
            if let port = metricsServer?.port { Output.info("metrics: http://127.0.0.1:\(port)/metrics (Prometheus text format)") }
        }
        defer { metricsServer?.stop() }
        let snapshotStore = opened.store
        // What `vxt status` on another machine shows: it must not read a store written here.
        try? StatusSnapshot.write(of: snapshotStore)
        if let pending = opened.pendingIngest, let arrivals {
            // Each committed batch adds its tasks to the meter and wakes the runner.
            pending.start(
                announcingTo: arrivals, onBatch: { meter.add(total: $0.tasks, inputProblems: $0.problems) },
                onFinish: { summary in
                    meter.finishTotal()
                    try? StatusSnapshot.write(of: snapshotStore)
                    Output.info(
                        String(
                            format: "ingested %d records (%@, %lld bytes) in %.1f s, %d with problems", summary.records,
                            summary.layout.rawValue, summary.bytes, ProgressMeter.now() - ingestStart, summary.problems))
                })
        }
        let interval = progressInterval
        let giveUp = giveUpAfter
        let ticker = Task {
            var sincePrint = 0.0
            var sinceSnapshot = 0.0
            let step = min(interval, 1)
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(step * 1e9))
                if Task.isCancelled { break }
                sincePrint += step
                sinceSnapshot += step
                if sinceSnapshot >= StatusSnapshot.interval {
                    sinceSnapshot = 0
                    try? StatusSnapshot.write(of: snapshotStore)
                }
                if sincePrint >= interval {
                    sincePrint = 0
                    let attempts = monitor.summary()
                    var held = ""
                    for each in allConnections { if let text = await each.heldBack() { held += " · " + text } }
                    Output.progress(meter.line() + (attempts.isEmpty ? "" : " · teacher: " + attempts) + held)
                }
                if let reason = ([monitor] + stageMonitors).lazy.compactMap({ $0.stalled(window: giveUp) }).first {
                    Output.finalProgress(meter.line())
                    Output.info(
                        "vxt run: stopping: \(reason). Check the server, then run the same command again "
                            + "(finished work is kept; --give-up-after sets how long to wait).")
                    _ = try? await runner.abandon()
                    Glibc.exit(3)
                }
            }
        }
        stopTarget.set(runner)
        defer { for own in stageConnections.values { own.shutdown() } }
        let failingStart = FailingStart(limit: stopAfterFirstFailures)
        let outcome = try await runner.run(arrivals: arrivals) {
            meter.record($0)
            metrics.record($0)
            if failingStart.record($0) != nil { Task { try? await runner.abandon() } }
        }
        ticker.cancel()
        // Its last update must not land after the final line below.
        await ticker.value
        connection.shutdown()
        await mock?.shutdown()
        if connection.restarts > 0 { Output.info("the local teacher process was restarted \(connection.restarts) times") }

        try opened.store.checkpoint()
        let status = try opened.store.status()
        try? StatusSnapshot.write(status, of: opened.store)
        Output.finalProgress(meter.line())
        Output.info("")
        Output.info(StatusReport.text(status, configuration: try opened.store.configuration()))
        Output.info(
            """

            job store: \(storePath)
            """
                + (slice == nil
                    ? """

                    export:    \(CommandLine.arguments[0]) export --work \(work) --format llava --out \(work)/corpus.llava.json
                    """
                    : """

                    when every shard is done: \(CommandLine.arguments[0]) merge --work \(work), then export
                    """))
        if let reason = failingStart.reason {
            // Whatever was still running when the stop began goes back to pending.
            try await runner.abandon()
            let kinds = failingStart.kinds.map(\.rawValue).joined(separator: ",")
            Output.info(
                "vxt run: stopped: \(reason). Retrying will not help until the cause is fixed (the server's settings, the "
                    + "pipeline's max_tokens or model); then `vxt retry --work \(work) --kind \(kinds)` and run the same command again.")
            throw ExitCode(3)
        }
        if outcome.interrupted { throw ExitCode(130) }
        let failed = status.failed(stage: StageGraph(pipeline.definition).descriptionStage)
        if failed > 0 {
            Output.info(
                "finished with \(failed) failed records, not in the corpus (exit status 2); their kinds are listed above. "
                    + "Fix the cause, then `vxt retry --work \(work) --kind <kind>` and run the same command again.")
            throw ExitCode(2)
        }
    }
}

/// The progress meter shared between the runner's callback and the ticker.
final class ProgressBox: @unchecked Sendable {
    private let lock = NSLock()
    private var meter: ProgressMeter
    init(_ meter: ProgressMeter) { self.meter = meter }
    func record(_ event: ProgressEvent) { lock.lock(); meter.record(event); lock.unlock() }
    func add(total: Int, inputProblems: Int) {
        lock.lock()
        meter.add(total: total)
        meter.inputProblems += inputProblems
        lock.unlock()
    }
    func finishTotal() { lock.lock(); meter.totalIsFinal = true; lock.unlock() }
    func line() -> String { lock.lock(); defer { lock.unlock() }; return meter.line() }
}

/// The runner a signal stops, once there is one (before it, a signal ends the process).
final class StopTarget: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Runner?
    var runner: Runner? { lock.lock(); defer { lock.unlock() }; return current }
    func set(_ runner: Runner) { lock.lock(); current = runner; lock.unlock() }
}

/// The write end of the pipe the signal handler writes the signal number to.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// Counts SIGINT/SIGTERM and hands the count and the signal to a handler, on a thread of its own.
///
/// A process can start with these signals blocked (a parent's spawning thread passes its mask on)
/// or ignored (an ignore is inherited across exec, and Linux discards an ignored signal at once).
/// So a real handler is installed, which writes the signal to a pipe (the only thing a handler may
/// safely do), and the thread that reads the pipe unblocks both signals for itself: the kernel
/// delivers a process's signal to a thread that does not block it.
final class SignalWatcher: @unchecked Sendable {
    private var count = 0

    init(_ handler: @escaping @Sendable (Int, Int32) -> Void) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return }
        signalPipeWriteEnd = ends[1]
        let readEnd = ends[0]
        let thread = Thread { [self] in
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGINT)
            sigaddset(&set, SIGTERM)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            var byte: UInt8 = 0
            while true {
                let n = read(readEnd, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                self.count += 1
                handler(self.count, Int32(byte))
            }
        }
        thread.name = "vxt-signals"
        thread.start()
        for sig in [SIGINT, SIGTERM] {
            // glibc's signal() restarts interrupted system calls (BSD semantics).
            signal(sig) { received in
                var byte = UInt8(truncatingIfNeeded: received)
                _ = write(signalPipeWriteEnd, &byte, 1)
            }
        }
    }
}
