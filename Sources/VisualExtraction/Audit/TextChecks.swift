import Foundation

/// Checks that need only one description: truncation, emptiness, refusals, meta leakage,
/// loops and language. Each returns the evidence a person needs to agree or disagree.
enum TextChecks {
    static func findings(description: String, finishReason: String?, maxTokens: Int?) -> [AuditFinding] {
        findings(description: description, words: Words.tokens(description), finishReason: finishReason, maxTokens: maxTokens)
    }

    /// - Parameter words: `Words.tokens(description)`, when the caller has them already.
    static func findings(description: String, words: [String], finishReason: String?, maxTokens: Int?) -> [AuditFinding] {
        var out: [AuditFinding] = []
        if finishReason == "length" {
            let tail = String(description.suffix(60)).replacingOccurrences(of: "\n", with: " ")
            out.append(AuditFinding(.truncated, "finish_reason length\(maxTokens.map { " at max_tokens \($0)" } ?? ""); ends \"…\(tail)\""))
        }
        if words.count < minimumWords {
            out.append(AuditFinding(.empty, "\(words.count) word\(words.count == 1 ? "" : "s"): \"\(description.trimmed.prefix(80))\""))
        }
        if let sentence = firstMatch(refusals, in: description, within: 300) {
            out.append(AuditFinding(.refusal, sentence))
        }
        if let sentence = firstMatch(metaTalk, in: description, within: nil) {
            out.append(AuditFinding(.metaLeak, sentence))
        }
        if let loop = repetition(words) {
            out.append(AuditFinding(.repetition, loop))
        }
        if let language = language(description, words: words) {
            out.append(AuditFinding(.wrongLanguage, language))
        }
        return out
    }

    static let minimumWords = 5

    /// Said near the start by a teacher that declines.
    static let refusalPhrases = [
        "i'm sorry", "i am sorry", "i cannot", "i can't", "i can not", "as an ai", "i'm unable", "i am unable",
        "i'm not able", "i am not able", "cannot assist", "can't assist", "unable to view", "unable to see the image"
    ]

    /// The task's own vocabulary: a description of an image has no reason to use it.
    static let metaPhrases = [
        "the statement", "statements", "as mentioned", "question #", "declarative", "the provided information",
        "the given information", "information provided", "provided statement", "as stated", "the question",
        "the answer is", "based on the information", "according to the information", "as described above"
    ]

    static let refusals = Phrases(refusalPhrases)
    static let metaTalk = Phrases(metaPhrases)

    /// Lowercase ASCII phrases as bytes, with the bytes they start with.
    struct Phrases: Sendable {
        let texts: [String]
        let bytes: [[UInt8]]
        /// Indexed by byte: bit i set when phrase i starts with it (at most 64 phrases).
        let starting: [UInt64]

        init(_ texts: [String]) {
            precondition(texts.count <= 64, "Phrases holds at most 64 phrases")
            self.texts = texts
            bytes = texts.map { Array($0.utf8) }
            var starting = [UInt64](repeating: 0, count: 256)
            for (index, phrase) in bytes.enumerated() { if let first = phrase.first { starting[Int(first)] |= 1 << UInt64(index) } }
            self.starting = starting
        }
    }

    /// The sentence holding the first phrase found (case-insensitive), optionally only in the first `within` characters.
    static func firstMatch(_ phrases: Phrases, in text: String, within: Int?) -> String? {
        guard mayContain(phrases, in: text, within: within) else { return nil }
        return scanForFirstMatch(phrases.texts, in: text, within: within)
    }

    /// `firstMatch` without the quick pass: lowercases the text and looks for each phrase.
    static func scanForFirstMatch(_ phrases: [String], in text: String, within: Int?) -> String? {
        let haystack = within.map { String(text.prefix($0)) } ?? text
        let lower = haystack.lowercased()
        // The earliest phrase by its UTF-8 offset: a byte search (Foundation's range(of:) per
        // phrase was a tenth of the audit's time); phrases are ASCII, so offsets fall on scalars.
        let bytes = Array(lower.utf8)
        var earliest: (start: Int, length: Int)?
        for phrase in phrases {
            let needle = Array(phrase.utf8)
            guard let first = needle.first, needle.count <= bytes.count else { continue }
            var i = 0
            let lastStart = min(bytes.count - needle.count, (earliest?.start ?? Int.max) - 1)
            while i <= lastStart {
                if bytes[i] == first && bytes[i..<(i + needle.count)].elementsEqual(needle) {
                    earliest = (i, needle.count)
                    break
                }
                i += 1
            }
        }
        guard let earliest else { return nil }
        let from = lower.utf8.index(lower.utf8.startIndex, offsetBy: earliest.start)
        let best = from..<lower.utf8.index(from, offsetBy: earliest.length)
        // Lowercasing can change lengths outside ASCII; cut by offsets in the lowercased copy's own sentence.
        let sentenceStart = lower[..<best.lowerBound].lastIndex { ".!?\n".contains($0) }.map { lower.index(after: $0) } ?? lower.startIndex
        let sentenceEnd = lower[best.upperBound...].firstIndex { ".!?\n".contains($0) }.map { lower.index(after: $0) } ?? lower.endIndex
        let offsetStart = lower.distance(from: lower.startIndex, to: sentenceStart)
        let length = lower.distance(from: sentenceStart, to: sentenceEnd)
        let sentence = haystack.dropFirst(offsetStart).prefix(length).trimmed
        let phrase = String(lower[best])
        return "\"\(phrase)\": \(sentence.prefix(200))"
    }

