/// The word-level view of text that the audit's checks share: lowercased tokens without
/// punctuation, number words as digits, a light plural fold. One tokenizer, so coverage,
/// answer matching and duplicate detection agree on what a word is.
enum Words {
    /// Lowercased words and numbers; apostrophes inside words are kept ("astronaut's" stays one
    /// word, then folds to "astronaut").
    ///
    /// Bytes, not Characters: the audit tokenizes every description several ways, and Unicode
    /// property lookups per scalar were two thirds of its time. ASCII is handled by arithmetic;
    /// other scalars by their Unicode properties, as before.
    static func tokens(_ text: String) -> [String] {
        var out: [String] = []
        var current: [UInt8] = []
        current.reserveCapacity(32)
        // Whether the word holds a mark to trim (. , ') or a byte outside ASCII.
        var marked = false
        var wide = false
        func flush() {
            guard !current.isEmpty else { return }
            let word = String(decoding: current, as: UTF8.self)
            let kept = marked ? (wide ? trimmed(word) : trimmedASCII(current)) : word
            if !kept.isEmpty { out.append(kept) }
            current.removeAll(keepingCapacity: true)
            marked = false
            wide = false
        }
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value < 0x80 {
                let byte = UInt8(value)
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): current.append(byte)
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): current.append(byte + 32)
                case UInt8(ascii: "'"), UInt8(ascii: "."), UInt8(ascii: ","):
                    // "3.5", "1,000" and "astronaut's" stay whole; a trailing mark ends the word below.
                    if current.isEmpty { continue }
                    current.append(byte)
                    marked = true
                default: flush()
                }
            } else if scalar.properties.isAlphabetic {
                current.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
                wide = true
            } else if scalar == "\u{2019}", !current.isEmpty {
                current.append(UInt8(ascii: "'"))
                marked = true
            } else {
                flush()
            }
        }
        flush()
        return out
    }

    /// `trimmed` for a word of ASCII bytes.
    private static func trimmedASCII(_ word: [UInt8]) -> String {
        var end = word.count
        while end > 0, word[end - 1] == UInt8(ascii: ".") || word[end - 1] == UInt8(ascii: ",") || word[end - 1] == UInt8(ascii: "'") {
            end -= 1
        }
        let w = word[..<end]
        guard let comma = w.firstIndex(of: UInt8(ascii: ",")) else { return String(decoding: w, as: UTF8.self) }
        // "1,000" -> "1000"; "a,b" -> "a".
        if w.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: ",") }) {
            return String(decoding: w.filter { $0 != UInt8(ascii: ",") }, as: UTF8.self)
        }
        return String(decoding: w[..<comma], as: UTF8.self)
    }

    private static func trimmed(_ word: String) -> String {
        var w = Substring(word)
        while let last = w.last, last == "." || last == "," || last == "'" { w = w.dropLast() }
        // "1,000" -> "1000"; "U.S" keeps its dot.
        if w.contains(","), w.allSatisfy({ $0.isNumber || $0 == "," }) { return w.filter { $0 != "," } }
        if w.contains(","), !w.allSatisfy({ $0.isNumber || $0 == "," }) { return String(w.split(separator: ",").first ?? "") }
        return String(w)
    }

    /// A word in the form used for comparison: number words as digits, "'s" and plural "s" dropped.
    static func normalized(_ token: String) -> String {
        var w = token
        if w.hasSuffix("'s") { w.removeLast(2) }
        if let digit = numberWords[w] { return digit }
        if w.count > 3, w.hasSuffix("s"), !w.hasSuffix("ss"), !w.hasSuffix("us"), !w.hasSuffix("is") {
            w.removeLast()
            if w.hasSuffix("ie") { w.removeLast(2); w += "y" }
        }
        if let synonym = spellings[w] { return synonym }
        return w
    }

    /// Normalized words that carry content (not function words).
    static func contentWords(_ text: String) -> [String] {
        tokens(text).map(normalized).filter { !functionWords.contains($0) }
    }

    static let numberWords: [String: String] = [
        "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
        "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
        "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20",
        "single": "1", "pair": "2", "dozen": "12"
    ]

    static let spellings: [String: String] = ["gray": "grey", "colour": "color", "centre": "center"]

    /// English function words: not evidence that a statement's content is present, and (by
    /// their share) evidence that a text is English prose.
    static let functionWords: Set<String> = [
        "a", "an", "the", "and", "or", "but", "of", "in", "on", "at", "to", "for", "with", "by", "from", "as", "into",
        "is", "are", "was", "were", "be", "been", "being", "it", "its", "this", "that", "these", "those", "there",
        "here", "has", "have", "had", "do", "does", "did", "not", "no", "yes", "which", "who", "what", "where", "when",
        "how", "why", "some", "any", "can", "could", "would", "should", "will", "may", "might", "also", "than", "then",
        "so", "such", "very", "about", "up", "down", "out", "over", "under", "near", "image", "picture", "photo",
        "shown", "show", "visible", "appear", "appears", "seen", "he", "she", "they", "them", "his", "her", "their",
        "i", "you", "we", "one's", "other", "each", "both", "all", "while", "if"
    ]

    /// Words that mark English prose; a long text with almost none of them is in another language.
    static let englishMarkers: Set<String> = ["the", "a", "an", "and", "of", "in", "on", "is", "are", "with", "to", "its", "there"]

    /// 64-bit FNV-1a, for shingles: fast, stable across runs and platforms (Swift's Hasher is seeded per process).
    static func fnv1a<S: Sequence>(_ bytes: S, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 where S.Element == UInt8 {
        var hash = seed
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
