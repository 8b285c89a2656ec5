import Foundation

/// A human turn taken apart: the question itself and what corpora add around it.
///
/// The raw text stays in `QAPair.question` (the paper-faithful pipeline sends it unchanged);
/// this structure serves the clean pipeline, `vxt inspect` and rules that need the parts.
struct ParsedQuestion: Sendable, Equatable, Codable {
    public var question: String
    /// A `Context: ...` line (ScienceQA), without the label.
    public var context: String?
    /// Multiple-choice options in order, letter and text.
    public var options: [Option]
    /// TextVQA's "Reference OCR token: ..." hint, split on commas.
    public var ocrTokens: [String]?
    /// Answer-format instructions found at the end of the turn.
    public var answerFormats: [AnswerFormat]
    /// Normalised `[x1, y1, x2, y2]` boxes mentioned in the question.
    public var regions: [[Double]]
    /// How many `<image>` tokens the turn held.
    public var imageTokens: Int

    public struct Option: Sendable, Equatable, Codable {
        public var letter: String
        public var text: String
    }

    public enum AnswerFormat: String, Sendable, Codable, CaseIterable {
        /// "Answer the question using a single word or phrase."
        case singleWordOrPhrase = "single-word-or-phrase"
        /// "Answer with the option's letter from the given choices directly."
        case optionLetter = "option-letter"
        /// VizWiz: "When the provided information is insufficient, respond with 'Unanswerable'."
        case unanswerableAllowed = "unanswerable-allowed"
        /// "Answer yes or no." and similar.
        case yesNo = "yes-no"
        /// "Answer with a number."
        case number
        /// MM-Vet style length requests, "You should write at least 150 words."
        case length
    }

    /// The answer with a multiple-choice letter replaced by its option text ("B" → "coffee").
    public func resolvedAnswer(_ answer: String) -> String {
        let trimmed = answer.trimmed
        guard let letter = ParsedQuestion.optionLetter(trimmed) else { return trimmed }
        if let option = options.first(where: { $0.letter.caseInsensitiveEquals(letter) }) { return option.text }
        return trimmed
    }

    /// `resolvedAnswer` for a raw question, parsed only when the answer can name an option:
    /// option letters are one letter, so most answers need no parse (the audit resolves every answer).
    static func resolvedAnswer(_ answer: String, question: String) -> String {
        guard optionLetter(answer.trimmed) != nil else { return answer.trimmed }
        return QuestionParser.parse(question).resolvedAnswer(answer)
    }

    /// "B", "B.", "B)", "(B)" without its marks, when that is one character: what an option letter can be.
    private static func optionLetter(_ trimmed: String) -> String? {
        var letter = trimmed
        if letter.hasSuffix(".") || letter.hasSuffix(")") { letter.removeLast() }
        if letter.hasPrefix("(") { letter.removeFirst() }
        return letter.count == 1 ? letter : nil
    }
}

/// Parses human turns of LLaVA-style corpora into `ParsedQuestion`.
enum QuestionParser {
    static let formatLines: [(StaticString, ParsedQuestion.AnswerFormat)] = [
        ("answer the question using a single word or phrase", .singleWordOrPhrase),
        ("answer with the option's letter from the given choices directly", .optionLetter),
        ("answer with the option letter from the given choices directly", .optionLetter),
        ("when the provided information is insufficient, respond with 'unanswerable'", .unanswerableAllowed),
        ("answer yes or no", .yesNo),
        ("please answer yes or no", .yesNo),
        ("answer with a number", .number)
    ]

    public static func parse(_ raw: String) -> ParsedQuestion {
        // Most questions are one line without markup; the byte scan below keeps them cheap.
        var imageTokens = 0
        var text = raw
        if raw.containsUTF8Byte(UInt8(ascii: "<")) {
            (text, imageTokens) = removingImageTokens(raw)
        }
        var formats: [ParsedQuestion.AnswerFormat] = []
        var ocr: [String]?
        var context: String?
        var options: [ParsedQuestion.Option] = []
        var kept: [String] = []
        for lineText in lines(text) {
            let line = lineText.trimmed
            if line.isEmpty { continue }
            if let first = line.utf8.first, maybeInstruction(first) {
                if let format = formatLines.first(where: { line.utf8.hasASCIIPrefixIgnoringCase($0.0) })?.1 {
                    formats.append(format)
                    continue
                }
                if line.utf8.hasASCIIPrefixIgnoringCase("you should write at least") && line.hasSuffix("words.") {
                    formats.append(.length)
                    continue
                }
                if line.utf8.hasASCIIPrefixIgnoringCase("reference ocr token") {
                    let value = line[line.index(after: line.firstIndex(of: ":") ?? line.startIndex)...]
                    ocr = value.split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
                    continue
                }
                if line.utf8.hasASCIIPrefixIgnoringCase("context:") {
                    let value = String(line.dropFirst("context:".count)).trimmed
                    context = value.isEmpty ? nil : value
                    continue
                }
                if line.utf8.hasASCIIPrefixIgnoringCase("options:") {
                    let inline = inlineOptions(String(line.dropFirst("options:".count)))
                    if !inline.isEmpty {
                        options.append(contentsOf: inline)
                        continue
                    }
                }
            }
            if let option = optionLine(line) {
                options.append(option)
                continue
            }
            kept.append(line)
        }
        let question = kept.count == 1 ? kept[0] : kept.joined(separator: "\n")
        let regions = question.containsUTF8Byte(UInt8(ascii: "[")) ? regions(in: question) : []
        return ParsedQuestion(
            question: question, context: context, options: options, ocrTokens: ocr, answerFormats: formats,
            regions: regions, imageTokens: imageTokens)
    }

