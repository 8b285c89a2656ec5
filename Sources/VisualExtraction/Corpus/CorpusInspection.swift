import Foundation

/// What a corpus holds, without calling any teacher (`vxt inspect`): counts, shapes, answer
/// formats, duplicates and every unusable record with its position. Memory stays flat: ids are
/// remembered as 64-bit hashes, pair counts as a histogram.
public struct CorpusInspection: Sendable, Codable {
    public var file: String
    public var layout: String = ""
    public var bytes: Int64 = 0
    public var sha256: String = ""
    public var records = 0
    public var withImage = 0
    public var withoutImage = 0
    public var multiImage = 0
    public var video = 0
    public var problems = 0
    public var pairs = 0
    public var pairsPerRecord = Spread()
    /// Pairs by answer-format instruction; "none" when the question has none.
    public var answerFormats: [String: Int] = [:]
    public var multipleChoicePairs = 0
    public var multipleChoiceShare: Double = 0
    public var ocrHintPairs = 0
    public var regionPairs = 0
    /// Where `<image>` stands in the first human turn: first, last, middle, none.
    public var imageTokenPlacement: [String: Int] = [:]
    /// Records by dataset folder of their first image (`coco`, `gqa`, ...).
    public var sources: [String: Int] = [:]
    public var duplicateIDs = 0
    public var duplicateExamples: [String] = []
    public var errors: [RecordError] = []
    /// Every unusable record counted under its reason with the numbers in it blanked ("has N
    /// turns"), most first: 200,000 answerless questions are one line, not 200,000.
    public var errorGroups: [ErrorGroup] = []
    public var missingImages: Int?
    public var missingExamples: [String] = []

    public struct Spread: Sendable, Codable {
        public var min = 0
        public var median = 0
        public var max = 0
    }

    public struct ErrorGroup: Sendable, Codable {
        /// The reason with each run of digits replaced by N.
        public var reason: String
        public var count: Int
        /// The first record of the group: where it is and its reason in full.
        public var example: RecordError
    }

    /// Groups past this many distinct reasons are counted under one "other reasons" group, so
    /// that reasons naming values (`unknown role 'x'`) cannot grow without end.
    static let errorGroupLimit = 200

    /// `reason` with every run of digits replaced by N, the key its group is counted under.
    public static func pattern(of reason: String) -> String {
        var out = ""
        var inDigits = false
        for c in reason {
            if c.isASCII && c.isNumber {
                if !inDigits { out.append("N") }
                inDigits = true
            } else {
                out.append(c)
                inDigits = false
            }
        }
        return out
    }

    /// Counts `error` in its group (`errorGroups`, unsorted until the end): the group of its
    /// reason's pattern, or `key` (a group merged from a batch's counts).
    mutating func group(_ error: RecordError, as key: String? = nil, count: Int = 1) {
        var key = key ?? CorpusInspection.pattern(of: error.reason)
        if let i = errorGroups.firstIndex(where: { $0.reason == key }) {
            errorGroups[i].count += count
            return
        }
        if errorGroups.count >= CorpusInspection.errorGroupLimit {
            key = "other reasons"
            if let i = errorGroups.firstIndex(where: { $0.reason == key }) {
                errorGroups[i].count += count
                return
            }
        }
        errorGroups.append(.init(reason: key, count: count, example: error))
    }

    public struct RecordError: Sendable, Codable {
        public var position: Int
        public var line: Int
        public var byteOffset: Int64
        public var id: String?
        public var reason: String
    }
}

public struct CorpusInspector {
    public let path: String
    public let imageRoot: ImageRoot?
    /// Errors and examples listed in full up to this many; all are counted.
    public var listLimit = 100
    public var workers = max(1, ProcessInfo.processInfo.activeProcessorCount)

    public init(path: String, imageRoot: ImageRoot?) {
        self.path = path
        self.imageRoot = imageRoot
    }

    /// What a worker learns from one batch of records; merged in file order by the caller.
    struct BatchStats: Sendable {
        var part = CorpusInspection(file: "")
        var ids: [(hash: UInt64, id: String)] = []
        var histogram: [Int: Int] = [:]
        var missing = 0
        var lastOffset: Int64 = 0
    }

