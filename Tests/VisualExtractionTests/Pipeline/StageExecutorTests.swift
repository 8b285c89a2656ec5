import Foundation
import Testing
@testable import VisualExtraction

/// What each output kind's executor makes of a teacher's answers, with the teacher played by a
/// script of answers: the requests it was sent are what the tests read.
@Suite struct StageExecutorTests {
    /// Answers requests in order from a script and keeps what was sent.
    final class ScriptedTeacher: @unchecked Sendable {
        private let lock = NSLock()
        private var script: [Result<ChatResult, TeacherFailure>]
        private(set) var sent: [ChatRequest] = []

        init(_ script: [Result<ChatResult, TeacherFailure>]) { self.script = script }

        func send(_ request: ChatRequest) -> Result<ChatResult, TeacherFailure> {
            lock.lock()
            defer { lock.unlock() }
            sent.append(request)
            guard !script.isEmpty else { return .failure(TeacherFailure(message: "script ran out", status: nil, attempts: 1)) }
            return script.removeFirst()
        }
    }

    static func answer(_ text: String, finish: String = "stop", prompt: Int = 10, completion: Int = 5) -> Result<ChatResult, TeacherFailure>
    {
        .success(
            ChatResult(
                text: text, finishReason: finish, promptTokens: prompt, completionTokens: completion, model: "m",
                mock: false, endpoint: "http://127.0.0.1:1/v1", attempts: 1))
    }

    static let pipeline: Pipeline? = try? Pipeline.parse(
        yaml: """
            name: t
            teacher: {model: m}
            image: {mode: original}
            stages:
              - name: statements
                max_tokens: 64
                output: statements
                rules: true
                count_correction: " (exactly {{count}})"
                template: "{{#each pairs}}Q: {{question}} A: {{answer}}\\n{{/each}}"
              - name: extraction
                needs: [statements]
                image: true
                max_tokens: 100
                retry_truncated_max_tokens: 400
                template: "Describe. {{statements}}"
              - name: answers
                needs: [extraction]
                max_tokens: 50
                output: answers
                template: "{{extraction}}"
            export: {instruction: "Describe the image."}
            """)

    func work(
        _ stageName: String, _ record: CorpusRecord, teacher: ScriptedTeacher, upstream: [String: String] = [:],
        image: @escaping @Sendable (String) throws(ImageError) -> PreparedImage = { path throws(ImageError) in
            throw ImageError.notFound(path: path)
        }
    ) throws -> StageWork {
        let stage = try #require(Self.pipeline?.stage(named: stageName))
        return StageWork(
            stage: stage, record: record, upstream: upstream, model: "m", temperature: 0, prepareImage: image,
            send: { teacher.send($0) })
    }

    @Test func aCutAnswerIsAskedOnceMoreWithTheLargerLimitAndBothCallsCount() async throws {
        let teacher = ScriptedTeacher([
            Self.answer("A red bus", finish: "length"), Self.answer("A red bus on a street.", prompt: 12, completion: 40)
        ])
        let record = TestSupport.record("r", pairs: [("What color is the bus?", "Red")], image: nil)
        let result = await TextExecutor().execute(
            try work("extraction", record, teacher: teacher, upstream: ["statements": "The bus is red."]))
        #expect(teacher.sent.map(\.maxTokens) == [100, 400])
        #expect(teacher.sent.first?.prompt == "Describe. The bus is red.")
        guard case let .done(completion) = result.outcome else { Issue.record("not done: \(result.outcome)"); return }
        #expect(completion.output == "A red bus on a street.")
        #expect(completion.promptTokens == 22)
        #expect(completion.completionTokens == 45)
        #expect(completion.attempts == 2)
        #expect(completion.note == "truncated at max_tokens 100; asked again with 400")
        #expect(completion.parsed == nil)
    }

    @Test func anEmptyAnswerFailsAsABadAnswerWithTheRequestKept() async throws {
        let teacher = ScriptedTeacher([Self.answer("  \n")])
        let record = TestSupport.record("r", pairs: [("What color is the bus?", "Red")], image: nil)
        let result = await TextExecutor().execute(
            try work("extraction", record, teacher: teacher, upstream: ["statements": "The bus is red."]))
        guard case let .failed(reason, kind) = result.outcome else { Issue.record("not failed"); return }
        #expect(kind == .badAnswer)
        #expect(reason.contains("empty answer"))
        #expect(result.request?.contains("Describe.") == true)
    }

