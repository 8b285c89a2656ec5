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

    public func run(batchSize: Int = 2000, progress: ((Int) -> Void)? = nil) throws -> Outcome {
        let start = Date()
        let maxTokens = definition.stages.first { $0.name == descriptionStage }?.maxTokens
        var position = -1
        var audited = 0
        while true {
            let (inputs, last) = try store.samplesToAudit(
                after: position, limit: batchSize, descriptionStage: descriptionStage,
                statementsStage: statementsStage, answersStage: answersStage)
            guard let last else { break }
            position = last
            if inputs.isEmpty { continue }
            let results = Auditor.parallelMap(inputs) { Auditor.audit($0, maxTokens: maxTokens) }
            try store.saveAudits(results)
            audited += results.count
            progress?(audited)
        }
        try corpusChecks()
        return Outcome(audited: audited, seconds: Date().timeIntervalSince(start), summary: try store.auditSummary())
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
        var flags: [(key: String, finding: AuditFinding)] = []
        if samples.count >= Auditor.minimumSamplesForLength {
            let sorted = samples.map(\.words).sorted()
            let median = max(1, sorted[sorted.count / 2])
            for sample in samples where sample.words * Auditor.lengthFactor < median || sample.words > median * Auditor.lengthFactor {
                flags.append(
                    (
                        sample.key,
                        AuditFinding(
                            .lengthOutlier,
                            "\(sample.words) words; the corpus median is \(median) (flagged below \(median / Auditor.lengthFactor) or above \(median * Auditor.lengthFactor))"
                        )
                    ))
            }
        }
        for match in NearDuplicates.find(samples.map(\.signature)) {
            flags.append(
                (
                    samples[match.duplicate].key,
                    AuditFinding(
                        .nearDuplicate,
                        "like \(samples[match.original].key) (estimated Jaccard similarity of word 4-grams \(String(format: "%.2f", match.similarity)))"
                    )
                ))
        }
        for problem in try store.imageProblems() {
            flags.append((problem.key, AuditFinding(.imageProblem, problem.reason)))
        }
        try store.replaceCorpusFlags(flags)
    }

    /// Below a few dozen samples a median says little about what length is normal.
    static let minimumSamplesForLength = 20
    static let lengthFactor = 4

    /// Checks a batch on every core; results in input order.
    static func parallelMap<T: Sendable, R: Sendable>(_ items: [T], _ transform: @Sendable (T) -> R) -> [R] {
        let slots = ParallelSlots<R>(items.count)
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let chunk = (items.count + workers - 1) / workers
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let range = (worker * chunk)..<min(items.count, (worker + 1) * chunk)
            guard !range.isEmpty else { return }
            var local: [R] = []
            local.reserveCapacity(range.count)
            for i in range { local.append(transform(items[i])) }
            // Each worker owns a disjoint range of slots.
            for (offset, value) in local.enumerated() { slots.values[range.lowerBound + offset] = value }
        }
        return slots.values.compactMap { $0 }
    }
}

/// Result slots that workers fill at disjoint indices.
private final class ParallelSlots<R>: @unchecked Sendable {
    var values: [R?]
    init(_ n: Int) { values = Array(repeating: nil, count: n) }
}
