import Foundation
import Testing
@testable import VisualExtraction

/// The count check: batch → re-ask → one pair at a time, with the path recorded.
@Suite struct StatementCollectorTests {
    let stage: Stage
    let collector: StatementCollector
    let record = TestSupport.record("r", pairs: [("What color is the bus?", "Red"), ("Is it moving?", "No"), ("How many wheels?", "4")])

    init() throws {
        let pipeline = try Pipeline.load(path: TestSupport.paperPipeline.path)
        stage = try #require(pipeline.statementsStage)
        collector = StatementCollector(stage: stage, correction: try #require(stage.countCorrection))
    }

    func answer(_ text: String) -> ChatResult {
        ChatResult(
            text: text, finishReason: "stop", promptTokens: 10, completionTokens: 5, model: "m", mock: false, endpoint: "e", attempts: 1)
    }

    /// A teacher that answers from a script and remembers the prompts it got.
    final class ScriptedTeacher: @unchecked Sendable {
        var answers: [String]
        var prompts: [String] = []
        init(_ answers: [String]) { self.answers = answers }
        func ask(_ prompt: String) -> Result<ChatResult, TeacherFailure> {
            prompts.append(prompt)
            let text = answers.isEmpty ? "" : answers.removeFirst()
            return .success(
                ChatResult(
                    text: text, finishReason: "stop", promptTokens: 10, completionTokens: 5, model: "m", mock: false, endpoint: "e",
                    attempts: 1))
        }
    }

    @Test func rightCountIsTakenAsIs() async throws {
        let teacher = ScriptedTeacher([])
        let result = try await collector.collect(
            for: record, upstream: [:], first: answer("1. The bus is red.\n2. It is not moving.\n3. It has 4 wheels.")
        ) { teacher.ask($0) }.get()
        #expect(result.path == .batch && result.calls == 1 && teacher.prompts.isEmpty)
        #expect(result.statements == ["The bus is red.", "It is not moving.", "It has 4 wheels."])
    }

    @Test func wrongCountIsReaskedOnceWithTheCorrection() async throws {
        let teacher = ScriptedTeacher(["The bus is red.\nIt is not moving.\nIt has 4 wheels."])
        let result = try await collector.collect(
            for: record, upstream: [:], first: answer("The bus is red and not moving.\nIt has 4 wheels.")
        ) { teacher.ask($0) }.get()
        #expect(result.path == .reask && result.calls == 2)
        #expect(result.statements.count == 3)
        #expect(result.promptTokens == 20 && result.completionTokens == 10, "usage of both calls is counted")
        let original = try stage.prompt(for: record, upstream: [:])
        #expect(
            teacher.prompts == [
                original + "\n(Answer with exactly 3 statements, one per line, in the order of the questions, and nothing else.)"
            ])
    }

    @Test func thenEachPairIsAskedAlone() async throws {
        let teacher = ScriptedTeacher(["Two lines\nonly.", "The bus is red.", "It is not moving.", "It has 4 wheels."])
        let result = try await collector.collect(for: record, upstream: [:], first: answer("One line.")) { teacher.ask($0) }.get()
        #expect(result.path == .perPair && result.calls == 5)
        #expect(result.statements == ["The bus is red.", "It is not moving.", "It has 4 wheels."])
        #expect(result.text == "The bus is red.\nIt is not moving.\nIt has 4 wheels.")
        #expect(!teacher.prompts[1].contains("As there are"), "single pairs use the one-pair prompt")
        #expect(teacher.prompts[3].contains("Question #1: How many wheels?"))
    }

    @Test func aRecordWithoutStatementsFailsWithTheReason() async {
        let teacher = ScriptedTeacher(["x\ny", "", "", ""])
        let result = await collector.collect(for: record, upstream: [:], first: answer("One line.")) { teacher.ask($0) }
        guard case let .failure(failure) = result else { Issue.record("must fail"); return }
        #expect(failure.kind == .statementsUnusable)
        #expect(
            failure.message.contains("expected 3, got 1") && failure.message.contains("pair 1 asked alone: no statement"),
            "\(failure.message)")
    }

    @Test func aPairAskedAlonePicksTheLineAboutIt() async throws {
        let teacher = ScriptedTeacher([
            "still one line", "I would describe it as follows.\nThe bus is red.", "Sure!\nIt is not moving.",
            "It has 4 wheels.\nThe bus is red."
        ])
        let result = try await collector.collect(for: record, upstream: [:], first: answer("One line.")) { teacher.ask($0) }.get()
        #expect(result.path == .perPair)
        #expect(result.statements == ["The bus is red.", "It is not moving.", "It has 4 wheels."])
    }

    @Test func rightCountWrongContentIsAskedAgain() async throws {
        // Three lines, but the model answered other questions: the count alone would accept it.
        let teacher = ScriptedTeacher(["The bus is red.\nIt is not moving.\nIt has 4 wheels."])
        let result = try await collector.collect(
            for: record, upstream: [:],
            first: answer("The sky is blue.\nA tree stands nearby.\nGrass covers the ground.")
        ) { teacher.ask($0) }.get()
        #expect(result.path == .reask && result.calls == 2)
        #expect(result.statements == ["The bus is red.", "It is not moving.", "It has 4 wheels."])
    }

    @Test func statementsThatNeverFitFailAsUnusable() async {
        let teacher = ScriptedTeacher(["I cannot see the image.\nNo.\nMaybe.", "I cannot see the image.", "", ""])
        let result = await collector.collect(for: record, upstream: [:], first: answer("Unclear.\nUnknown.\nNot sure.")) { teacher.ask($0) }
        guard case let .failure(failure) = result else { Issue.record("must fail"); return }
        #expect(failure.kind == .statementsUnusable)
        #expect(failure.message.contains("shares no word with its question and answer"), "\(failure.message)")
        #expect(failure.message.contains("no line about the pair"), "\(failure.message)")
    }

    @Test(arguments: ["short-once", "short-always"])
    func endToEndAgainstAMockThatMiscounts(_ fault: String) async throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let run = try await TestSupport.runVXT([
            "run", "pipelines/paper.yaml", "--input", "samples/llava_sample.json", "--images", "samples/images",
            "--work", work.path, "--mock-statement-fault", fault
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let status = try JobStore.open(workDirectory: work.path).status()
        let path = fault == "short-once" ? "statements via re-ask (2 calls)" : "statements via per-pair"
        let rerouted = status.notes.filter { $0.stage == "statements" && $0.reason.hasPrefix(path) }.reduce(0) { $0 + $1.count }
        #expect(rerouted == 8, "the eight records with more than one pair: \(status.notes)")
        #expect(status.stages.first?.counts[.done] == 10)
        let out = work.appendingPathComponent("out.jsonl")
        #expect(try await TestSupport.runVXT(["export", "--work", work.path, "--format", "jsonl", "--out", out.path]).status == 0)
        for line in try TestSupport.jsonLines(out) {
            guard case let .array(pairs)? = line["qa_pairs"], case let .array(statements)? = line["statements"] else {
                Issue.record("fields"); continue
            }
            #expect(pairs.count == statements.count, "\(line["id"]?.stringValue ?? "?")")
        }
    }
}
