import Foundation
import Synchronization
public import Logging

/// Runs the pipeline's stages over the job store: claims ready tasks, hands each to the executor
/// of its stage's output kind (`StageExecutor`), bounds the teacher calls in flight, and commits
/// each result as it arrives. What a stage's output means lives in its executor, not here.
public final class Runner: Sendable {
    public let store: JobStore
    public let pipeline: Pipeline
    public let teacher: any Teacher
    /// Stages with a teacher of their own (`stages[].teacher`, `--stage-teacher`); the rest ask `teacher`.
    public let stageTeachers: [String: any Teacher]
    public let preparer: ImagePreparer
    /// Set for `image_transport: file`: prepared images are written there and sent as paths.
    public let imageFiles: PreparedImageFiles?
    /// Set for inline images at high concurrency: prepared images wait there until answered.
    public let imageSpool: ImageSpool?
    public let concurrency: Int
    /// Each failed task at debug level, with its record, stage and failure kind.
    let logger: Logger
    let stopFlag = StopFlag()
    /// Teacher calls in flight, at most `concurrency`. Tasks are claimed beyond it (see
    /// `prefetch`) so that the next tasks' image work runs while the slots are busy waiting
    /// for answers, instead of inside a slot: at C=256 against a 1 s server this took a whole
    /// run from 0.68 to 0.83 of the ideal rate (bench/teacher). Capped, because each prepared
    /// task holds its image and two cores prepare a few hundred images a second at most.
    private let calls: AsyncBudget
    var prefetch: Int { min(max(4, concurrency), 512) }
    /// Commits results in small batches; shared by `run` and `abandon`.
    private let writer: ResultWriter
    /// One claim at a time; closed by `abandon`.
    private let claimGate = AsyncBudget(limit: 1)
    /// The one `abandon` under way or done.
    private let abandoning = Mutex<Task<Int, any Error>?>(nil)

    public init(
        store: JobStore, pipeline: Pipeline, teacher: any Teacher, preparer: ImagePreparer,
        imageFiles: PreparedImageFiles? = nil, imageSpool: ImageSpool? = nil, concurrency: Int,
        stageTeachers: [String: any Teacher] = [:], logger: Logger = .disabled
    ) {
        self.imageSpool = imageSpool
        self.store = store
        self.stageTeachers = stageTeachers
        self.logger = logger
        self.pipeline = pipeline
        self.teacher = teacher
        self.preparer = preparer
        self.imageFiles = imageFiles
        self.concurrency = max(1, concurrency)
        calls = AsyncBudget(limit: max(1, concurrency))
        writer = ResultWriter(store: store, graph: pipeline.graph)
    }

    public struct Outcome: Sendable {
        public var completed: Int
        public var failed: Int
        public var seconds: Double
        /// Stopped by `abandon()` (a signal) before all work was done.
        public var interrupted: Bool
    }

    /// Claims up to `room` ready tasks, later stages first, unless the run is stopping. Claims
    /// pass through `claimGate`, which `abandon` closes for good: a claim that began before the
    /// stop must land before abandoned tasks are handed back, or it would leave them running.
    private func claimReady(order: [StageGraph.Node], room: Int) async throws -> [ClaimedTask] {
        await claimGate.acquire(1)
        defer { claimGate.release(1) }
        guard !stopFlag.isSet else { return [] }
        var room = room
        var claimed: [ClaimedTask] = []
        for stage in order where room > 0 {
            let batch = try await store.claim(stage: stage, limit: room)
            claimed += batch
            room -= batch.count
        }
        return claimed
    }

    /// Stops at once (SIGTERM from Slurm, Ctrl-C): no more claims, results that have landed are
    /// committed, and tasks still in flight go back to pending for the next run. Their answers,
    /// should they arrive before the process exits, find them no longer running and change
    /// nothing. Returns how many tasks were handed back.
    /// Called again (a signal during a stop the run made itself), it waits for the first call.
    @discardableResult
    public func abandon() async throws -> Int {
        let abandonment = abandoning.withLock { current in
            if let current { return current }
            let started = Task {
                stopFlag.set()
                await claimGate.acquire(1)  // never released: no claim is under way or will start
                await writer.flush()
                let released = try store.releaseAbandoned()
                try store.checkpoint()
                return released
            }
            current = started
            return started
        }
        return try await abandonment.value
    }

