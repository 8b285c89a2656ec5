/// Statements written without a model, for question shapes where a rule cannot get the grammar
/// wrong. Everything else goes to the LLM. Measured in bench/RESULTS.md (share of pairs taken).
public enum StatementRules {
    public struct Written: Sendable, Equatable {
        public var text: String
        /// Which rule wrote it: "there-is", "color", "count".
        public var rule: String
    }

    static let yes: Set<String> = ["yes", "yes."]
    static let no: Set<String> = ["no", "no."]
    static let numberWords = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
        "nineteen", "twenty"
    ]

    public static func statement(for pair: QAPair) -> Written? {
        let parsed = QuestionParser.parse(pair.question)
        guard parsed.options.isEmpty, parsed.ocrTokens == nil, parsed.regions.isEmpty, parsed.context == nil else { return nil }
        var question = parsed.question.trimmed
        guard !question.contains("\n"), question.hasSuffix("?") else { return nil }
        question.removeLast()
        question = question.trimmed
        let answer = pair.answer.trimmed.lowercased()
        let words = question.split(separator: " ").map(String.init)
        guard words.count >= 3 else { return nil }
        let lead = words[0].lowercased()

        // "Is there a dog in the image?" / "Are there people on the bench?"
        if (lead == "is" || lead == "are"), words[1].lowercased() == "there", yes.contains(answer) || no.contains(answer) {
            let rest = words[2...].joined(separator: " ")
            let verb = lead == "is" ? "is" : "are"
            if yes.contains(answer) { return Written(text: "There \(verb) \(rest).", rule: "there-is") }
            var object = rest
            for article in ["a ", "an ", "any "] where object.lowercased().hasPrefix(article) {
                object = String(object.dropFirst(article.count))
            }
            return Written(text: "There \(verb) no \(object).", rule: "there-is")
        }

        // "What color is the bus?" + "Red" → "The bus is red."
        if lead == "what", ["color", "colour"].contains(words[1].lowercased()), ["is", "are"].contains(words[2].lowercased()),
            words.count >= 5, ["the", "this", "that", "these", "those"].contains(words[3].lowercased()),
            isShortAnswer(answer)
        {
            let subject = words[3...].joined(separator: " ")
            return Written(text: "\(capitalized(subject)) \(words[2].lowercased()) \(answer).", rule: "color")
        }

        // "How many dogs are there?" + "3" → "There are 3 dogs." (not 1: the noun is plural)
        if lead == "how", words[1].lowercased() == "many", let number = count(answer), number != 1 {
            guard let verbIndex = words.firstIndex(where: { $0.lowercased() == "are" }), verbIndex > 2 else { return nil }
            let noun = words[2..<verbIndex].joined(separator: " ")
            let tail = words[(verbIndex + 1)...].map { $0.lowercased() }
            let place: String
            if tail == ["there"] || tail.isEmpty {
                place = ""
            } else if tail.first == "there", tail.count > 1 {
                place = " " + words[(verbIndex + 2)...].joined(separator: " ")
            } else if ["in", "on", "at", "near", "under", "inside", "shown", "visible", "pictured"].contains(tail.first ?? "") {
                place = " " + words[(verbIndex + 1)...].joined(separator: " ")
            } else {
                return nil
            }
            let amount = number == 0 ? "no" : String(number)
            return Written(text: "There are \(amount) \(noun)\(place).", rule: "count")
        }
        return nil
    }

    /// The pairs rules can write (by index) and the record holding only the pairs left for the model.
    public static func split(_ record: CorpusRecord) -> (ruled: [Int: Written], remaining: CorpusRecord) {
        var ruled: [Int: Written] = [:]
        var remaining = record
        remaining.pairs = []
        for (i, pair) in record.pairs.enumerated() {
            if let written = statement(for: pair) { ruled[i] = written } else { remaining.pairs.append(pair) }
        }
        return (ruled, remaining)
    }

    /// Puts rule and model statements back in the order of the record's pairs.
    public static func merge(ruled: [Int: Written], model: [String], total: Int) -> [String] {
        var fromModel = model[...]
        return (0..<total).compactMap { i in ruled[i]?.text ?? fromModel.popFirst() }
    }

    static func isShortAnswer(_ answer: String) -> Bool {
        let words = answer.split(separator: " ")
        return (1...3).contains(words.count) && answer.allSatisfy { $0.isLetter || $0 == " " || $0 == "-" || $0 == "," }
    }

    static func count(_ answer: String) -> Int? {
        var text = answer
        if text.hasSuffix(".") { text.removeLast() }
        if let n = Int(text), n >= 0, n < 1000 { return n }
        return numberWords.firstIndex(of: text)
    }

    static func capitalized(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.uppercased() + text.dropFirst()
    }
}
