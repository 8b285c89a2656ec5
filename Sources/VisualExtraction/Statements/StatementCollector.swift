/// Gets exactly one statement per QA pair, each about its pair, from a model that sometimes
/// returns more or fewer lines, wraps them in chatter, or answers something else.
///
/// The batch answer is accepted when its count is right and every statement shares a content
/// word or number with its pair (`StatementCheck`). Otherwise the same prompt is sent once more
/// with the pipeline's correction appended; then each pair is asked alone, and of that answer's
/// lines the first that fits the pair is taken. The path taken is reported with the statements,
/// and a record whose statements cannot be had fails as `statements_unusable` with the reason.
struct StatementCollector: Sendable {
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

    /// Why an answer's statements are not accepted for these pairs, or nil when they are.
    public static func problem(with statements: [String], for pairs: [QAPair]) -> String? {
        if statements.count != pairs.count { return "expected \(pairs.count), got \(statements.count)" }
        if let misfit = StatementCheck.firstMisfit(statements, pairs) {
            let excerpt = statements[misfit - 1].prefix(80)
            return "statement \(misfit) (\"\(excerpt)\") shares no word with its question and answer"
        }
        return nil
    }

    /// - Parameter ask: sends a prompt (the stage's other settings unchanged) to the teacher.
    public func collect(
        for record: CorpusRecord, upstream: [String: String], first: ChatResult,
        ask: (String) async -> Result<ChatResult, TeacherFailure>
    ) async -> Result<Collected, TeacherFailure> {
        let expected = record.pairs.count
        let firstReading = StatementParser.read(first.text, expected: expected)
        var collected = Collected(
            text: firstReading.text, statements: firstReading.statements, path: .batch, calls: 1,
            promptTokens: first.promptTokens, completionTokens: first.completionTokens, last: first)
        guard let firstProblem = StatementCollector.problem(with: firstReading.statements, for: record.pairs) else {
            return .success(collected)
        }

        func add(_ answer: ChatResult) {
            collected.calls += 1
            collected.promptTokens = (collected.promptTokens ?? 0) + (answer.promptTokens ?? 0)
            collected.completionTokens = (collected.completionTokens ?? 0) + (answer.completionTokens ?? 0)
            collected.last = answer
        }
        func unusable(_ message: String) -> TeacherFailure {
            TeacherFailure(message: message, status: nil, attempts: collected.calls, kind: .statementsUnusable)
        }

        let prompt: String
        let reask: String
        do {
            prompt = try stage.prompt(for: record, upstream: upstream)
            reask = prompt + (try correction.render(PromptContext.values(for: record, upstream: upstream, clean: stage.usesCleanValues)))
        } catch {
            return .failure(
                TeacherFailure(
                    message: "cannot render the statements correction: \(error)", status: nil,
                    attempts: collected.calls, kind: .promptUnrenderable))
        }
        var reaskProblem = "no answer"
        switch await ask(reask) {
        case let .failure(failure):
            return .failure(failure)
        case let .success(answer):
            add(answer)
            let reading = StatementParser.read(answer.text, expected: expected)
            guard let problem = StatementCollector.problem(with: reading.statements, for: record.pairs) else {
                collected.text = reading.text
                collected.statements = reading.statements
                collected.path = .reask
                return .success(collected)
            }
            reaskProblem = problem
        }
        var statements: [String] = []
        for (i, pair) in record.pairs.enumerated() {
            var single = record
            single.pairs = [pair]
            let singlePrompt: String
            do {
                singlePrompt = try stage.prompt(for: single, upstream: upstream)
            } catch {
                return .failure(
                    TeacherFailure(
                        message: "cannot render the statements prompt for pair \(i + 1): \(error)", status: nil,
                        attempts: collected.calls, kind: .promptUnrenderable))
            }
            switch await ask(singlePrompt) {
            case var .failure(failure):
                failure.message = "pair \(i + 1) of \(expected), asked alone: \(failure.message)"
                failure.attempts = collected.calls
                return .failure(failure)
            case let .success(answer):
                add(answer)
                // A model asked for one statement may still add lines around it: take the first
                // line that is about the pair, never simply the first line.
                let candidates = StatementParser.read(answer.text).statements
                guard let statement = candidates.first(where: { StatementCheck.fits($0, pair) }) else {
                    let got = candidates.isEmpty ? "no statement" : "no line about the pair (\"\(candidates[0].prefix(80))\")"
                    return .failure(
                        unusable(
                            """
                            statements: \(firstProblem); after the correction: \(reaskProblem); pair \(i + 1) asked alone: \(got)
                            """))
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
