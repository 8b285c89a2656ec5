/// Reads a model's answer to the statements prompt as one statement per line.
///
/// Real instruction-tuned models wrap the list: they open with "Sure! Here are the declarative
/// statements:", a markdown header or "**Statements:**", number the lines ("1.", "Statement 1:",
/// "**Statement #1:**"), repeat the prompt's last line, and close with "Let me know if…" or
/// "Note: …". None of that is a statement; a preamble taken for one is worse than a crash,
/// because it reaches the extraction prompt and the corpus without a word.
public enum StatementParser {
    /// What an answer holds: the statements, and the answer's own lines that carried them (so a
    /// stored output keeps the model's wording minus the lines that were not statements).
    public struct Reading: Sendable, Equatable {
        public var statements: [String]
        /// The answer's lines that held statements, as written, joined by "\n".
        public var text: String
        /// Lines left out as preamble, closing note, header or echo of the prompt.
        public var dropped: [String]
    }

    public static func parse(_ text: String) -> [String] {
        read(text).statements
    }

    public static func read(_ text: String) -> Reading {
        var statements: [String] = []
        var kept: [String] = []
        var dropped: [String] = []
        // "\r\n" is one Character in Swift: `isNewline` covers it, "\n" and "\r".
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: { $0.isNewline }) {
            let line = String(rawLine).trimmed
            if line.isEmpty { continue }
            if isFiller(line) {
                dropped.append(line)
                continue
            }
            let statement = stripQuotes(stripLabel(line))
            if statement.isEmpty || isFiller(statement) {
                dropped.append(line)
                continue
            }
            statements.append(statement)
            kept.append(line)
        }
        return Reading(statements: statements, text: kept.joined(separator: "\n"), dropped: dropped)
    }

    /// The answer read as `expected` statements when its lines are not: a one-paragraph answer
    /// ("The bus is red. There are two people.") is cut into sentences when that gives the count.
    public static func read(_ text: String, expected: Int) -> Reading {
        let reading = read(text)
        guard reading.statements.count != expected, expected > 1, reading.statements.count == 1 else { return reading }
        let parts = sentences(reading.statements[0])
        guard parts.count == expected else { return reading }
        return Reading(statements: parts, text: parts.joined(separator: "\n"), dropped: reading.dropped)
    }

    /// Sentences of a paragraph: cut after ".", "!" or "?" followed by a space and a capital
    /// letter or digit. Decimal numbers ("3.5") and lower-case continuations stay whole.
    static func sentences(_ paragraph: String) -> [String] {
        var out: [String] = []
        var current = ""
        let characters = Array(paragraph)
        var i = 0
        while i < characters.count {
            let c = characters[i]
            current.append(c)
            if ".!?".contains(c), i + 2 < characters.count, characters[i + 1] == " ",
                characters[i + 2].isUppercase || characters[i + 2].isNumber
            {
                out.append(current.trimmed)
                current = ""
                i += 1
            }
            i += 1
        }
        if !current.trimmed.isEmpty { out.append(current.trimmed) }
        return out
    }

    /// Openings of lines that talk about the answer instead of the image. Compared lowercased,
    /// after markdown emphasis is taken off.
    static let fillerOpenings = [
        "sure", "certainly", "of course", "okay", "ok,", "ok!", "absolutely", "great question", "alright",
        "here you go", "the following are", "the following is", "the following statement", "i have converted", "i've converted",
        "i converted", "i have rewritten",
        "i've rewritten", "these statements", "this statement", "each statement", "the statements above",
        "the statement above", "note:", "note that", "notes:", "(note", "please note", "let me know", "i hope",
        "hope this", "feel free", "if you need", "if you have", "if you'd like", "if you would like",
        "declarative statement", "question #", "answer:", "as there are", "your task is",
        "the resulting statements", "include each statement"
    ]

    static func isFiller(_ line: String) -> Bool {
        let bare = withoutEmphasis(line)
        if bare.isEmpty { return true }
        // Markdown headers, rules and code fences.
        if line.hasPrefix("#"), !(line.drop(while: { $0 == "#" }).first?.isNumber ?? false) { return true }
        if line.allSatisfy({ "-*_=`~ ".contains($0) }) || line.hasPrefix("```") { return true }
        // A line that announces what follows: "Here are the statements:", "**Statements:**".
        if bare.hasSuffix(":") { return true }
        let lowered = bare.lowercased()
        if fillerOpenings.contains(where: { lowered.hasPrefix($0) }) { return true }
        // "Here is a cat on the sofa." can be a statement; "Here are the declarative statements." is not.
        if ["here is", "here are", "here's", "below is", "below are"].contains(where: { lowered.hasPrefix($0) }),
            ["statement", "sentence", "converted", "rewritten", "version"].contains(where: { lowered.contains($0) })
        {
            return true
        }
        // A whole line in emphasis without a sentence's end: a header such as "**Statements**".
        if isEmphasized(line), !bare.hasSuffix("."), bare.split(separator: " ").count <= 4 { return true }
        return false
    }

    /// The line without markdown emphasis marks around it or a leading bullet.
    static func withoutEmphasis(_ line: String) -> String {
        var s = Substring(line)
        while let first = s.first, "*_".contains(first) { s = s.dropFirst() }
        while let last = s.last, "*_".contains(last) { s = s.dropLast() }
        return String(s).trimmed
    }

    static func isEmphasized(_ line: String) -> Bool {
        (line.hasPrefix("**") && line.hasSuffix("**")) || (line.hasPrefix("__") && line.hasSuffix("__"))
            || (line.count > 2 && line.hasPrefix("*") && line.hasSuffix("*"))
    }

    static func stripLabel(_ line: String) -> String {
        var s = Substring(line)
        // Markdown emphasis around a label: **Statement 1:** text
        while s.hasPrefix("*") || s.hasPrefix("_") { s = s.dropFirst() }
        var changed = true
        while changed {
            changed = false
            let trimmedStart = s.drop(while: { $0 == " " })
            if let bullet = trimmedStart.first, "-•*".contains(bullet), trimmedStart.dropFirst().first == " " {
                s = trimmedStart.dropFirst(2).drop(while: { $0 == " " || $0 == "*" || $0 == "_" })
                changed = true
            }
            // "Statement 1:", "Statement #1:", "Statement 1 -"
            if s.lowercased().hasPrefix("statement") {
                var rest = s.dropFirst("statement".count).drop(while: { $0 == " " || $0 == "#" })
                let digits = rest.prefix(while: { $0.isNumber })
                if !digits.isEmpty {
                    rest = rest.dropFirst(digits.count).drop(while: { $0 == "*" || $0 == "_" })
                    if let mark = rest.first, ":.)-".contains(mark) {
                        s = rest.dropFirst().drop(while: { $0 == " " || $0 == "*" || $0 == "_" })
                        changed = true
                    }
                }
            }
            // "1.", "1)", "(1)", "#1:"
            var rest = s.drop(while: { $0 == "(" || $0 == "#" })
            let digits = rest.prefix(while: { $0.isNumber })
            if !digits.isEmpty && digits.count <= 3 {
                rest = rest.dropFirst(digits.count)
                if let mark = rest.first, ".):".contains(mark), rest.dropFirst().first == " " || rest.count == 1 {
                    s = rest.dropFirst().drop(while: { $0 == " " || $0 == "*" || $0 == "_" })
                    changed = true
                }
            }
        }
        var result = String(s).trimmed
        while result.hasSuffix("**") { result.removeLast(2) }
        return result.trimmed
    }

    static func stripQuotes(_ line: String) -> String {
        let pairs: [(Character, Character)] = [("\"", "\""), ("“", "”"), ("'", "'")]
        for (open, close) in pairs where line.count >= 2 && line.first == open && line.last == close {
            return String(line.dropFirst().dropLast()).trimmed
        }
        return line
    }
}