    @Test func aPromptThatCannotBeRenderedFailsWithoutACall() async throws {
        let teacher = ScriptedTeacher([Self.answer("never sent")])
        let record = TestSupport.record("r", pairs: [("What color is the bus?", "Red")], image: nil)
        let result = await TextExecutor().execute(try work("extraction", record, teacher: teacher))
        guard case let .failed(reason, kind) = result.outcome else { Issue.record("not failed"); return }
        #expect(kind == .promptUnrenderable)
        #expect(reason.hasPrefix("cannot render the extraction prompt"))
        #expect(teacher.sent.isEmpty)
    }

    @Test func aTeacherFailureKeepsItsStatusAndEndpoint() async throws {
        let failure = TeacherFailure(message: "HTTP 503", status: 503, attempts: 4, kind: .httpStatus, endpoint: "http://127.0.0.1:9/v1")
        let teacher = ScriptedTeacher([.failure(failure)])
        let record = TestSupport.record("r", pairs: [("What is on the table?", "A cup")], image: nil)
        let result = await StatementsExecutor().execute(try work("statements", record, teacher: teacher))
        guard case let .failed(reason, kind) = result.outcome else { Issue.record("not failed"); return }
        #expect((reason, kind) == ("HTTP 503", .httpStatus))
        #expect(result.failureStatus == 503)
        #expect(result.failureEndpoint == "http://127.0.0.1:9/v1")
    }

    @Test func anImageThatCannotBePreparedFailsBeforeAnyCall() async throws {
        let teacher = ScriptedTeacher([Self.answer("never sent")])
        let record = TestSupport.record("r", pairs: [("What is on the table?", "A cup")], image: "coco/missing.jpg")
        let result = await TextExecutor().execute(
            try work("extraction", record, teacher: teacher, upstream: ["statements": "A cup is on the table."]))
        guard case let .failed(_, kind) = result.outcome else { Issue.record("not failed"); return }
        #expect(kind == .imageMissing)
        #expect(teacher.sent.isEmpty)
    }

    @Test func pairsEveryRuleWritesNeedNoCall() async throws {
        let teacher = ScriptedTeacher([])
        let record = TestSupport.record("r", pairs: [("Is there a dog in the image?", "Yes")], image: nil)
        let result = await StatementsExecutor().execute(try work("statements", record, teacher: teacher))
        #expect(teacher.sent.isEmpty)
        guard case let .done(completion) = result.outcome else { Issue.record("not done"); return }
        #expect(completion.model == "rules")
        #expect(completion.attempts == 0)
        #expect(completion.parsed == #"["There is a dog in the image."]"#)
    }

    @Test func ruleAndModelStatementsAreMergedInPairOrderAndChatterIsLeftOut() async throws {
        let teacher = ScriptedTeacher([Self.answer("Sure! Here are the statements:\nThe man holds a kite.\nLet me know if you need more.")])
        let record = TestSupport.record(
            "r", pairs: [("Is there a dog in the image?", "Yes"), ("What is the man holding?", "A kite")], image: nil)
        let result = await StatementsExecutor().execute(try work("statements", record, teacher: teacher))
        // Only the pair no rule writes goes to the model.
        #expect(teacher.sent.count == 1)
        #expect(teacher.sent.first?.prompt.contains("dog") == false)
        guard case let .done(completion) = result.outcome else { Issue.record("not done"); return }
        #expect(completion.output == "There is a dog in the image.\nThe man holds a kite.")
        #expect(completion.note == "statements: 1 by rule, 1 by model")
    }

    @Test func aWrongCountIsAskedAgainWithTheCorrection() async throws {
        let teacher = ScriptedTeacher([
            Self.answer("The cup is on the table."),
            Self.answer("The cup is on the table.\nThe man holds a kite.")
        ])
        let record = TestSupport.record(
            "r", pairs: [("What is on the table?", "A cup"), ("What is the man holding?", "A kite")], image: nil)
        let result = await StatementsExecutor().execute(try work("statements", record, teacher: teacher))
        #expect(teacher.sent.count == 2)
        #expect(teacher.sent.last?.prompt.hasSuffix(" (exactly 2)") == true)
        guard case let .done(completion) = result.outcome else { Issue.record("not done"); return }
        #expect(completion.note == "statements via re-ask (2 calls)")
        #expect(completion.promptTokens == 20)
    }

    @Test func answersAreLinesAndAWrongCountIsNoted() async throws {
        let teacher = ScriptedTeacher([Self.answer("Red")])
        let record = TestSupport.record("r", pairs: [("What color is the bus?", "Red"), ("How many people?", "2")], image: nil)
        let result = await AnswersExecutor().execute(try work("answers", record, teacher: teacher, upstream: ["extraction": "A red bus."]))
        guard case let .done(completion) = result.outcome else { Issue.record("not done"); return }
        #expect(completion.parsed == #"["Red"]"#)
        #expect(completion.note == "expected 2 answers, got 1")
    }
}
