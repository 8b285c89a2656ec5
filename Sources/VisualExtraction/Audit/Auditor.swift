import Foundation

/// Runs the audit over a work directory: per-sample checks for samples not yet audited (or
/// whose outputs changed since), committed batch by batch so an interrupted audit resumes,
/// then the corpus-wide checks (length outliers, near-duplicates, image problems) over all.
/// The checks are the small files beside this one; this type only moves data between them
/// and the store.
public struct Auditor {
    public let store: JobStore
    public let definition: PipelineDefinition

    /// Which stages hold the description, the statements and (optionally) the answerability answers.
    let graph: StageGraph

    public init(store: JobStore) throws {
        self.store = store
        definition = try store.storedPipeline()
        graph = StageGraph(definition)
    }

    var descriptionStage: String { graph.descriptionStage }
    var statementsStage: String? { graph.statementsStage }
    /// The optional answerability stage: the first stage whose output is `answers`.
    var answersStage: String? { graph.answersStage }

    public struct Outcome: Sendable {
        /// Samples checked in this call (the rest were audited before and have not changed).
        public var audited: Int
        public var seconds: Double
        public var summary: AuditSummary
    }

    /// Audits what is new or changed, window by window of input positions: each core takes the
    /// next window, reads it on its own connection, checks it and saves it (saves queue for the
    /// one writer while the other core checks), so nothing waits for a serial read between
    /// parallel batches. Findings depend on the sample alone, not on the window or the order.
    public func run(batchSize: Int = 1000, progress: (@Sendable (Int) -> Void)? = nil) throws -> Outcome {
        let start = Date()
        let maxTokens = definition.stages.first { $0.name == descriptionStage }?.maxTokens
        let (records, lastPosition) = try store.recordSpan()
        let anyAudited = try store.hasAudits()
        // A shard's positions are sparse (every n-th): windows span enough positions to hold
        // about `batchSize` records.
        let span = max(1, batchSize * (lastPosition + 1) / max(1, records))
        let windows = Array(stride(from: -1, to: lastPosition, by: span))
        let work = AuditWork(windows: windows, progress: progress)
        let workers = max(1, min(windows.count, ProcessInfo.processInfo.activeProcessorCount))
        let (store, stages) = (store, (description: descriptionStage, statements: statementsStage, answers: answersStage))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let after = work.nextWindow() {
                do {
                    let inputs = try store.samplesToAudit(
                        after: after, through: after + span, descriptionStage: stages.description,
                        statementsStage: stages.statements, answersStage: stages.answers, anyAudited: anyAudited)
                    if inputs.isEmpty { continue }
                    let results = inputs.map { Auditor.audit($0, maxTokens: maxTokens) }
                    try store.saveAudits(results)
                    work.audited(results.count)
                } catch {
                    work.fail(error)
                }
            }
        }
        if let error = work.failure { throw error }
        try corpusChecks()
        return Outcome(audited: work.total, seconds: Date().timeIntervalSince(start), summary: try store.auditSummary())
    }

    /// Every check that looks at one sample alone.
    static func audit(_ input: AuditInput, maxTokens: Int?) -> SampleAudit {
        // The description's words, read once for every check that counts, matches or hashes them.
        let words = Words.tokens(input.description)
        var findings = TextChecks.findings(
            description: input.description, words: words, finishReason: input.finishReason, maxTokens: maxTokens)
        let statements = input.statements ?? []
        let coverage = StatementCoverage.measure(statements: statements, pairs: input.record.pairs, descriptionWords: words)
        if !coverage.missing.isEmpty {
            findings.append(
                AuditFinding(
                    .missingStatements,
                    "\(coverage.missing.count) of \(statements.count) missing: "
                        + coverage.evidence.joined(separator: "; ")))
        }
        var answered: Int?
        var asked: Int?
        if let answers = input.answers {
            let pairs = input.record.pairs
            var wrong: [String] = []
            var right = 0
            for (index, pair) in pairs.enumerated() {
                let predicted = index < answers.count ? answers[index] : ""
                if AnswerMatch.matches(predicted: predicted, gold: pair.answer, question: pair.question) {
                    right += 1
                } else {
                    let question = QuestionParser.parse(pair.question).question.replacingOccurrences(of: "\n", with: " ")
                    wrong.append(
                        "Q\(index + 1) \"\(question.prefix(100))\": gold \"\(pair.answer.prefix(60))\", from the description \"\(predicted.prefix(60))\""
                    )
                }
            }
            answered = right
            asked = pairs.count
            if !wrong.isEmpty {
                findings.append(
                    AuditFinding(.unanswerable, "\(wrong.count) of \(pairs.count) not answerable: " + wrong.joined(separator: "; ")))
            }
        }
        return SampleAudit(
            key: input.key, stamp: input.stamp, words: words.count, statements: statements.count,
            coverage: coverage, questionsAnswered: answered, questionsAsked: asked,
            signature: NearDuplicates.signature(words: words), findings: findings)
    }

    /// Length outliers and near-duplicates over every audited sample, and records whose image failed.
    func corpusChecks() throws {
        let samples = try store.auditedSamples(descriptionStage: descriptionStage)
        let imageProblems = try store.imageProblems()
        let duplicates = NearDuplicates.find(samples.signatures)
        let median =
            samples.words.count >= Auditor.minimumSamplesForLength ? max(1, samples.words.sorted()[samples.words.count / 2]) : nil
        // Findings are made as they are written, not collected first: at full scale they are
        // hundreds of thousands of strings.
        try store.replaceCorpusFlags { flag in
            if let median {
                for (index, words) in samples.words.enumerated()
                where words * Auditor.lengthFactor < median || words > median * Auditor.lengthFactor {
                    try flag(
                        samples.keys[index],
                        AuditFinding(
                            .lengthOutlier,
                            "\(words) words; the corpus median is \(median) (flagged below \(median / Auditor.lengthFactor) or above \(median * Auditor.lengthFactor))"
                        ))
                }
            }
            for match in duplicates {
                try flag(
                    samples.keys[match.duplicate],
                    AuditFinding(
                        .nearDuplicate,
                        "like \(samples.keys[match.original]) (estimated Jaccard similarity of word 4-grams \(String(format: "%.2f", match.similarity)))"
                    ))
            }
            for problem in imageProblems {
                try flag(problem.key, AuditFinding(.imageProblem, problem.reason))
            }
        }
    }

    /// Below a few dozen samples a median says little about what length is normal.
    static let minimumSamplesForLength = 20
    static let lengthFactor = 4

}

/// The audit's windows handed to the cores, its count, and its first failure (which stops the
/// handing out of windows).
private final class AuditWork: @unchecked Sendable {
    private let lock = NSLock()
    private let windows: [Int]
    private var next = 0
    private(set) var total = 0
    private(set) var failure: (any Error)?
    private let progress: (@Sendable (Int) -> Void)?

    init(windows: [Int], progress: (@Sendable (Int) -> Void)?) {
        self.windows = windows
        self.progress = progress
    }

    func nextWindow() -> Int? {
        lock.withLock {
            guard failure == nil, next < windows.count else { return nil }
            next += 1
            return windows[next - 1]
        }
    }

    func audited(_ count: Int) {
        lock.withLock {
            total += count
            progress?(total)
        }
    }

    func fail(_ error: any Error) {
        lock.withLock { if failure == nil { failure = error } }
    }
}
