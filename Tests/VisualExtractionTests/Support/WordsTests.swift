import Foundation
import Testing
@testable import VisualExtraction

/// The tokenizer the audit's checks share, against the Character-based one it replaced (kept
/// here as the reference): same words for ASCII, curly quotes, accents, other scripts and marks.
@Suite struct WordsTests {
    /// The tokenizer as it was before it worked on bytes.
    static func referenceTokens(_ text: String) -> [String] {
        func trimmed(_ word: String) -> String {
            var w = Substring(word)
            while let last = w.last, last == "." || last == "," || last == "'" { w = w.dropLast() }
            if w.contains(","), w.allSatisfy({ $0.isNumber || $0 == "," }) { return w.filter { $0 != "," } }
            if w.contains(","), !w.allSatisfy({ $0.isNumber || $0 == "," }) { return String(w.split(separator: ",").first ?? "") }
            return String(w)
        }
        var out: [String] = []
        var current = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                current.unicodeScalars.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            } else if scalar == "'" || scalar == "\u{2019}" || scalar == "." || scalar == ",", !current.isEmpty {
                current.unicodeScalars.append(scalar == "\u{2019}" ? "'" : scalar)
            } else if !current.isEmpty {
                out.append(trimmed(current))
                current = ""
            }
        }
        if !current.isEmpty { out.append(trimmed(current)) }
        return out.filter { !$0.isEmpty }
    }

    @Test func examplesReadAsBefore() {
        let text = "The astronaut’s suit: 1,000 U.S. dollars, 3.5 kg... İstanbul ÉCOLE naïve café, 東京 タワー; a,b — 'quoted' x,y,"
        #expect(Words.tokens(text) == Self.referenceTokens(text))
        #expect(Words.tokens(text).prefix(6) == ["the", "astronaut's", "suit", "1000", "u.s", "dollars"])
    }

    @Test func randomTextFromAMixedAlphabetReadsAsBefore() {
        let alphabet = Array("abcXYZ019 .,'’-\n\té İ ß ﬁ Ⅻ ½ 東 😀\u{301}")
        var seed: UInt64 = 7
        for _ in 0..<3000 {
            var text = ""
            seed = seed &* 6_364_136_223_846_793_005 &+ 1
            let length = Int(seed >> 58)
            for _ in 0..<length {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1
                text.append(alphabet[Int(seed >> 33) % alphabet.count])
            }
            #expect(Words.tokens(text) == Self.referenceTokens(text), "\(text.debugDescription)")
        }
    }
}
