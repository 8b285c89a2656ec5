import Foundation

/// Runs the pipeline's stages over the job store: claims ready tasks, builds each request,
/// calls the teacher, and commits each result as it arrives. It knows nothing about what a
/// stage means; stages are values from the pipeline file.
public final class Runner: Sendable {
    public let store: JobStore
    public let pipeline: Pipeline
    public let teacher: any Teacher
    public let preparer: ImagePreparer
    /// Set for `image_transport: file`: prepared images are written there and sent as paths.
    public let imageFiles: PreparedImageFiles?
    public let concurrency: Int
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

    public init(store: JobStore, pipeline: Pipeline, teacher: any Teacher, preparer: ImagePreparer,
                imageFiles: PreparedImageFiles? = nil, concurrency: Int) {
        self.store = store
        self.pipeline = pipeline
        self.teacher = teacher
        self.preparer = preparer
        self.imageFiles = imageFiles
        self.concurrency = max(1, concurrency)
        calls = AsyncBudget(limit: max(1, concurrency))
        writer = ResultWriter(store: store, pipeline: pipeline)
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
    private func claimReady(order: [Stage], room: Int) async throws -> [ClaimedTask] {
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
    @discardableResult
    public func abandon() async throws -> Int {
        stopFlag.set()
        await claimGate.acquire(1)  // never released: no claim is under way or will start
        await writer.flush()
        let released = try store.releaseAbandoned()
        try store.checkpoint()
        return released
    }

    public func run(progress: (@Sendable (ProgressEvent) -> Void)? = nil) async throws -> Outcome {
        let start = Date().timeIntervalSince1970
        var completed = 0
        var failed = 0
        // Later stages first, so records finish one by one and memory stays flat.
        let claimOrder = Array(pipeline.stages.reversed())
        try await withThrowingTaskGroup(of: TaskResult.self) { group in
            var inFlight = 0
            while true {
                if !stopFlag.isSet {
                    for task in try await claimReady(order: claimOrder, room: concurrency + prefetch - inFlight) {
                        group.addTask {
                            let result = await self.execute(task)
                            await self.writer.add(result)
                            return result
                        }
                        inFlight += 1
                    }
                }
                if inFlight == 0 {
                    // Results still buffered may make later stages ready: commit them, then look again.
                    await writer.flush()
                    try await writer.checkFailure()
                    if stopFlag.isSet { break }
                    var ready = false
                    for stage in claimOrder where try await store.hasPending(stage: stage.name) {
                        ready = true
                        break
                    }
                    if !ready { break }
                    continue
                }
                guard let result = try await group.next() else { break }
                inFlight -= 1
                if case .done = result.outcome { completed += 1 } else { failed += 1 }
                progress?(ProgressEvent(stage: result.stage, succeeded: { if case .done = result.outcome { return true } else { return false } }()))
            }
        }
        await writer.flush()
        try await writer.checkFailure()
        return Outcome(completed: completed, failed: failed, seconds: Date().timeIntervalSince1970 - start, interrupted: stopFlag.isSet)
    }

    /// One teacher call within the run's concurrency.
    func call(_ request: ChatRequest) async -> Result<ChatResult, TeacherFailure> {
        await calls.acquire(1)
        defer { calls.release(1) }
        return await teacher.complete(request)
    }

    /// The task's result, carrying its row id so that the commit finds it directly.
    func execute(_ task: ClaimedTask) async -> TaskResult {
        var result = await perform(task)
        result.taskID = task.taskID
        return result
    }

    private func perform(_ task: ClaimedTask) async -> TaskResult {
        let started = Date().timeIntervalSince1970
        func failure(_ reason: String, kind: FailureKind, request: String? = nil, teacher: TeacherFailure? = nil) -> TaskResult {
            var result = TaskResult(recordKey: task.recordKey, stage: task.stage, outcome: .failed(reason: reason, kind: kind),
                                    request: request, startedAt: started, finishedAt: Date().timeIntervalSince1970)
            result.failureStatus = teacher?.status
            result.failureEndpoint = teacher?.endpoint
            return result
        }
        guard let stage = pipeline.stage(named: task.stage) else {
            return failure("stage \(task.stage) is not in the pipeline", kind: .other)
        }
        // Rule fast path: pairs a rule can write skip the model; the rest go in one call.
        var record = task.record
        var ruled: [Int: StatementRules.Written] = [:]
        if stage.definition.rules == true && stage.definition.output == .statements {
            let split = StatementRules.split(task.record)
            ruled = split.ruled
            record = split.remaining
            if record.pairs.isEmpty {
                let statements = StatementRules.merge(ruled: ruled, model: [], total: task.record.pairs.count)
                return TaskResult(
                    recordKey: task.recordKey, stage: task.stage,
                    outcome: .done(.init(output: statements.joined(separator: "\n"), parsed: JSONValue.array(statements.map { .string($0) }).jsonText,
                                         note: "statements: \(ruled.count) by rule, 0 by model", finishReason: nil, promptTokens: 0,
                                         completionTokens: 0, model: "rules", endpoint: nil, mock: false, attempts: 0)),
                    request: nil, startedAt: started, finishedAt: Date().timeIntervalSince1970)
            }
        }
        let prompt: String
        do {
            prompt = try stage.prompt(for: record, upstream: task.upstream)
        } catch {
            return failure("cannot render the \(stage.name) prompt: \(error)", kind: .promptUnrenderable)
        }
        var images: [PreparedImage] = []
        if stage.sendsImage {
            for path in task.record.images {
                do {
                    if let imageFiles {
                        images.append(try imageFiles.prepare(path, with: preparer))
                    } else {
                        images.append(try preparer.prepare(path))
                    }
                } catch {
                    return failure(error.description, kind: error.failureKind)
                }
            }
        }
        let teacherSettings = pipeline.definition.teacher
        let request = ChatRequest(model: teacherSettings.model, prompt: prompt, images: images,
                                  maxTokens: stage.definition.maxTokens, temperature: teacherSettings.temperature)
        let logged = request.loggedBody()
        switch await call(request) {
        case let .failure(error):
            return failure(error.message, kind: error.kind, request: logged, teacher: error)
        case var .success(answer):
            var truncationNote: String?
            if answer.finishReason == "length", let larger = stage.definition.retryTruncatedMaxTokens, larger > request.maxTokens {
                // Once, with the larger limit the pipeline names; the tokens of both calls count.
                var retry = request
                retry.maxTokens = larger
                if case var .success(second) = await call(retry) {
                    second.promptTokens = (second.promptTokens ?? 0) + (answer.promptTokens ?? 0)
                    second.completionTokens = (second.completionTokens ?? 0) + (answer.completionTokens ?? 0)
                    second.attempts += answer.attempts
                    truncationNote = "truncated at max_tokens \(request.maxTokens); asked again with \(larger)"
                    answer = second
                }
            }
            if answer.text.trimmed.isEmpty {
                return failure("teacher returned an empty answer (finish_reason \(answer.finishReason ?? "none"))", kind: .badAnswer,
                               request: logged)
            }
            var reading = stage.read(answer.text, for: record)
            if let cleaned = reading.text { answer.text = cleaned }
            if let correction = stage.countCorrection, reading.note != nil {
                let collector = StatementCollector(stage: stage, correction: correction)
                let outcome = await collector.collect(for: record, upstream: task.upstream, first: answer) { prompt in
                    await self.call(ChatRequest(model: request.model, prompt: prompt, images: images,
                                                            maxTokens: request.maxTokens, temperature: request.temperature))
                }
                switch outcome {
                case let .failure(error):
                    return failure(error.message, kind: error.kind, request: logged, teacher: error)
                case let .success(collected):
                    let usage = (collected.promptTokens, collected.completionTokens)
                    answer = collected.last
                    answer.text = collected.text
                    answer.promptTokens = usage.0
                    answer.completionTokens = usage.1
                    reading = StageReading(statements: collected.statements,
                                           note: "statements via \(collected.path.rawValue) (\(collected.calls) calls)")
                }
            }
            if !ruled.isEmpty, let modelStatements = reading.statements {
                let merged = StatementRules.merge(ruled: ruled, model: modelStatements, total: task.record.pairs.count)
                answer.text = merged.joined(separator: "\n")
                reading = StageReading(statements: merged, note: ["statements: \(ruled.count) by rule, \(record.pairs.count) by model",
                                                                  reading.note].compactMap { $0 }.joined(separator: "; "))
            }
            let parsed = reading.statements.map { JSONValue.array($0.map { .string($0) }).jsonText }
            var note = [reading.note, truncationNote].compactMap { $0 }.joined(separator: "; ")
            if answer.finishReason == "length" {
                let limit = truncationNote == nil ? request.maxTokens : (stage.definition.retryTruncatedMaxTokens ?? request.maxTokens)
                note = [note, "truncated: finish_reason length at max_tokens \(limit)"].filter { !$0.isEmpty }.joined(separator: "; ")
            }
            var result = TaskResult(
                recordKey: task.recordKey, stage: task.stage,
                outcome: .done(.init(output: answer.text, parsed: parsed, note: note.isEmpty ? nil : note, finishReason: answer.finishReason,
                                     promptTokens: answer.promptTokens, completionTokens: answer.completionTokens,
                                     model: answer.model, endpoint: answer.endpoint, mock: answer.mock, attempts: answer.attempts)),
                request: logged, startedAt: started, finishedAt: Date().timeIntervalSince1970)
            result.imageSHA256 = images.first?.sourceSHA256
            return result
        }
    }
}

/// One finished task, for progress display.
public struct ProgressEvent: Sendable {
    public var stage: String
    public var succeeded: Bool
}

/// A flag set from a signal handler's queue and read by the runner loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