    public func run(progress: ((Int, Int64) -> Void)? = nil) throws -> CorpusInspection {
        var result = CorpusInspection(file: path)
        var seenIDs = Set<UInt64>()
        var histogram: [Int: Int] = [:]
        var missing = 0
        let root = imageRoot
        let limit = listLimit
        let map = OrderedParallelMap<[SplitEvent], BatchStats>(workers: workers, maxInFlight: 2 * workers) { events in
            CorpusInspector.analyze(events, root: root, listLimit: limit)
        }
        let merge = { (stats: BatchStats) in
            let p = stats.part
            result.records += p.records
            result.withImage += p.withImage
            result.withoutImage += p.withoutImage
            result.multiImage += p.multiImage
            result.video += p.video
            result.problems += p.problems
            result.pairs += p.pairs
            result.multipleChoicePairs += p.multipleChoicePairs
            result.ocrHintPairs += p.ocrHintPairs
            result.regionPairs += p.regionPairs
            result.answerFormats.merge(p.answerFormats, uniquingKeysWith: +)
            result.imageTokenPlacement.merge(p.imageTokenPlacement, uniquingKeysWith: +)
            result.sources.merge(p.sources, uniquingKeysWith: +)
            histogram.merge(stats.histogram, uniquingKeysWith: +)
            missing += stats.missing
            for error in p.errors where result.errors.count < limit { result.errors.append(error) }
            // In file order, so each group's example is its first record.
            for group in p.errorGroups { result.group(group.example, as: group.reason, count: group.count) }
            for example in p.missingExamples where result.missingExamples.count < limit { result.missingExamples.append(example) }
            for (hash, id) in stats.ids where !seenIDs.insert(hash).inserted {
                result.duplicateIDs += 1
                // An id seen three times is one example, not two.
                if result.duplicateExamples.count < limit && !result.duplicateExamples.contains(id) {
                    result.duplicateExamples.append(id)
                }
            }
            progress?(result.records, stats.lastOffset)
        }
        let summary = try RecordSplitter(path: path).forEachBatch(map, consume: merge)
        result.layout = summary.layout.rawValue
        result.bytes = summary.bytes
        result.sha256 = summary.sha256
        result.pairsPerRecord = CorpusInspector.spread(histogram)
        result.errorGroups.sort { ($1.count, $0.example.position) < ($0.count, $1.example.position) }
        result.multipleChoiceShare = result.pairs > 0 ? Double(result.multipleChoicePairs) / Double(result.pairs) : 0
        if imageRoot != nil { result.missingImages = missing }
        return result
    }

    static func analyze(_ events: [SplitEvent], root: ImageRoot?, listLimit: Int) -> BatchStats {
        var stats = BatchStats()
        for event in events {
            stats.part.records += 1
            let decoded: Result<CorpusRecord, RecordProblem>
            switch event {
            case let .problem(p):
                stats.lastOffset = p.byteOffset
                decoded = .failure(
                    RecordProblem(position: p.index, byteOffset: p.byteOffset, line: p.line, recordID: nil, reason: p.reason))
            case let .record(raw):
                stats.lastOffset = raw.byteOffset
                decoded = LLaVARecordDecoder.decode(raw)
            }
            let record: CorpusRecord
            switch decoded {
            case let .failure(problem):
                stats.part.problems += 1
                let error = CorpusInspection.RecordError(
                    position: problem.position, line: problem.line, byteOffset: problem.byteOffset,
                    id: problem.recordID, reason: problem.reason)
                if stats.part.errors.count < listLimit { stats.part.errors.append(error) }
                stats.part.group(error)
                continue
            case let .success(r):
                record = r
            }
            if let id = record.sourceID { stats.ids.append((fnv1a(id), id)) }
            if record.skipReason == "video" { stats.part.video += 1 }
            if record.images.isEmpty { stats.part.withoutImage += 1 } else { stats.part.withImage += 1 }
            if record.images.count > 1 { stats.part.multiImage += 1 }
            if let source = record.source { stats.part.sources[source, default: 0] += 1 }
            stats.histogram[record.pairs.count, default: 0] += 1
            stats.part.pairs += record.pairs.count
            for (i, pair) in record.pairs.enumerated() {
                let parsed = QuestionParser.parse(pair.question)
                if parsed.answerFormats.isEmpty {
                    stats.part.answerFormats["none", default: 0] += 1
                } else {
                    for format in parsed.answerFormats { stats.part.answerFormats[format.rawValue, default: 0] += 1 }
                }
                if parsed.options.count >= 2 { stats.part.multipleChoicePairs += 1 }
                if parsed.ocrTokens != nil { stats.part.ocrHintPairs += 1 }
                if !parsed.regions.isEmpty { stats.part.regionPairs += 1 }
                if i == 0 { stats.part.imageTokenPlacement[placement(pair.question), default: 0] += 1 }
            }
            if let root {
                for image in record.images where (try? root.resolve(image)) == nil {
                    stats.missing += 1
                    if stats.part.missingExamples.count < listLimit { stats.part.missingExamples.append("\(record.displayID): \(image)") }
                }
            }
        }
        return stats
    }

    static func placement(_ question: String) -> String {
        let trimmed = question.trimmed
        if trimmed.hasPrefix("<image>") { return "first" }
        if trimmed.hasSuffix("<image>") { return "last" }
        return trimmed.contains("<image>") ? "middle" : "none"
    }

    static func spread(_ histogram: [Int: Int]) -> CorpusInspection.Spread {
        let total = histogram.values.reduce(0, +)
        guard total > 0 else { return .init() }
        let keys = histogram.keys.sorted()
        var seen = 0
        var median = keys[0]
        for key in keys {
            seen += histogram[key] ?? 0
            if seen * 2 >= total { median = key; break }
        }
        return .init(min: keys[0], median: median, max: keys[keys.count - 1])
    }

    /// FNV-1a: a stable 64-bit hash of ids, enough to find duplicates among millions.
    static func fnv1a(_ s: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in s.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
