/// Near-duplicate descriptions across a corpus: a MinHash signature per description (one
/// permutation hashing over word 4-grams, 32 bins, so one hash per 4-gram), banded into 8 LSH
/// buckets of 4 bins. Texts sharing a bucket are compared by signature; a later description
/// whose estimated Jaccard similarity to an earlier one is at least `threshold` is a
/// near-duplicate of the earliest such. Memory is ~300 bytes per sample, not the texts.
enum NearDuplicates {
    public static let bins = 32
    static let bands = 8
    static let rowsPerBand = 4

    /// The signature of a text as 32 little-endian UInt32 (128 bytes), the form the store keeps.
    public static func signature(_ text: String) -> [UInt8] {
        signature(words: Words.tokens(text))
    }

    /// The signature of a text from its `Words.tokens`.
    static func signature(words: [String]) -> [UInt8] {
        var mins = [UInt32](repeating: .max, count: bins)
        var filled = [Bool](repeating: false, count: bins)
        func add(_ hash: UInt64) {
            let bin = Int(hash >> 59)  // top 5 bits choose the bin (32 bins)
            let value = UInt32(truncatingIfNeeded: hash)
            if value <= mins[bin] { mins[bin] = value; filled[bin] = true }
        }
        if words.count < 4 {
            add(Words.fnv1a(words.joined(separator: " ").utf8))
        } else {
            for i in 0...(words.count - 4) {
                var hash: UInt64 = 0xcbf2_9ce4_8422_2325
                for w in words[i..<(i + 4)] {
                    // The word, then a space: as hashing the 4-gram's text joined by spaces.
                    hash = (Words.fnv1a(w, seed: hash) ^ 0x20) &* 0x0000_0100_0000_01B3
                }
                add(hash)
            }
        }
        // Densification: an empty bin borrows the next filled bin's value, so short texts still
        // compare bin by bin (Shrivastava & Li, 2014).
        if filled.contains(true) {
            for bin in 0..<bins where !filled[bin] {
                var step = 1
                while !filled[(bin + step) % bins] { step += 1 }
                mins[bin] = mins[(bin + step) % bins] &+ UInt32(step) &* 0x9E37_79B9
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(bins * 4)
        for value in mins {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    /// Share of equal bins: an estimate of the 4-gram Jaccard similarity.
    public static func similarity(_ a: [UInt8], _ b: [UInt8]) -> Double {
        similarity(a[...], b[...])
    }

    static func similarity(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Double {
        guard a.count == bins * 4, b.count == bins * 4 else { return 0 }
        var equal = 0
        for bin in 0..<bins {
            let (x, y) = (a.startIndex + bin * 4, b.startIndex + bin * 4)
            if a[x..<(x + 4)].elementsEqual(b[y..<(y + 4)]) { equal += 1 }
        }
        return Double(equal) / Double(bins)
    }

    /// A corpus's signatures in one buffer, in corpus order: 625k samples in 80 MB and one
    /// allocation, where an array each took 110 MB. A sample without a signature takes no place in buckets.
    struct SignatureTable {
        private static let size = NearDuplicates.bins * 4
        private var bytes: [UInt8] = []
        /// Per sample, the slot of its signature in `bytes`, or -1 when it has none.
        private var slots: [Int32] = []

        var count: Int { slots.count }

        mutating func append(_ signature: UnsafeRawBufferPointer) {
            guard signature.count == Self.size else {
                slots.append(-1)
                return
            }
            slots.append(Int32(bytes.count / Self.size))
            bytes.append(contentsOf: signature)
        }

        /// The signature of sample `index`, empty when it has none.
        subscript(index: Int) -> ArraySlice<UInt8> {
            let slot = Int(slots[index])
            return slot < 0 ? [] : bytes[(slot * Self.size)..<((slot + 1) * Self.size)]
        }
    }

    public struct Match: Sendable, Equatable {
        /// Index of the later sample, flagged.
        public var duplicate: Int
        /// Index of the earliest similar sample.
        public var original: Int
        public var similarity: Double
    }

    /// Pairs each later near-duplicate with the earliest sample it resembles. Indices are positions in `signatures`,
    /// which should be in corpus order.
    public static func find(_ signatures: [[UInt8]], threshold: Double = 0.8) -> [Match] {
        var table = SignatureTable()
        for signature in signatures { signature.withUnsafeBytes { table.append($0) } }
        return find(table, threshold: threshold)
    }

    static func find(_ signatures: SignatureTable, threshold: Double = 0.8) -> [Match] {
        var entries: [(key: UInt64, index: Int32)] = []
        entries.reserveCapacity(signatures.count * bands)
        for index in 0..<signatures.count {
            let signature = signatures[index]
            guard signature.count == bins * 4 else { continue }
            for band in 0..<bands {
                let start = signature.startIndex + band * rowsPerBand * 4
                let key = Words.fnv1a(signature[start..<(start + rowsPerBand * 4)], seed: 0xcbf2_9ce4_8422_2325 &+ UInt64(band))
                entries.append((key, Int32(index)))
            }
        }
        entries.sort { $0.key < $1.key || ($0.key == $1.key && $0.index < $1.index) }
        var best: [Int: Match] = [:]
        var start = 0
        while start < entries.count {
            var end = start + 1
            while end < entries.count && entries[end].key == entries[start].key { end += 1 }
            if end - start > 1 {
                // Compare each member with the bucket's earliest members only: linear even when
                // thousands of samples share one text.
                let anchors = entries[start..<min(end, start + 4)].map { Int($0.index) }
                for entry in entries[(start + 1)..<end] {
                    let later = Int(entry.index)
                    for anchor in anchors where anchor < later {
                        if let known = best[later], known.original <= anchor { break }
                        let similarity = similarity(signatures[anchor], signatures[later])
                        if similarity >= threshold {
                            best[later] = Match(duplicate: later, original: anchor, similarity: similarity)
                            break
                        }
                    }
                }
            }
            start = end
        }
        return best.values.sorted { $0.duplicate < $1.duplicate }
    }
}