/// Whether a statement is about its QA pair at all: it must share a content word or a number
/// with the (cleaned) question and answer. A count that matches by accident ("I'm sorry, I
/// can't help with that." for a one-pair record) is not a statement.
enum StatementCheck {
    public static func fits(_ statement: String, _ pair: QAPair) -> Bool {
        let expected = words(of: pair)
        if expected.isEmpty { return true }
        return !expected.isDisjoint(with: Words.contentWords(statement))
    }

    /// Content words of the question as the clean pipeline sees it (no `<image>`, answer-format
    /// suffixes or OCR hints), its options, and the answer (an option letter resolved).
    static func words(of pair: QAPair) -> Set<String> {
        let parsed = QuestionParser.parse(pair.question)
        var text = parsed.question + " " + pair.answer + " " + parsed.resolvedAnswer(pair.answer)
        for option in parsed.options { text += " " + option.text }
        if let context = parsed.context { text += " " + context }
        return Set(Words.contentWords(text))
    }

    /// The 1-based number of the first statement that does not fit its pair, if any.
    public static func firstMisfit(_ statements: [String], _ pairs: [QAPair]) -> Int? {
        for (i, (statement, pair)) in zip(statements, pairs).enumerated() where !fits(statement, pair) {
            return i + 1
        }
        return nil
    }
}
