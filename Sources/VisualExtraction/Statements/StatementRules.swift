/// Statements written without a model, for question shapes where a rule cannot get the grammar
/// wrong. Everything else goes to the LLM. What a rule guarantees: the statement is the question's
/// own words rearranged around the answer, and it is written only when the question's article
/// fits its noun ("a"/"an" by spelling), its verb agrees with the noun's number as the noun's form
/// tells it (an -s plural, people, men…), a colour answer is colour words, and a count is not 1.
/// It cannot fix a question's other mistakes. Measured in bench/RESULTS.md (share of pairs taken).
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
            let rest = Array(words[2...])
            let verb = lead == "is" ? "is" : "are"
            let first = rest[0].lowercased()
            // The rule copies the question's words, so it takes only what agrees: "a"/"an" before
            // the right sound, a singular noun after "is", a plural one after "are". "Is there a
            // skis?" or "Are there a dog?" go to the model, which can fix what the rule cannot.
            let article = first == "a" || first == "an"
            let nounWords = article || first == "any" ? Array(rest.dropFirst()) : rest
            guard let head = head(of: nounWords) else { return nil }
            if article && !articleFits(first, before: nounWords[0]) { return nil }
            switch (verb, number(of: head)) {
            case ("is", .plural), ("are", .singular): return nil
            case ("are", _) where article: return nil
            default: break
            }
            if yes.contains(answer) {
                // "There is any water." is not English; "some" would be a guess.
                if first == "any" { return nil }
                return Written(text: "There \(verb) \(rest.joined(separator: " ")).", rule: "there-is")
            }
            return Written(text: "There \(verb) no \(nounWords.joined(separator: " ")).", rule: "there-is")
        }

        // "What color is the bus?" + "Red" → "The bus is red."
        if lead == "what", ["color", "colour"].contains(words[1].lowercased()), ["is", "are"].contains(words[2].lowercased()),
            words.count >= 5, ["the", "this", "that", "these", "those"].contains(words[3].lowercased()),
            isColorAnswer(answer), let head = head(of: Array(words[4...]))
        {
            switch (words[2].lowercased(), number(of: head)) {
            case ("is", .plural), ("are", .singular): return nil
            default: break
            }
            let subject = words[3...].joined(separator: " ")
            let color = answer.hasSuffix(".") ? String(answer.dropLast()) : answer
            return Written(text: "\(capitalized(subject)) \(words[2].lowercased()) \(color).", rule: "color")
        }

        // "How many dogs are there?" + "3" → "There are 3 dogs." (not 1: the noun is plural)
        if lead == "how", words[1].lowercased() == "many", let number = count(answer), number != 1 {
            guard let verbIndex = words.firstIndex(where: { $0.lowercased() == "are" }), verbIndex > 2 else { return nil }
            // "How many of the dogs …" would read "There are 3 of the dogs": the model words it.
            guard !["of", "the", "a", "an"].contains(words[2].lowercased()), let head = head(of: Array(words[2..<verbIndex])),
                self.number(of: head) != .singular
            else { return nil }
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

    /// Colours and the words that join them ("dark blue", "black and white"): an answer like
    /// "It is red" would make "The bus is it is red."
    static let colorWords: Set<String> = [
        "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray", "grey", "silver",
        "gold", "golden", "beige", "tan", "navy", "maroon", "violet", "cream", "teal", "turquoise", "khaki", "olive",
        "dark", "light", "bright", "pale", "and", "or", "multicolored", "multicolor"
    ]

    static func isColorAnswer(_ answer: String) -> Bool {
        var text = answer
        if text.hasSuffix(".") { text.removeLast() }
        let words = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" || $0 == "/" }).map(String.init)
        return (1...4).contains(words.count) && words.allSatisfy(colorWords.contains)
            && !["and", "or"].contains(words.first ?? "") && !["and", "or"].contains(words.last ?? "")
    }

    /// Words after which a noun phrase in these questions has ended (its head is the word before).
    static let phraseEnds: Set<String> = [
        "in", "on", "at", "near", "under", "inside", "behind", "beside", "next", "with", "without", "wearing", "holding",
        "that", "who", "which", "to", "of", "for", "from", "by", "above", "below", "over", "between", "around", "visible",
        "shown", "pictured", "here", "there", "in?", "sitting", "standing", "being", "anywhere"
    ]
    /// Plurals without an s, and nouns whose number their form does not tell.
    static let irregularPlurals: Set<String> = ["people", "men", "women", "children", "feet", "teeth", "mice", "geese", "oxen"]
    static let eitherNumber: Set<String> = ["sheep", "fish", "deer", "series", "species", "aircraft", "bison", "moose", "glasses"]

    static let singularInIs: Set<String> = ["tennis", "axis", "iris", "chassis", "trellis", "debris", "pelvis", "ibis"]

    enum GrammaticalNumber { case singular, plural, unknown }

    /// The head noun of a noun phrase: its last word before a preposition or a participle.
    static func head(of phrase: [String]) -> String? {
        var last: String?
        for word in phrase {
            let clean = word.lowercased().filter { $0.isLetter || $0 == "'" || $0 == "-" }
            if phraseEnds.contains(clean) { break }
            if !clean.isEmpty { last = clean }
        }
        return last
    }

    /// The number a noun's form says, as far as it says it ("bus" and "glass" are singular).
    static func number(of noun: String) -> GrammaticalNumber {
        var word = noun
        if word.hasSuffix("'s") { word.removeLast(2) }
        if irregularPlurals.contains(word) { return .plural }
        if eitherNumber.contains(word) { return .unknown }
        guard word.count > 3, word.hasSuffix("s"), !["ss", "us", "ous"].contains(where: word.hasSuffix) else { return .singular }
        // -is: "skis", "taxis" are plural; "tennis", "crisis", "mantis" are not.
        if word.hasSuffix("is") && (["sis", "tis"].contains(where: word.hasSuffix) || singularInIs.contains(word)) { return .singular }
        return .plural
    }

    /// "a" before a consonant sound, "an" before a vowel sound, as far as spelling tells; words
    /// whose sound their spelling hides (hour, unicorn, one) are left to the model.
    static func articleFits(_ article: String, before word: String) -> Bool {
        let w = word.lowercased()
        guard let first = w.first else { return false }
        if ["hour", "honest", "honor", "heir", "uni", "use", "usu", "eu", "one", "once"].contains(where: w.hasPrefix) { return false }
        let vowel = "aeiou".contains(first)
        return article == "an" ? vowel : !vowel
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