    /// False only when `text` surely holds none of `phrases` (lowercase ASCII) in its first
    /// `within` characters: one pass over its bytes, lowercased on the fly, where `firstMatch`
    /// lowercases a copy and scans it once per phrase. Most descriptions hold none. Any byte
    /// outside ASCII answers "maybe", since lowercasing beyond ASCII can make ASCII letters (K, the
    /// Kelvin sign, becomes k); so can a phrase found, and `firstMatch` then reads the text as before.
    static func mayContain(_ phrases: Phrases, in text: String, within: Int?) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            // In ASCII a character is one byte, or two for "\r\n".
            let end = within.map { min(bytes.count, 2 * $0) } ?? bytes.count
            var i = 0
            while i < end {
                let byte = bytes[i]
                if byte >= 0x80 { return true }
                let lower = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
                var candidates = phrases.starting[Int(lower)]
                while candidates != 0 {
                    let phrase = phrases.bytes[candidates.trailingZeroBitCount]
                    candidates &= candidates - 1
                    if i + phrase.count <= end {
                        var j = 1
                        while j < phrase.count {
                            let b = bytes[i + j]
                            if (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b | 0x20 : b) != phrase[j] { break }
                            j += 1
                        }
                        if j == phrase.count { return true }
                    }
                }
                i += 1
            }
            return false
        }
    }

    /// Letters, and Latin-script letters among them: an ASCII text by its bytes, any other by its
    /// scalars (ASCII by range, Unicode's property table only for the rest).
    static func letterCounts(_ text: String) -> (letters: Int, latin: Int) {
        var contiguous = text
        let ascii = contiguous.withUTF8 { bytes -> Int? in
            var letters = 0
            for byte in bytes {
                if byte >= 0x80 { return nil }
                if (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A { letters += 1 }
            }
            return letters
        }
        if let ascii { return (ascii, ascii) }
        var letters = 0
        var latin = 0
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value < 0x80 {
                if (value | 0x20) >= 0x61 && (value | 0x20) <= 0x7A {
                    letters += 1
                    latin += 1
                }
            } else if scalar.properties.isAlphabetic {
                letters += 1
                if value < 0x250 { latin += 1 }
            }
        }
        return (letters, latin)
    }

    /// A loop shows as many repeated word 4-grams, or one long phrase again and again.
    static func repetition(_ words: [String]) -> String? {
        guard words.count >= 24 else { return nil }
        // 4-grams by a 64-bit hash of their words (joining every 4-gram into a string was a sixth
        // of the audit's time), sorted so that repeats are runs: cheaper than counting them in
        // dictionaries. Only the most repeated one is spelled out.
        let wordHashes = words.map { Words.fnv1a($0) }
        let total = words.count - 3
        var grams: [(hash: UInt64, at: Int)] = []
        grams.reserveCapacity(total)
        for i in 0..<total {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for w in wordHashes[i..<(i + 4)] { h = (h ^ w) &* 0x0000_0100_0000_01B3 }
            grams.append((h, i))
        }
        grams.sort { $0.hash < $1.hash }
        var distinct = 0
        var most = 0
        var mostFirst: [Int] = []  // where each of the most repeated first occurs
        var start = 0
        while start < grams.count {
            var end = start + 1
            var first = grams[start].at
            while end < grams.count && grams[end].hash == grams[start].hash {
                first = min(first, grams[end].at)
                end += 1
            }
            distinct += 1
            if end - start > most {
                most = end - start
                mostFirst = [first]
            } else if end - start == most {
                mostFirst.append(first)
            }
            start = end
        }
        let share = Double(total - distinct) / Double(total)
        if share > 0.3 || most >= 5 {
            // Among the most repeated, the first in alphabetical order, as the text-keyed count chose.
            let top = mostFirst.map { words[$0..<($0 + 4)].joined(separator: " ") }.min() ?? ""
            return "\(Int((share * 100).rounded()))% of word 4-grams repeat; \"\(top)\" ×\(most)"
        }
        return nil
    }

    /// Non-Latin script, or a long text with almost no English function words.
    static func language(_ text: String, words: [String]) -> String? {
        let (letters, latin) = letterCounts(text)
        guard letters >= 20 else { return nil }
        let latinShare = Double(latin) / Double(letters)
        if latinShare < 0.8 {
            return "\(Int((latinShare * 100).rounded()))% of letters are Latin script"
        }
        guard words.count >= 20 else { return nil }
        let markers = words.filter(Words.isEnglishMarker).count
        let share = Double(markers) / Double(words.count)
        if share < 0.04 {
            return "\(markers) of \(words.count) words are common English function words (English prose has about 25%)"
        }
        return nil
    }
}