    /// What the run's task group yields: a finished task, or news from `arrivals`.
    private enum Event: Sendable {
        /// With when the task was claimed: a task may wait long for a thread before it starts.
        case finished(TaskResult, claimedAt: Double)
        case arrived(WorkArrivals.Seen)
        /// A task that ended, failed, after the stop: not committed (see `run`).
        case handedBack
    }

    /// Runs until no task is pending or running, and, with `arrivals`, until its source has
    /// finished too: tasks that arrive while the run goes on (ingest in batches) are claimed as
    /// each arrival is announced.
    public func run(arrivals: WorkArrivals? = nil, progress: (@Sendable (ProgressEvent) -> Void)? = nil) async throws -> Outcome {
        let start = Date().timeIntervalSince1970
        var completed = 0
        var failed = 0
        let claimOrder = pipeline.graph.claimOrder
        var seen = arrivals?.current ?? WorkArrivals.Seen(generation: 0, finished: true)
        try await withThrowingTaskGroup(of: Event.self) { group in
            var inFlight = 0
            var watching = false
            // When the source of arrivals fails, nothing more is claimed; what is in flight lands.
            var sourceFailure: (any Error)? = seen.finished ? arrivals?.sourceFailure : nil
            defer { group.cancelAll() }
            while true {
                if !stopFlag.isSet && sourceFailure == nil {
                    let claimedAt = Date().timeIntervalSince1970
                    for task in try await claimReady(order: claimOrder, room: concurrency + prefetch - inFlight) {
                        group.addTask {
                            let result = await self.execute(task)
                            // A task that failed once the run was stopping most likely failed for
                            // the stop ("not sent", a re-ask cut off): it stays running, and is
                            // handed back by `abandon` (or redone by the next run), not failed.
                            if self.stopFlag.isSet, case .failed = result.outcome { return .handedBack }
                            await self.writer.add(result)
                            return .finished(result, claimedAt: claimedAt)
                        }
                        inFlight += 1
                    }
                }
                if let arrivals, !seen.finished, !watching, !stopFlag.isSet, sourceFailure == nil {
                    let after = seen.generation
                    group.addTask { .arrived(await arrivals.wait(after: after)) }
                    watching = true
                }
                if inFlight == 0 {
                    // Results still buffered may make later stages ready: commit them, then look again.
                    await writer.flush()
                    try await writer.checkFailure()
                    if let sourceFailure { throw sourceFailure }
                    if stopFlag.isSet { break }
                    var ready = false
                    for stage in claimOrder where try await store.hasPending(stage: stage.name) {
                        ready = true
                        break
                    }
                    if ready { continue }
                    if !watching { break }
                    // Nothing to do until the next arrival: the group's next event is it.
                }
                guard let event = try await group.next() else { break }
                switch event {
                case let .arrived(news):
                    watching = false
                    seen = news
                    if news.finished { sourceFailure = arrivals?.sourceFailure }
                case .handedBack:
                    inFlight -= 1
                case let .finished(result, claimedAt):
                    inFlight -= 1
                    var event = ProgressEvent(
                        stage: result.stage, succeeded: true, seconds: Date().timeIntervalSince1970 - claimedAt, inFlight: inFlight + 1)
                    if case let .failed(reason, kind) = result.outcome {
                        event.succeeded = false
                        event.failureKind = kind
                        event.failureReason = reason
                        failed += 1
                    } else {
                        completed += 1
                    }
                    progress?(event)
                }
            }
        }
        await writer.flush()
        try await writer.checkFailure()
        return Outcome(completed: completed, failed: failed, seconds: Date().timeIntervalSince1970 - start, interrupted: stopFlag.isSet)
    }

    /// One teacher call within the run's concurrency.
    func call(_ request: ChatRequest, stage: String) async -> Result<ChatResult, TeacherFailure> {
        await calls.acquire(1)
        defer { calls.release(1) }
        // Tasks claimed before a stop (prefetched, or between a re-ask and the next) are handed
        // back by `abandon`; sending them now would only spend the teacher's time on answers that
        // change nothing.
        guard !stopFlag.isSet else {
            return .failure(TeacherFailure(message: "not sent: the run was stopping", status: nil, attempts: 0))
        }
        return await (stageTeachers[stage] ?? teacher).complete(request)
    }

