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
        // Most texts are ASCII: their bytes are read as bytes, without decoding scalars.
        var contiguous = text
        if let ascii = contiguous.withUTF8(asciiTokens) { return ascii }
        var reader = TokenReader()
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value < 0x80 {
                reader.read(UInt8(value))
            } else if scalar.properties.isAlphabetic {
                reader.current.append(contentsOf: scalar.properties.lowercaseMapping.utf8)
                reader.wide = true
            } else if scalar == "\u{2019}", !reader.current.isEmpty {
                reader.current.append(UInt8(ascii: "'"))
                reader.marked = true
            } else {
                reader.flush()
            }
        }
        reader.flush()
        return reader.out
    }

    /// `tokens` of ASCII text, nil at the first byte outside ASCII.
    private static func asciiTokens(_ bytes: UnsafeBufferPointer<UInt8>) -> [String]? {
        var reader = TokenReader()
        reader.out.reserveCapacity(bytes.count / 5)
        for byte in bytes {
            if byte >= 0x80 { return nil }
            reader.read(byte)
        }
        reader.flush()
        return reader.out
    }

    /// The words read so far and the one being read, for both loops of `tokens`.
    private struct TokenReader {
        var out: [String] = []
        var current: [UInt8] = []
        /// Whether the word holds a mark to trim (. , ') or a byte outside ASCII.
        var marked = false
        var wide = false

        init() { current.reserveCapacity(32) }

        /// An ASCII byte: letters (lowercased) and digits join the word, marks join a started
        /// word, anything else ends it.
        @inline(__always)
        mutating func read(_ byte: UInt8) {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): current.append(byte)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): current.append(byte + 32)
            case UInt8(ascii: "'"), UInt8(ascii: "."), UInt8(ascii: ","):
                // "3.5", "1,000" and "astronaut's" stay whole; a trailing mark ends the word below.
                guard !current.isEmpty else { return }
                current.append(byte)
                marked = true
            default: flush()
            }
        }

        mutating func flush() {
            guard !current.isEmpty else { return }
            let kept =
                !marked
                ? String(decoding: current, as: UTF8.self)
                : wide ? Words.trimmed(String(decoding: current, as: UTF8.self)) : Words.trimmedASCII(current)
            if !kept.isEmpty { out.append(kept) }
            current.removeAll(keepingCapacity: true)
            marked = false
            wide = false
        }
    }

    /// `trimmed` for a word of ASCII bytes.
    fileprivate static func trimmedASCII(_ word: [UInt8]) -> String {
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

    fileprivate static func trimmed(_ word: String) -> String {
        var w = Substring(word)
        while let last = w.last, last == "." || last == "," || last == "'" { w = w.dropLast() }
        // "1,000" -> "1000"; "U.S" keeps its dot.
        if w.contains(","), w.allSatisfy({ $0.isNumber || $0 == "," }) { return w.filter { $0 != "," } }
        if w.contains(","), !w.allSatisfy({ $0.isNumber || $0 == "," }) { return String(w.split(separator: ",").first ?? "") }
        return String(w)
    }

    /// A word in the form used for comparison: number words as digits, "'s" and plural "s" dropped.
    static func normalized(_ token: String) -> String {
        var bytes = token
        if let ascii = bytes.withUTF8({ normalizedASCII($0, token) }) { return ascii }
        var w = token
        // Suffixes by their last bytes: String.hasSuffix compares Characters.
        if w.utf8.last == UInt8(ascii: "s") && w.utf8.dropLast().last == UInt8(ascii: "'") { w.removeLast(2) }
        if let digit = numberWordTable[w] { return digit }
        if w.count > 3, w.utf8.last == UInt8(ascii: "s") {
            let before = w.utf8.dropLast().last
            if before != UInt8(ascii: "s") && before != UInt8(ascii: "u") && before != UInt8(ascii: "i") {
                w.removeLast()
                if w.hasSuffix("ie") { w.removeLast(2); w += "y" }
            }
        }
        if let synonym = spellingTable[w] { return synonym }
        return w
    }

    /// `normalized` of an ASCII token by its bytes (nil for any other): the same rules, and
    /// no new string for the many words they leave as they are. A description's every word is
    /// normalized; doing it on Strings was a sixth of the audit.
    private static func normalizedASCII(_ bytes: UnsafeBufferPointer<UInt8>, _ token: String) -> String? {
        for byte in bytes where byte >= 0x80 { return nil }
        let s = UInt8(ascii: "s")
        var end = bytes.count
        if end >= 2 && bytes[end - 1] == s && bytes[end - 2] == UInt8(ascii: "'") { end -= 2 }
        if let digit = numberWordTable.value(utf8: UnsafeBufferPointer(rebasing: bytes[..<end])) { return digit }
        var ie = false
        if end > 3 && bytes[end - 1] == s {
            let before = bytes[end - 2]
            if before != s && before != UInt8(ascii: "u") && before != UInt8(ascii: "i") {
                end -= 1
                if end >= 2 && bytes[end - 2] == UInt8(ascii: "i") && bytes[end - 1] == UInt8(ascii: "e") {
                    end -= 2
                    ie = true
                }
            }
        }
        let stem = UnsafeBufferPointer(rebasing: bytes[..<end])
        if ie {
            let word = String(decoding: stem, as: UTF8.self) + "y"
            return spellingTable[word] ?? word
        }
        if let synonym = spellingTable.value(utf8: stem) { return synonym }
        return end == bytes.count ? token : String(decoding: stem, as: UTF8.self)
    }

    /// Normalized words that carry content (not function words).
    static func contentWords(_ text: String) -> [String] {
        tokens(text).map(normalized).filter { !functionWordSet.contains($0) }
    }

    /// `words` without repeats, in order: by a linear scan for the few words of an answer or a
    /// statement (no table to allocate), by a `WordSet` beyond.
    static func uniqued(_ words: [String]) -> [String] {
        if words.count <= 16 {
            var out: [String] = []
            out.reserveCapacity(words.count)
            for word in words where !out.contains(word) { out.append(word) }
            return out
        }
        var seen = WordSet(capacity: words.count)
        return words.filter { seen.insert($0) }
    }

    static func isFunctionWord(_ word: String) -> Bool { functionWordSet.contains(word) }
    static func isEnglishMarker(_ word: String) -> Bool { englishMarkerSet.contains(word) }

    // The lists below as `WordTable`s, for the audit's hot loops.
    private static let numberWordTable = WordTable(numberWords.map { ($0.key, $0.value) })
    private static let spellingTable = WordTable(spellings.map { ($0.key, $0.value) })
    private static let functionWordSet = WordSet(functionWords)
    private static let englishMarkerSet = WordSet(englishMarkers)

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
    static func fnv1a(_ text: String, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        // Over contiguous bytes: iterating a String's UTF-8 view byte by byte costs an index check each.
        var text = text
        return text.withUTF8 { fnv1a($0, seed: seed) }
    }

    static func fnv1a<S: Sequence>(_ bytes: S, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 where S.Element == UInt8 {
        var hash = seed
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
