import Foundation
import Testing
@testable import VisualExtraction

/// The runner over a real job store and a scripted teacher (no server, no subprocess): what it
/// sends, in what order, how many at once, and what a failure leaves behind.
@Suite struct RunnerTests {
    /// Answers a statements prompt with one line per "Question #", anything else with a fixed
    /// description; fails the description of one record; counts calls in flight.
    final class ScriptedTeacher: Teacher, @unchecked Sendable {
        let endpointDescription = "scripted"
        let failing: String
        private let lock = NSLock()
        private var inFlight = 0
        private(set) var mostInFlight = 0
        private(set) var prompts: [String] = []

        init(failing: String) { self.failing = failing }

        func complete(_ request: ChatRequest) async -> Result<ChatResult, TeacherFailure> {
            lock.withLock {
                inFlight += 1
                mostInFlight = max(mostInFlight, inFlight)
                prompts.append(request.prompt)
            }
            // Let other calls start while this one is "at the server".
            for _ in 0..<20 { await Task.yield() }
            lock.withLock { inFlight -= 1 }
            // A statements prompt: each "Question #n: …" and its "Answer: …" line made one sentence.
            let lines = request.prompt.split(separator: "\n")
            var statements: [String] = []
            for (i, line) in lines.enumerated() where line.hasPrefix("Question #") {
                // The question may go on over several lines (an `<image>` line first, options after).
                let end = lines[(i + 1)...].firstIndex { $0.hasPrefix("Answer:") } ?? lines.count
                let question = ([line.split(separator: ":", maxSplits: 1).last ?? ""] + lines[(i + 1)..<end]).joined(separator: " ")
                let answer = end < lines.count ? lines[end].dropFirst("Answer:".count) : ""
                statements.append("\(question.trimmingCharacters(in: .whitespaces)) \(answer.trimmingCharacters(in: .whitespaces)).")
            }
            if !statements.isEmpty { return .success(Self.answer(statements.joined(separator: "\n"))) }
            if request.prompt.contains(failing) {
                return .failure(
                    TeacherFailure(
                        message: "HTTP 400: too long", status: 400, attempts: 1, kind: .httpStatus,
                        endpoint: endpointDescription))
            }
            return .success(Self.answer("A photo with many details."))
        }

        static func answer(_ text: String) -> ChatResult {
            ChatResult(
                text: text, finishReason: "stop", promptTokens: 100, completionTokens: 20, model: "scripted", mock: false,
                endpoint: "scripted", attempts: 1)
        }
    }

    /// A work directory holding the samples, ingested.
    static func openSamples(_ dir: URL) throws -> (ExtractionJob.Opened, Pipeline) {
        let pipeline = try Pipeline.load(path: TestSupport.paperPipeline.path)
        let job = ExtractionJob(
            pipeline: pipeline, inputPath: TestSupport.sampleCorpus.path, imagesRoot: TestSupport.sampleImages.path,
            workDirectory: dir.appendingPathComponent("work").path, teacherURL: "scripted")
        return (try job.open(), pipeline)
    }

    /// An optional stage (the hint, answerability) never holds back the first descriptions: a
    /// run claims the stages the corpus needs first.
    @Test func requiredStagesComeBeforeOptionalOnes() async throws {
        let pipeline = try Pipeline.load(path: TestSupport.packageRoot.appendingPathComponent("pipelines/clean.yaml").path)
        #expect(pipeline.graph.requiredStages == ["statements", "extraction"])
        #expect(pipeline.graph.claimOrder.map(\.name) == ["extraction", "statements", "answerability", "hint"])

        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let job = ExtractionJob(
            pipeline: pipeline, inputPath: TestSupport.sampleCorpus.path, imagesRoot: TestSupport.sampleImages.path,
            workDirectory: dir.appendingPathComponent("work").path, teacherURL: "scripted")
        let opened = try job.open()
        let teacher = ScriptedTeacher(failing: "no record says this")
        let runner = Runner(
            store: opened.store, pipeline: pipeline, teacher: teacher,
            preparer: ImagePreparer(root: ImageRoot(path: TestSupport.sampleImages.path), settings: pipeline.definition.image),
            concurrency: 1)
        _ = try await runner.run()
        let kinds = teacher.prompts.map { prompt in
            prompt.contains("name the visual details")
                ? "hint"
                : prompt.contains("Question #") ? "statements" : prompt.contains("describe the fine-grained") ? "extraction" : "other"
        }
        // While statements are ready, no hint is claimed (pipeline order would have sent the ten
        // hints first); hints fill only the room no required task can use. All ten statements are
        // ready from the start, so every one is asked before the first hint (a slow machine may
        // also fit count re-asks in before it, which are statements prompts too).
        let firstHint = try #require(kinds.firstIndex(of: "hint"))
        #expect(kinds[..<firstHint].filter { $0 == "statements" }.count >= 10, "\(kinds)")
        #expect(kinds.filter { $0 == "extraction" }.count == 10 && kinds.filter { $0 == "hint" }.count == 10, "\(kinds)")
    }

