/// Extract+Think's answerability criterion: does an answer written from the description alone
/// agree with the gold answer? Short answers (three words or fewer, option letters, numbers)
/// must match after normalization (case, punctuation, articles, number words) or appear whole
/// in the prediction; longer answers must have three in five of their content words present.
enum AnswerMatch {
    public static func matches(predicted: String, gold: String, question: String) -> Bool {
        let parsed = QuestionParser.parse(question)
        let resolved = parsed.resolvedAnswer(gold)
        let predictedWords = Words.tokens(predicted).map(Words.normalized).filter { !articles.contains($0) }
        guard !predictedWords.isEmpty else { return false }
        // A letter answer may come back as the letter or as the option's text.
        if let option = parsed.options.first(where: { $0.letter.caseInsensitiveCompare(gold.trimmed) == .orderedSame }) {
            if predictedWords.first == option.letter.lowercased() && predictedWords.count <= 3 { return true }
            return matches(predictedWords, goldText: option.text)
        }
        return matches(predictedWords, goldText: resolved)
    }

    static func matches(_ predictedWords: [String], goldText: String) -> Bool {
        let goldWords = Words.tokens(goldText).map(Words.normalized).filter { !articles.contains($0) }
        guard !goldWords.isEmpty else { return false }
        if goldWords == predictedWords { return true }
        // "No, there is no water" and "Yes, but no people": the first yes or no decides.
        if goldWords.count == 1, goldWords[0] == "yes" || goldWords[0] == "no" {
            return predictedWords.first { $0 == "yes" || $0 == "no" } == goldWords[0]
        }
        if goldWords.count <= 3 {
            // Whole-word containment: "red" in "the bus is red", not "red" in "tired".
            guard goldWords.count <= predictedWords.count else { return false }
            for start in 0...(predictedWords.count - goldWords.count)
            where Array(predictedWords[start..<(start + goldWords.count)]) == goldWords {
                return true
            }
            return false
        }
        let content = Set(goldWords.filter { !Words.isFunctionWord($0) })
        guard !content.isEmpty else { return false }
        let present = Set(predictedWords)
        let found = content.filter { present.contains($0) }.count
        return Double(found) >= (Double(content.count) * 0.6).rounded(.up)
    }

    static let articles: Set<String> = ["a", "an", "the"]
}
