import Foundation

/// `output: statements`: one declarative statement per QA pair.
///
/// Pairs a rule can write safely skip the model (`rules: true`); the rest go in one call. The
/// answer is read past the model's chatter (`StatementParser`); when the count or a statement's
/// content does not fit and the stage has a `count_correction`, the `StatementCollector` asks
/// again, then pair by pair. Rule and model statements are merged back in pair order.
struct StatementsExecutor: StageExecutor {
    public init() {}

    public func execute(_ work: StageWork) async -> StageResult {
        let stage = work.stage
        var record = work.record
        var ruled: [Int: StatementRules.Written] = [:]
        if stage.definition.rules == true {
            let split = StatementRules.split(work.record)
            ruled = split.ruled
            record = split.remaining
            if record.pairs.isEmpty {
                let statements = StatementRules.merge(ruled: ruled, model: [], total: work.record.pairs.count)
                let completion = StageCompletion(
                    output: statements.joined(separator: "\n"), parsed: JSONValue.arrayText(statements),
                    note: "statements: \(ruled.count) by rule, 0 by model", finishReason: nil, promptTokens: 0, completionTokens: 0,
                    model: "rules", endpoint: nil, mock: false, attempts: 0)
                return StageResult(outcome: .done(completion), request: nil)
            }
        }
        var asked: StageWork.Asked
        switch await work.ask(for: record) {
        case let .failed(result): return result
        case let .answered(answer): asked = answer
        }
        var reading = Self.read(asked.answer.text, for: record)
        if let cleaned = reading.text { asked.answer.text = cleaned }
        if let correction = stage.countCorrection, reading.note != nil {
            let collector = StatementCollector(stage: stage, correction: correction)
            let request = asked.request
            let outcome = await collector.collect(for: record, upstream: work.upstream, first: asked.answer) { prompt in
                var next = request
                next.prompt = prompt
                return await work.send(next).flatMap(ModelReasoning.separate)
            }
            switch outcome {
            case let .failure(error):
                return .failed(by: error, request: asked.logged)
            case let .success(collected):
                asked.answer = collected.last
                asked.answer.text = collected.text
                asked.answer.promptTokens = collected.promptTokens
                asked.answer.completionTokens = collected.completionTokens
                reading = Reading(
                    statements: collected.statements, note: "statements via \(collected.path.rawValue) (\(collected.calls) calls)")
            }
        }
        if !ruled.isEmpty {
            let merged = StatementRules.merge(ruled: ruled, model: reading.statements, total: work.record.pairs.count)
            asked.answer.text = merged.joined(separator: "\n")
            reading = Reading(
                statements: merged,
                note: [
                    "statements: \(ruled.count) by rule, \(record.pairs.count) by model",
                    reading.note
                ].compactMap { $0 }.joined(separator: "; "))
        }
        return work.done(asked, lines: reading.statements, note: reading.note)
    }

    /// What the stage keeps from one answer.
    public struct Reading: Sendable, Equatable {
        public var statements: [String]
        /// Why the statements do not fit the pairs (a count or content mismatch); not a failure
        /// by itself: without a `count_correction` the task is done and the note kept.
        public var note: String?
        /// The output to store instead of the raw answer when lines that were not statements (a
        /// preamble, a closing note) were left out, so they never reach a later prompt; nil keeps
        /// the answer as the model wrote it.
        public var text: String?
    }

    public static func read(_ text: String, for record: CorpusRecord) -> Reading {
        let reading = StatementParser.read(text, expected: record.pairs.count)
        let note = StatementCollector.problem(with: reading.statements, for: record.pairs).map { "statements: \($0)" }
        return Reading(statements: reading.statements, note: note, text: reading.dropped.isEmpty ? nil : reading.text)
    }
}

/// `output: answers`: one answer per line, one per QA pair, written from the description alone;
/// the answerability check of `vxt audit` compares them with the gold answers.
struct AnswersExecutor: StageExecutor {
    public init() {}

    public func execute(_ work: StageWork) async -> StageResult {
        switch await work.ask(for: work.record) {
        case let .failed(result):
            return result
        case let .answered(asked):
            let lines = StatementParser.parse(asked.answer.text)
            let expected = work.record.pairs.count
            return work.done(asked, lines: lines, note: lines.count == expected ? nil : "expected \(expected) answers, got \(lines.count)")
        }
    }
}
