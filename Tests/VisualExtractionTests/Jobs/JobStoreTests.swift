import Foundation
import Testing
@testable import VisualExtraction

/// The job store's state machine, step by step, on a real SQLite file.
@Suite struct JobStoreTests {
    let pipeline: Pipeline
    let dir: URL
    let store: JobStore

    init() throws {
        pipeline = try Pipeline.load(path: TestSupport.paperPipeline.path)
        dir = try TestSupport.temporaryDirectory()
        store = try JobStore(path: dir.appendingPathComponent("vxt.sqlite").path)
    }

    func done(_ task: ClaimedTask, _ output: String) -> TaskResult {
        TaskResult(recordKey: task.recordKey, stage: task.stage,
                   outcome: .done(.init(output: output, parsed: nil, note: nil, finishReason: "stop", promptTokens: 1, completionTokens: 2,
                                        model: "m", endpoint: "e", mock: false, attempts: 1)),
                   request: "{}", startedAt: 0, finishedAt: 1)
    }

    @Test func tasksMoveThroughStagesAndDependentsWait() async throws {
        var a = TestSupport.record("a", pairs: [("q", "x")])
        a.position = 0
        var b = TestSupport.record("b", pairs: [("q", "y")])
        b.position = 1
        var text = TestSupport.record("t", pairs: [("q", "z")], image: nil)
        text.position = 2
        text.skipReason = "no image"
        try store.ingest([.record(a, problem: nil), .record(b, problem: nil), .record(text, problem: nil),
                          .problem(position: 3, byteOffset: 99, line: 4, recordID: nil, reason: "bad JSON")], stages: pipeline.stages)
        #expect(try store.counts(stage: "statements") == [.pending: 2, .skipped: 1, .failed: 1])
        #expect(try store.counts(stage: "extraction") == [.waiting: 2, .skipped: 1, .failed: 1])

        let extraction = try #require(pipeline.stage(named: "extraction"))
        let statements = try #require(pipeline.stage(named: "statements"))
        #expect(try await store.claim(stage: extraction, limit: 10).isEmpty, "extraction waits for statements")
        let claimed = try await store.claim(stage: statements, limit: 10)
        #expect(claimed.map(\.recordKey) == ["a", "b"])
        #expect(try store.counts(stage: "statements")[.running] == 2)

        try await store.commit([done(claimed[0], "A is x.")], pipeline: pipeline)
        try await store.commit([TaskResult(recordKey: "b", stage: "statements", outcome: .failed(reason: "HTTP 400: bad"), request: nil, startedAt: 0, finishedAt: 1)], pipeline: pipeline)
        #expect(try store.counts(stage: "extraction") == [.pending: 1, .failed: 2, .skipped: 1])

        let next = try await store.claim(stage: extraction, limit: 10)
        #expect(next.map(\.recordKey) == ["a"])
        #expect(next.first?.upstream == ["statements": "A is x."])

        // A committed result is final: committing it again changes nothing.
        try await store.commit([done(next[0], "desc")], pipeline: pipeline)
        try await store.commit([done(next[0], "other")], pipeline: pipeline)
        #expect(try store.detail(id: "a").tasks.last?.output == "desc")

        let status = try store.status()
        #expect(status.failures.contains { $0.reason.contains("needs statements, which failed: HTTP 400: bad") })
        #expect(status.inputProblems == 1)
    }

    /// A stage that needs two others becomes pending only when both are done, whichever finishes
    /// last; a stage that needs one becomes pending as soon as that one is done.
    @Test func aStageWithTwoNeedsWaitsForBoth() async throws {
        let fan = try Pipeline.parse(yaml: """
            name: fan-in
            teacher: {model: m}
            image: {mode: exact, width: 512, height: 512}
            export: {instruction: Describe., description_stage: extraction, statements_stage: statements}
            stages:
              - {name: caption, image: true, max_tokens: 64, output: text, template: "Caption."}
              - {name: statements, image: false, max_tokens: 64, output: statements, template: "{{#each pairs}}{{question}} {{answer}}{{/each}}"}
              - {name: extraction, needs: [caption, statements], image: true, max_tokens: 64, output: text, template: "{{statements}}"}
              - {name: hint, needs: [statements], image: false, max_tokens: 64, output: text, template: "{{statements}}"}
            """)
        var a = TestSupport.record("a", pairs: [("q", "x")])
        a.position = 0
        try store.ingest([.record(a, problem: nil)], stages: fan.stages)
        func stage(_ name: String) throws -> Stage { try #require(fan.stage(named: name)) }
        #expect(try store.counts(stage: "extraction") == [.waiting: 1])

        let statements = try await store.claim(stage: try stage("statements"), limit: 1)
        try await store.commit([done(statements[0], "A is x.")], pipeline: fan)
        #expect(try store.counts(stage: "hint") == [.pending: 1], "one need, done")
        #expect(try store.counts(stage: "extraction") == [.waiting: 1], "caption is not done yet")

        let caption = try await store.claim(stage: try stage("caption"), limit: 1)
        try await store.commit([done(caption[0], "A photo.")], pipeline: fan)
        #expect(try store.counts(stage: "extraction") == [.pending: 1])
        let extraction = try await store.claim(stage: try stage("extraction"), limit: 1)
        #expect(extraction.first?.upstream == ["caption": "A photo.", "statements": "A is x."])
    }

    @Test func abandonedRunningTasksReturnToPending() async throws {
        var a = TestSupport.record("a", pairs: [("q", "x")])
        a.position = 0
        try store.ingest([.record(a, problem: nil)], stages: pipeline.stages)
        _ = try await store.claim(stage: try #require(pipeline.stage(named: "statements")), limit: 1)
        #expect(try store.counts(stage: "statements")[.running] == 1)
        #expect(try store.releaseAbandoned() == 1)
        #expect(try store.counts(stage: "statements") == [.pending: 1])
    }

    @Test func duplicateIdsAreKeptApartDeterministically() throws {
        var first = TestSupport.record("dup", pairs: [("q", "1")])
        first.position = 0
        var second = TestSupport.record("dup", pairs: [("q", "2")])
        second.position = 1
        try store.ingest([.record(first, problem: nil), .record(second, problem: nil)], stages: pipeline.stages)
        #expect(try store.detail(id: "dup").record.pairs[0].answer == "1")
        #expect(try store.detail(id: "dup#1").record.pairs[0].answer == "2")
    }

    @Test func aSecondRunOnTheSameWorkDirectoryIsRefused() throws {
        let lock = try WorkDirectoryLock(workDirectory: dir.path)
        #expect(throws: WorkDirectoryLock.Busy.self) { try WorkDirectoryLock(workDirectory: dir.path) }
        _ = lock
    }
}