    /// The non-empty lines, cut at "\n" with memchr (the generic `split` of the UTF-8 view was
    /// 7% of reading a corpus).
    static func lines(_ text: String) -> [String] {
        var result: [String] = []
        var text = text
        text.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return }
            var start = 0
            while start < bytes.count {
                let end =
                    memchr(base + start, 0x0a, bytes.count - start).map {
                        UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base
                    } ?? bytes.count
                if end > start { result.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)) }
                start = end + 1
            }
        }
        return result
    }

    /// The text without its `<image>` tokens, and how many there were; by bytes, since Foundation's
    /// `range(of:)` was a tenth of reading a corpus.
    static func removingImageTokens(_ text: String) -> (String, Int) {
        let token = Array("<image>".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var count = 0
        var bytes = Array(text.utf8)[...]
        while let open = bytes.firstIndex(of: token[0]) {
            out.append(contentsOf: bytes[..<open])
            if bytes[open...].starts(with: token) {
                count += 1
                bytes = bytes[(open + token.count)...]
            } else {
                out.append(token[0])
                bytes = bytes[(open + 1)...]
            }
        }
        out.append(contentsOf: bytes)
        // Removing ASCII tokens from valid UTF-8 leaves valid UTF-8.
        return (String(decoding: out, as: UTF8.self), count)
    }

    /// First letters of the instruction lines above (answer..., when..., please..., reference...,
    /// context..., you should..., options...): other lines skip the lowercasing.
    @inline(__always)
    static func maybeInstruction(_ first: UInt8) -> Bool {
        switch first | 0x20 {
        case UInt8(ascii: "a"), UInt8(ascii: "w"), UInt8(ascii: "p"), UInt8(ascii: "r"), UInt8(ascii: "c"), UInt8(ascii: "y"),
            UInt8(ascii: "o"):
            return true
        default:
            return false
        }
    }

    /// "A. text", "B) text", "(C) text" on its own line.
    static func optionLine(_ line: String) -> ParsedQuestion.Option? {
        let bytes = line.utf8
        guard bytes.count >= 3 else { return nil }
        let b0 = bytes[bytes.startIndex], b1 = bytes[bytes.index(after: bytes.startIndex)]
        let letterFirst = b0 >= UInt8(ascii: "A") && b0 <= UInt8(ascii: "Z")
        guard (letterFirst && (b1 == UInt8(ascii: ".") || b1 == UInt8(ascii: ")") || b1 == UInt8(ascii: ":"))) || b0 == UInt8(ascii: "(")
        else { return nil }
        var rest = Substring(line)
        if rest.hasPrefix("(") { rest = rest.dropFirst() }
        guard let letter = rest.first, letter.isUppercase, letter.isASCII, letter.isLetter else { return nil }
        rest = rest.dropFirst()
        guard let mark = rest.first, mark == "." || mark == ")" || mark == ":" else { return nil }
        rest = rest.dropFirst()
        guard rest.first == " " else { return nil }
        let text = String(rest).trimmed
        return text.isEmpty ? nil : .init(letter: String(letter), text: text)
    }

    /// "A: red, B: blue, C: green" (letters followed by ':' or '.').
    static func inlineOptions(_ text: String) -> [ParsedQuestion.Option] {
        var options: [ParsedQuestion.Option] = []
        let chars = Array(text)
        var starts: [(index: Int, letter: Character)] = []
        var i = 0
        while i + 1 < chars.count {
            let atStart = i == 0 || chars[i - 1] == " " || chars[i - 1] == ","
            if atStart, chars[i].isUppercase, chars[i].isASCII, chars[i + 1] == ":" || chars[i + 1] == "." {
                if i + 2 >= chars.count || chars[i + 2] == " " { starts.append((i, chars[i])) }
            }
            i += 1
        }
        for (n, start) in starts.enumerated() {
            let end = n + 1 < starts.count ? starts[n + 1].index : chars.count
            var value = String(chars[(start.index + 2)..<end]).trimmed
            while value.hasSuffix(",") || value.hasSuffix(";") { value.removeLast() }
            value = value.trimmed
            if !value.isEmpty { options.append(.init(letter: String(start.letter), text: value)) }
        }
        return options.count >= 2 ? options : []
    }

    /// `[0.12, 0.30, 0.45, 0.80]`-style boxes with four numbers in 0...1.
    static func regions(in text: String) -> [[Double]] {
        var boxes: [[Double]] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "[") {
            guard let close = rest[open...].firstIndex(of: "]") else { break }
            let numbers = rest[rest.index(after: open)..<close].split(separator: ",").compactMap { Double($0.trimmed) }
            if numbers.count == 4, numbers.allSatisfy({ (0...1).contains($0) }) { boxes.append(numbers) }
            rest = rest[rest.index(after: close)...]
        }
        return boxes
    }
}

extension String.UTF8View {
    /// Whether the text starts with `prefix` (lowercase ASCII), ignoring ASCII case, without allocating.
    func hasASCIIPrefixIgnoringCase(_ prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard self.count >= count else { return false }
        let p = prefix.utf8Start
        var i = 0
        for byte in self {
            if i == count { return true }
            let lowered = (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
            if lowered != p[i] { return false }
            i += 1
        }
        return i == count
    }
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        lowercased() == other.lowercased()
    }

    /// Whether the UTF-8 holds `byte`: memchr over native storage (the generic `contains` on
    /// the UTF-8 view walks it byte by byte through its iterator).
    func containsUTF8Byte(_ byte: UInt8) -> Bool {
        let found = utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return false }
            return memchr(base, Int32(byte), bytes.count) != nil
        }
        return found ?? utf8.contains(byte)
    }
}

extension Substring {
    var trimmed: String { String(self).trimmed }
}