    /// The task's result, carrying its row id so that the commit finds it directly.
    func execute(_ task: ClaimedTask) async -> TaskResult {
        var result = await perform(task)
        result.taskID = task.taskID
        return result
    }

    private func perform(_ task: ClaimedTask) async -> TaskResult {
        await Runner.perform(
            task, pipeline: pipeline, logger: logger,
            prepareImage: Runner.imagePreparation(preparer: preparer, imageFiles: imageFiles, spool: imageSpool),
            send: { await self.call($0, stage: task.stage) })
    }

    /// How a run prepares an image to send: resized and encoded, inline (in memory or spooled)
    /// or as a prepared file.
    static func imagePreparation(
        preparer: ImagePreparer, imageFiles: PreparedImageFiles?, spool: ImageSpool? = nil
    ) -> @Sendable (String) throws(ImageError) -> PreparedImage {
        { path throws(ImageError) in
            if let imageFiles { return try imageFiles.prepare(path, with: preparer) }
            let image = try preparer.prepare(path)
            return spool?.spool(image) ?? image
        }
    }

    /// Runs a claimed task's stage executor with `send` as its teacher: the runner's bounded
    /// calls, or a batch file's answers (`BatchJob`). Everything else is the same for both.
    static func perform(
        _ task: ClaimedTask, pipeline: Pipeline, logger: Logger,
        prepareImage: @escaping @Sendable (String) throws(ImageError) -> PreparedImage,
        send: @escaping @Sendable (ChatRequest) async -> Result<ChatResult, TeacherFailure>
    ) async -> TaskResult {
        let started = Date().timeIntervalSince1970
        let result: StageResult
        if let stage = pipeline.stage(named: task.stage) {
            var work = StageWork(
                stage: stage, record: task.record, upstream: task.upstream, model: pipeline.model(forStage: stage.name),
                temperature: pipeline.definition.teacher.temperature, prepareImage: prepareImage, send: send)
            work.extraBody = pipeline.extraBody(forStage: stage.name)
            result = await Self.executor(for: stage).execute(work)
        } else {
            result = .failed("stage \(task.stage) is not in the pipeline", kind: .other)
        }
        let outcome: TaskResult.Outcome
        switch result.outcome {
        case let .done(completion): outcome = .done(completion)
        case let .failed(reason, kind): outcome = .failed(reason: reason, kind: kind)
        }
        var taskResult = TaskResult(
            recordKey: task.recordKey, stage: task.stage, outcome: outcome, request: result.request,
            startedAt: started, finishedAt: Date().timeIntervalSince1970, imageSHA256: result.imageSHA256)
        taskResult.taskID = task.taskID
        taskResult.failureStatus = result.failureStatus
        taskResult.failureEndpoint = result.failureEndpoint
        if case let .failed(reason, kind) = result.outcome {
            logger.debug(
                "task failed",
                metadata: [
                    "record.key": "\(task.recordKey)", "task.stage": "\(task.stage)",
                    "failure.kind": "\(kind.rawValue)", "failure.reason": "\(reason)"
                ])
        }
        return taskResult
    }

    /// The executor that knows what the stage's output kind means.
    static func executor(for stage: Stage) -> any StageExecutor {
        switch stage.definition.output ?? .text {
        case .text: TextExecutor()
        case .statements: StatementsExecutor()
        case .answers: AnswersExecutor()
        }
    }
}

/// One finished task, for progress display.
public struct ProgressEvent: Sendable {
    public var stage: String
    public var succeeded: Bool
    /// Seconds from the task's claim to its result, and tasks in flight when it ended (claimed,
    /// not yet finished): their ratio is the run's rate (Little's law), which the ETA uses.
    public var seconds: Double?
    public var inFlight: Int?
    /// Of a failed task: its failure's kind and reason.
    public var failureKind: FailureKind?
    public var failureReason: String?

    public init(
        stage: String, succeeded: Bool, seconds: Double? = nil, inFlight: Int? = nil, failureKind: FailureKind? = nil,
        failureReason: String? = nil
    ) {
        self.stage = stage
        self.succeeded = succeeded
        self.seconds = seconds
        self.inFlight = inFlight
        self.failureKind = failureKind
        self.failureReason = failureReason
    }
}

/// A flag set from a signal handler's queue and read by the runner loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
