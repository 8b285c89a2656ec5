/// Whether each declarative statement made it into the description. A statement's key content
/// is its QA pair's answer words (an option letter read as its option's text, numbers as
/// digits); for yes/no answers, which carry no content of their own, the statement's content
/// words. A statement counts as present when its key words are in the description: all of
/// them for one or two words, three in five for longer answers (teachers paraphrase). It also
/// counts as present when its own words are there: all of them (a statement copied word for word
/// is never missing), or three in five when the answer is long (LLaVA's detailed answers run to a
/// hundred words; the statement that condenses one is what the description is asked to carry).
struct StatementCoverage: Sendable, Equatable {
    /// Statements found / statements checked; 1 when there were none.
    public var score: Double
    /// 0-based indices of statements not found.
    public var missing: [Int]
    /// One line per missing statement with the words not found.
    public var evidence: [String]

    /// Answers with more key words than this are judged by the statement's own words too.
    static let longAnswer = 8

    public static func measure(statements: [String], pairs: [QAPair], description: String) -> StatementCoverage {
        measure(statements: statements, pairs: pairs, descriptionWords: Words.tokens(description))
    }

    /// Whether enough of `words` are present: all of one or two, three in five of more.
    static func enough(_ words: [String], in present: WordSet) -> (passes: Bool, absent: [String]) {
        let absent = words.filter { !present.contains($0) }
        let needed = words.count <= 2 ? words.count : Int((Double(words.count) * 0.6).rounded(.up))
        return (words.count - absent.count >= needed, absent)
    }

    /// - Parameter descriptionWords: `Words.tokens` of the description.
    static func measure(statements: [String], pairs: [QAPair], descriptionWords: [String]) -> StatementCoverage {
        guard !statements.isEmpty else { return StatementCoverage(score: 1, missing: [], evidence: []) }
        let present = WordSet(descriptionWords.map(Words.normalized))
        var missing: [Int] = []
        var evidence: [String] = []
        for (index, statement) in statements.enumerated() {
            let pair = statements.count == pairs.count ? pairs[index] : nil
            let keys = keyWords(statement: statement, pair: pair)
            guard !keys.isEmpty else { continue }
            let byKeys = enough(keys, in: present)
            if byKeys.passes { continue }
            let own = Words.uniqued(Words.contentWords(statement))
            let ownAbsent = own.filter { !present.contains($0) }
            if !own.isEmpty && ownAbsent.isEmpty { continue }
            if keys.count > longAnswer && enough(own, in: present).passes { continue }
            missing.append(index)
            var notFound: [String] = []
            if !ownAbsent.isEmpty { notFound.append("statement words not found: " + ownAbsent.joined(separator: ", ")) }
            if keys != own { notFound.append("answer words not found: " + byKeys.absent.joined(separator: ", ")) }
            evidence.append("#\(index + 1) \"\(statement)\" (\(notFound.joined(separator: "; ")))")
        }
        let score = Double(statements.count - missing.count) / Double(statements.count)
        return StatementCoverage(score: score, missing: missing, evidence: evidence)
    }

    /// The words that must appear for the statement to count as present, without repeats.
    static func keyWords(statement: String, pair: QAPair?) -> [String] {
        var words: [String] = []
        if let pair {
            words = Words.contentWords(ParsedQuestion.resolvedAnswer(pair.answer, question: pair.question))
        }
        if words.isEmpty { words = Words.contentWords(statement) }
        return Words.uniqued(words)
    }
}
