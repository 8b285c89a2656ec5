/// A set of short strings (words), or a map from them, looked up by the FNV-1a hash of their
/// UTF-8 in an open-addressing table.
///
/// Why not `Set<String>`: the audit asks word tables about a thousand times per sample, and
/// Swift's per-process seeded hashing of each String (SipHash over its bytes) was a fifth of the
/// audit's time. FNV-1a over a word's few bytes and one multiply to spread it cost a fraction of
/// that. Lookups stay exact: a slot whose hash matches is compared word for word.
struct WordTable<Value: Sendable>: Sendable {
    /// One array of slots (one allocation per table: the audit makes small tables by the thousand).
    private var slots: [Slot]
    private var mask: Int
    private(set) var count = 0

    private struct Slot: Sendable {
        /// 0 for an empty slot.
        var hash: UInt64 = 0
        var word = ""
        var value: Value?
    }

    /// A table for about `capacity` words (it grows when fuller than half).
    init(capacity: Int = 8) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Slot](repeating: Slot(), count: size)
        mask = size - 1
    }

    init(_ pairs: [(String, Value)]) {
        self.init(capacity: pairs.count)
        for (word, value) in pairs { self[word] = value }
    }

    /// The stored hash of a word's UTF-8: FNV-1a, never 0 (0 marks an empty slot).
    @inline(__always)
    static func hash(_ word: String) -> UInt64 { nonZero(Words.fnv1a(word)) }

    @inline(__always)
    private static func nonZero(_ hash: UInt64) -> UInt64 { hash == 0 ? 1 : hash }

    @inline(__always)
    private func home(_ hash: UInt64) -> Int {
        // The high bits of a multiplicative spread: FNV's low bits alone cluster for short words.
        Int(truncatingIfNeeded: (hash &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// The slot whose hash is `hash` and whose word `isWord` accepts, or the empty slot where it would go.
    @inline(__always)
    private func find(_ hash: UInt64, _ isWord: (String) -> Bool) -> Int {
        var index = home(hash)
        while slots[index].hash != 0 {
            if slots[index].hash == hash && isWord(slots[index].word) { return index }
            index = (index + 1) & mask
        }
        return index
    }

    /// The value of the word spelled by `bytes` (UTF-8), without making a String of them.
    func value(utf8 bytes: UnsafeBufferPointer<UInt8>) -> Value? {
        slots[find(Self.nonZero(Words.fnv1a(bytes))) { $0.utf8.elementsEqual(bytes) }].value
    }

    subscript(_ word: String) -> Value? {
        get {
            slots[find(Self.hash(word)) { $0 == word }].value
        }
        set {
            guard let newValue else { return }  // removal is never needed: tables only grow
            let hash = Self.hash(word)
            let index = find(hash) { $0 == word }
            if slots[index].hash == 0 {
                slots[index].hash = hash
                slots[index].word = word
                count += 1
            }
            slots[index].value = newValue
            if count * 2 > slots.count { grow() }
        }
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: Slot(), count: old.count * 2)
        mask = slots.count - 1
        for slot in old where slot.hash != 0 {
            var index = home(slot.hash)
            while slots[index].hash != 0 { index = (index + 1) & mask }
            slots[index] = slot
        }
    }
}

/// A `WordTable` that only answers whether a word is in it.
struct WordSet: Sendable {
    private var table: WordTable<Bool>

    init(capacity: Int = 16) { table = WordTable(capacity: capacity) }

    init<S: Sequence>(_ words: S) where S.Element == String {
        table = WordTable(capacity: words.underestimatedCount)
        for word in words { table[word] = true }
    }

    var count: Int { table.count }

    func contains(_ word: String) -> Bool { table[word] != nil }

    /// Adds `word`; true when it was not there before.
    @discardableResult
    mutating func insert(_ word: String) -> Bool {
        let before = table.count
        table[word] = true
        return table.count > before
    }
}
