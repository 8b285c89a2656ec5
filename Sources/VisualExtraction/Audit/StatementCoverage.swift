/// Whether each declarative statement made it into the description. A statement's key content
/// is its QA pair's answer words (an option letter read as its option's text, numbers as
/// digits); for yes/no answers, which carry no content of their own, the statement's content
/// words. A statement counts as present when its key words are in the description: all of
/// them for one or two words, three in five for longer answers (teachers paraphrase).
struct StatementCoverage: Sendable, Equatable {
    /// Statements found / statements checked; 1 when there were none.
    public var score: Double
    /// 0-based indices of statements not found.
    public var missing: [Int]
    /// One line per missing statement with the key words not found.
    public var evidence: [String]

    public static func measure(statements: [String], pairs: [QAPair], description: String) -> StatementCoverage {
        measure(statements: statements, pairs: pairs, descriptionWords: Words.tokens(description))
    }

    /// - Parameter descriptionWords: `Words.tokens` of the description.
    static func measure(statements: [String], pairs: [QAPair], descriptionWords: [String]) -> StatementCoverage {
        guard !statements.isEmpty else { return StatementCoverage(score: 1, missing: [], evidence: []) }
        let present = Set(descriptionWords.map(Words.normalized))
        var missing: [Int] = []
        var evidence: [String] = []
        for (index, statement) in statements.enumerated() {
            let pair = statements.count == pairs.count ? pairs[index] : nil
            let keys = keyWords(statement: statement, pair: pair)
            guard !keys.isEmpty else { continue }
            let absent = keys.filter { !present.contains($0) }
            let found = keys.count - absent.count
            let needed = keys.count <= 2 ? keys.count : Int((Double(keys.count) * 0.6).rounded(.up))
            if found < needed {
                missing.append(index)
                evidence.append("#\(index + 1) \"\(statement)\" (not found: \(absent.joined(separator: ", ")))")
            }
        }
        let score = Double(statements.count - missing.count) / Double(statements.count)
        return StatementCoverage(score: score, missing: missing, evidence: evidence)
    }

    /// The words that must appear for the statement to count as present, without repeats.
    static func keyWords(statement: String, pair: QAPair?) -> [String] {
        var words: [String] = []
        if let pair {
            let parsed = QuestionParser.parse(pair.question)
            words = Words.contentWords(parsed.resolvedAnswer(pair.answer))
        }
        if words.isEmpty { words = Words.contentWords(statement) }
        var seen = Set<String>()
        return words.filter { seen.insert($0).inserted }
    }
}
