/// Gets exactly one statement per QA pair from a model that sometimes returns more or fewer lines.
///
/// The batch answer is accepted when its count is right. Otherwise the same prompt is sent once
/// more with the pipeline's correction appended; then each pair is asked alone. The path taken is
/// reported with the statements, and a record whose statements cannot be had fails with the reason.
public struct StatementCollector: Sendable {
    public enum Path: String, Sendable {
        case batch
        case reask = "re-ask"
        case perPair = "per-pair"
    }

    public struct Collected: Sendable {
        public var text: String
        public var statements: [String]
        public var path: Path
        public var calls: Int
        public var promptTokens: Int?
        public var completionTokens: Int?
        public var last: ChatResult
    }

    public let stage: Stage
    public let correction: PromptTemplate

    public init(stage: Stage, correction: PromptTemplate) {
        self.stage = stage
        self.correction = correction
    }

    /// - Parameter ask: sends a prompt (the stage's other settings unchanged) to the teacher.
    public func collect(for record: CorpusRecord, upstream: [String: String], first: ChatResult,
                        ask: (String) async -> Result<ChatResult, TeacherFailure>) async -> Result<Collected, TeacherFailure> {
        let expected = record.pairs.count
        var collected = Collected(text: first.text, statements: StatementParser.parse(first.text), path: .batch, calls: 1,
                                  promptTokens: first.promptTokens, completionTokens: first.completionTokens, last: first)
        if collected.statements.count == expected { return .success(collected) }
        let firstCount = collected.statements.count

        func add(_ answer: ChatResult) {
            collected.calls += 1
            collected.promptTokens = (collected.promptTokens ?? 0) + (answer.promptTokens ?? 0)
            collected.completionTokens = (collected.completionTokens ?? 0) + (answer.completionTokens ?? 0)
            collected.last = answer
        }

        let prompt: String
        let reask: String
        do {
            prompt = try stage.prompt(for: record, upstream: upstream)
            reask = prompt + (try correction.render(PromptContext.values(for: record, upstream: upstream, clean: stage.usesCleanValues)))
        } catch {
            return .failure(TeacherFailure(message: "cannot render the statements correction: \(error)", status: nil, attempts: collected.calls))
        }
        switch await ask(reask) {
        case let .failure(failure):
            return .failure(failure)
        case let .success(answer):
            add(answer)
            let statements = StatementParser.parse(answer.text)
            if statements.count == expected {
                collected.text = answer.text
                collected.statements = statements
                collected.path = .reask
                return .success(collected)
            }
        }
        var statements: [String] = []
        for (i, pair) in record.pairs.enumerated() {
            var single = record
            single.pairs = [pair]
            let singlePrompt: String
            do {
                singlePrompt = try stage.prompt(for: single, upstream: upstream)
            } catch {
                return .failure(TeacherFailure(message: "cannot render the statements prompt for pair \(i + 1): \(error)", status: nil, attempts: collected.calls))
            }
            switch await ask(singlePrompt) {
            case let .failure(failure):
                return .failure(TeacherFailure(message: "pair \(i + 1) of \(expected), asked alone: \(failure.message)", status: failure.status, attempts: collected.calls))
            case let .success(answer):
                add(answer)
                guard let statement = StatementParser.parse(answer.text).first else {
                    return .failure(TeacherFailure(
                        message: "statements: expected \(expected), got \(firstCount), then a wrong count again after the correction, then no statement for pair \(i + 1) asked alone",
                        status: nil, attempts: collected.calls))
                }
                statements.append(statement)
            }
        }
        collected.statements = statements
        collected.text = statements.joined(separator: "\n")
        collected.path = .perPair
        return .success(collected)
    }
}