    @Test func everyRecordGoesThroughItsStagesWithinTheConcurrency() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (opened, pipeline) = try Self.openSamples(dir)
        // The record about the deep field fails its description (a 400).
        let teacher = ScriptedTeacher(failing: "galaxies")
        let runner = Runner(
            store: opened.store, pipeline: pipeline, teacher: teacher,
            preparer: ImagePreparer(root: ImageRoot(path: TestSupport.sampleImages.path), settings: pipeline.definition.image),
            concurrency: 3)
        let outcome = try await runner.run()
        #expect(teacher.mostInFlight <= 3, "at most --concurrency calls at once: \(teacher.mostInFlight)")
        #expect(teacher.mostInFlight >= 2, "calls overlap")
        // 10 records with an image: 10 statements calls, 10 extraction calls; one fails.
        let seen = try opened.store.status()
        #expect(teacher.prompts.count == 20, "\(seen)")
        #expect(outcome.completed == 19 && outcome.failed == 1)
        // A description prompt embeds that record's statements: it was sent after them.
        for (i, prompt) in teacher.prompts.enumerated() where prompt.contains("Description:") {
            #expect(teacher.prompts[..<i].contains { $0.contains("Question #") })
        }
        let status = try opened.store.status()
        #expect(status.failures.map { "\($0.stage)/\($0.kind.rawValue)/\($0.count)" } == ["extraction/http_status/1"])
        #expect(status.stages.map { $0.counts[.done] ?? 0 } == [10, 9])
        #expect(status.stages.map { $0.counts[.skipped] ?? 0 } == [2, 2])
        let failed = try opened.store.detail(id: "hubble-0006").tasks.first { $0.stage == "extraction" }
        #expect(failed?.state == .failed && failed?.lastError == "HTTP 400: too long")
        #expect(failed?.request?.contains("\"image_url\"") == true, "the failed request is kept, its image as a placeholder")
    }

    @Test func requestsStartWhileTheInputIsStillBeingIngested() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = try Pipeline.load(path: TestSupport.paperPipeline.path)
        let job = ExtractionJob(
            pipeline: pipeline, inputPath: TestSupport.sampleCorpus.path, imagesRoot: TestSupport.sampleImages.path,
            workDirectory: dir.appendingPathComponent("work").path, teacherURL: "scripted")
        let opened = try job.open(ingestLater: true)
        var pending = try #require(opened.pendingIngest, "a new work directory has its ingest ahead of it")
        pending.batchSize = 4
        let ingest = pending
        /// Tells, at its first call, whether ingest had finished then; lets ingest go on only after.
        final class WatchingTeacher: Teacher, @unchecked Sendable {
            let endpointDescription = "watching"
            let inner = ScriptedTeacher(failing: "galaxies")
            let store: JobStore
            let firstCall = DispatchSemaphore(value: 0)
            private let lock = NSLock()
            private(set) var ingestCompleteAtFirstCall: Bool?
            init(store: JobStore) { self.store = store }
            func complete(_ request: ChatRequest) async -> Result<ChatResult, TeacherFailure> {
                let first = lock.withLock { () -> Bool in
                    guard ingestCompleteAtFirstCall == nil else { return false }
                    ingestCompleteAtFirstCall = (try? store.configuration()?.ingestComplete) ?? nil
                    return true
                }
                if first { firstCall.signal() }
                return await inner.complete(request)
            }
        }
        let teacher = WatchingTeacher(store: opened.store)
        let arrivals = WorkArrivals()
        let batches = Counter()
        ingest.start(
            announcingTo: arrivals,
            onBatch: { _ in
                // After the first batch, ingest waits until a request has been sent.
                if batches.increment() == 1 { teacher.firstCall.wait() }
            }, onFinish: { _ in })
        let runner = Runner(
            store: opened.store, pipeline: pipeline, teacher: teacher,
            preparer: ImagePreparer(root: ImageRoot(path: TestSupport.sampleImages.path), settings: pipeline.definition.image),
            concurrency: 3)
        let outcome = try await runner.run(arrivals: arrivals)
        #expect(teacher.ingestCompleteAtFirstCall == false, "the first request went out while the input was still being read")
        #expect(batches.value == 3, "12 records in batches of 4")
        // The same work as when ingest comes first (everyRecordGoesThroughItsStagesWithinTheConcurrency).
        #expect(outcome.completed == 19 && outcome.failed == 1)
        let status = try opened.store.status()
        #expect(status.stages.map { $0.counts[.done] ?? 0 } == [10, 9])
        #expect(try opened.store.configuration()?.ingestComplete == true)
        #expect(try opened.store.configuration()?.recordCount == 12)
    }

    @Test func aFailedIngestStopsTheRunWithItsError() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (opened, pipeline) = try Self.openSamples(dir)
        struct Cut: Error {}
        let arrivals = WorkArrivals()
        arrivals.finish(failure: Cut())
        let teacher = ScriptedTeacher(failing: "nothing fails")
        let runner = Runner(
            store: opened.store, pipeline: pipeline, teacher: teacher,
            preparer: ImagePreparer(root: ImageRoot(path: TestSupport.sampleImages.path), settings: pipeline.definition.image),
            concurrency: 3)
        await #expect(throws: Cut.self) { try await runner.run(arrivals: arrivals) }
        // What was claimed before the failure was seen finished and was committed; nothing is left running.
        let status = try opened.store.status()
        #expect(status.stages.allSatisfy { ($0.counts[.running] ?? 0) == 0 }, "\(status.stages)")
    }

    @Test func abandonHandsRunningTasksBackAndStopsClaiming() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (opened, pipeline) = try Self.openSamples(dir)
        /// Never answers until the test lets it.
        final class HeldTeacher: Teacher, @unchecked Sendable {
            let endpointDescription = "held"
            let arrived = AsyncBudget(limit: 1_000)
            private let lock = NSLock()
            private(set) var calls = 0
            func complete(_ request: ChatRequest) async -> Result<ChatResult, TeacherFailure> {
                lock.withLock { calls += 1 }
                while !Task.isCancelled { try? await Task.sleep(nanoseconds: 1_000_000_000) }
                return .failure(TeacherFailure(message: "cancelled", status: nil, attempts: 1))
            }
        }
        let teacher = HeldTeacher()
        let runner = Runner(
            store: opened.store, pipeline: pipeline, teacher: teacher,
            preparer: ImagePreparer(root: ImageRoot(path: TestSupport.sampleImages.path), settings: pipeline.definition.image),
            concurrency: 2)
        let run = Task { try await runner.run() }
        while teacher.calls < 2 { await Task.yield() }
        let released = try await runner.abandon()
        #expect(released > 0, "claimed tasks (in flight and prefetched) go back to pending")
        #expect(try opened.store.counts(stage: "statements")[.running] == nil)
        #expect(try opened.store.counts(stage: "statements")[.pending] == 10)
        let callsAtStop = teacher.calls
        run.cancel()
        _ = try? await run.value
        #expect(teacher.calls == callsAtStop, "nothing is sent after the stop")
    }
}

/// A count shared across threads.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    /// Adds one; returns the new count.
    func increment() -> Int {
        lock.withLock {
            count += 1; return count
        }
    }
}
