import Foundation
import Testing
@testable import VisualExtraction

/// The audit's fast paths (byte scans, hashed word tables, sorted 4-grams) against the plain
/// code they stand in for, on texts made to hit their edges: case, "\r\n", letters that lowercase
/// into ASCII (K, the Kelvin sign; İ), phrases cut by the 300-character window, loops.
@Suite struct AuditFastPathTests {
    /// A small deterministic generator, so a failure names a text that can be replayed.
    struct Texts {
        var seed: UInt64
        mutating func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(seed >> 33) % bound
        }
        /// Text from phrase pieces, words and odd characters, in random case.
        mutating func text(pieces: [String], length: Int) -> String {
            let odd = [" ", ". ", "\r\n", "\n", "\u{212A}", "İ", "é", "’", "I", "AS AN", "Statement", "  "]
            var text = ""
            for _ in 0..<length {
                var piece: String
                switch next(8) {
                case 0: piece = pieces[next(pieces.count)]
                case 1: piece = odd[next(odd.count)]
                default: piece = ["the", "bus", "is", "red", "i", "can", "not", "as", "an", "ai"][next(10)]
                }
                if next(4) == 0 { piece = piece.uppercased() }
                if next(2) == 0, let first = piece.first { piece = String(first).uppercased() + piece.dropFirst() }
                text += piece + (next(3) == 0 ? "" : " ")
            }
            return text
        }
    }

    @Test func theQuickPassNeverHidesAPhraseTheFullScanFinds() {
        var texts = Texts(seed: 11)
        var found = 0
        for round in 0..<4000 {
            let refusal = round % 2 == 0
            let phrases = refusal ? TextChecks.refusals : TextChecks.metaTalk
            let within = refusal ? 300 : nil
            let text = texts.text(pieces: phrases.texts, length: 1 + texts.next(refusal ? 80 : 12))
            let full = TextChecks.scanForFirstMatch(phrases.texts, in: text, within: within)
            #expect(TextChecks.firstMatch(phrases, in: text, within: within) == full, "\(text.debugDescription)")
            if full != nil { found += 1 }
        }
        // Both outcomes were tried many times.
        #expect(found > 500 && found < 3500, "\(found) of 4000 texts held a phrase")
    }

    @Test func aKelvinSignThatLowercasesIntoAPhraseIsStillFound() {
        // K (U+212A) lowercases to an ASCII k: the quick pass must not read it as "no phrase here".
        let phrases = TextChecks.Phrases(["looks okay", "kelvin"])
        for text in ["It looks O\u{212A}ay to me.", "\u{212A}elvin", "The \u{212A}ELVIN scale."] {
            let full = TextChecks.scanForFirstMatch(phrases.texts, in: text, within: nil)
            #expect(full != nil)
            #expect(TextChecks.firstMatch(phrases, in: text, within: nil) == full, "\(text)")
        }
        // A phrase inside the first 300 characters but past the first 300 bytes ("\r\n" is one character).
        let lines = String(repeating: "A line.\r\n", count: 36) + "I cannot see the image."
        #expect(
            lines.prefix(300).hasSuffix("I cannot see")
                && lines.utf8.firstRange(of: "I cannot".utf8)!.lowerBound > lines.utf8.index(lines.utf8.startIndex, offsetBy: 300))
        #expect(TextChecks.firstMatch(TextChecks.refusals, in: lines, within: 300) != nil)
    }

    /// The repetition check as it was: 4-grams counted in dictionaries.
    static func referenceRepetition(_ words: [String]) -> String? {
        guard words.count >= 24 else { return nil }
        var counts: [String: Int] = [:]
        for i in 0...(words.count - 4) { counts[words[i..<(i + 4)].joined(separator: " "), default: 0] += 1 }
        let total = words.count - 3
        let repeated = counts.values.reduce(0) { $0 + ($1 - 1) }
        let share = Double(repeated) / Double(total)
        guard let most = counts.values.max() else { return nil }
        guard share > 0.3 || most >= 5 else { return nil }
        let top = counts.filter { $0.value == most }.keys.min() ?? ""
        return "\(Int((share * 100).rounded()))% of word 4-grams repeat; \"\(top)\" ×\(most)"
    }

    @Test func repeatedFourGramsAreCountedAsBefore() {
        var texts = Texts(seed: 5)
        var flagged = 0
        for _ in 0..<3000 {
            // Few distinct words make loops; more make prose.
            let vocabulary = 2 + texts.next(12)
            let words = (0..<(20 + texts.next(200))).map { _ in "w\(texts.next(vocabulary))" }
            let expected = Self.referenceRepetition(words)
            #expect(TextChecks.repetition(words) == expected, "\(words)")
            if expected != nil { flagged += 1 }
        }
        #expect(flagged > 300 && flagged < 2700, "\(flagged) of 3000 loops flagged")
    }

    /// `Words.normalized` as it was, on Strings.
    static func referenceNormalized(_ token: String) -> String {
        var w = token
        if w.hasSuffix("'s") { w.removeLast(2) }
        if let digit = Words.numberWords[w] { return digit }
        if w.count > 3, w.hasSuffix("s"), !w.hasSuffix("ss"), !w.hasSuffix("us"), !w.hasSuffix("is") {
            w.removeLast()
            if w.hasSuffix("ie") { w.removeLast(2); w += "y" }
        }
        if let synonym = Words.spellings[w] { return synonym }
        return w
    }

    @Test func wordsNormalizeAsBefore() {
        let words = [
            "astronaut's", "buses", "glasses", "bus", "cities", "ties", "pies", "is", "its", "ones", "twos", "two's", "gray",
            "grays", "colours", "centres", "dozens", "pairs", "s", "'s", "ss", "us", "this", "corpus", "virus", "naïves", "café's",
            "İs", "ﬁs", "東京s", "ßs", "iés", "kies", "1000", "3.5", "u.s", "thirteen", "single", "dozen", "pair"
        ]
        for word in words { #expect(Words.normalized(word) == Self.referenceNormalized(word), "\(word)") }
        var texts = Texts(seed: 3)
        let alphabet = Array("abeiosuy'’éİ東")
        for _ in 0..<5000 {
            let word = String((0..<(1 + texts.next(7))).map { _ in alphabet[texts.next(alphabet.count)] })
            for token in Words.tokens(word) {
                #expect(Words.normalized(token) == Self.referenceNormalized(token), "\(token.debugDescription)")
            }
        }
    }

    @Test func aWordTableFindsExactlyItsWords() {
        var table = WordTable<Int>(capacity: 4)
        let members = (0..<5000).map { "word\($0)" } + ["", "é", "東京", "a b"]
        for (index, word) in members.enumerated() { table[word] = index }
        table["word7"] = -7  // replaced, not added
        #expect(table.count == members.count)
        for (index, word) in members.enumerated() {
            #expect(table[word] == (word == "word7" ? -7 : index))
            var bytes = word
            #expect(bytes.withUTF8 { table.value(utf8: $0) } == table[word])
        }
        for stranger in (0..<5000).map({ "drow\($0)" }) + ["word", "word5000", "Word1", "東"] {
            #expect(table[stranger] == nil)
        }
        var set = WordSet()
        #expect(set.insert("bus") && !set.insert("bus") && set.insert("buses"))
        #expect(set.contains("bus") && !set.contains("Bus") && set.count == 2)
        #expect(Words.uniqued(["a", "b", "a", "c", "b"]) == ["a", "b", "c"])
        let many = (0..<40).map { "w\($0 % 17)" }
        #expect(Words.uniqued(many) == (0..<17).map { "w\($0)" })
    }
}
