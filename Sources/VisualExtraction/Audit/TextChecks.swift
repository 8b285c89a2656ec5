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
        if let sentence = firstMatch(refusalPhrases, in: description, within: 300) {
            out.append(AuditFinding(.refusal, sentence))
        }
        if let sentence = firstMatch(metaPhrases, in: description, within: nil) {
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

    /// The sentence holding the first phrase found (case-insensitive), optionally only in the first `within` characters.
    static func firstMatch(_ phrases: [String], in text: String, within: Int?) -> String? {
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

    /// A loop shows as many repeated word 4-grams, or one long phrase again and again.
    static func repetition(_ words: [String]) -> String? {
        guard words.count >= 24 else { return nil }
        // 4-grams counted by a 64-bit hash of their words (joining every 4-gram into a string was
        // a sixth of the audit's time); only the most repeated one is spelled out.
        let wordHashes = words.map { Words.fnv1a($0.utf8) }
        func gram(_ i: Int) -> UInt64 {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for w in wordHashes[i..<(i + 4)] { h = (h ^ w) &* 0x0000_0100_0000_01B3 }
            return h
        }
        var counts: [UInt64: Int] = [:]
        var firstAt: [UInt64: Int] = [:]
        for i in 0...(words.count - 4) {
            let key = gram(i)
            counts[key, default: 0] += 1
            if firstAt[key] == nil { firstAt[key] = i }
        }
        let total = words.count - 3
        let repeated = counts.values.reduce(0) { $0 + ($1 - 1) }
        let share = Double(repeated) / Double(total)
        guard let most = counts.values.max() else { return nil }
        if share > 0.3 || most >= 5 {
            // Among the most repeated, the first in alphabetical order, as the text-keyed count chose.
            let top =
                counts.filter { $0.value == most }.keys.compactMap { firstAt[$0] }
                .map { words[$0..<($0 + 4)].joined(separator: " ") }.min() ?? ""
            return "\(Int((share * 100).rounded()))% of word 4-grams repeat; \"\(top)\" ×\(most)"
        }
        return nil
    }

    /// Non-Latin script, or a long text with almost no English function words.
    static func language(_ text: String, words: [String]) -> String? {
        var letters = 0
        var latin = 0
        for scalar in text.unicodeScalars {
            let value = scalar.value
            // ASCII letters by range; Unicode's property table only for the rest.
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
        guard letters >= 20 else { return nil }
        let latinShare = Double(latin) / Double(letters)
        if latinShare < 0.8 {
            return "\(Int((latinShare * 100).rounded()))% of letters are Latin script"
        }
        guard words.count >= 20 else { return nil }
        let markers = words.filter { Words.englishMarkers.contains($0) }.count
        let share = Double(markers) / Double(words.count)
        if share < 0.04 {
            return "\(markers) of \(words.count) words are common English function words (English prose has about 25%)"
        }
        return nil
    }
}
