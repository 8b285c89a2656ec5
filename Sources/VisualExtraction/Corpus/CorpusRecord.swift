/// One question and its answer, as consecutive human and assistant turns of a conversation.
public struct QAPair: Codable, Sendable, Equatable {
    /// The human turn exactly as in the file: it may still hold `<image>` and answer-format
    /// suffixes, which the paper-faithful pipeline sends unchanged.
    public var question: String
    public var answer: String

    public init(question: String, answer: String) {
        self.question = question
        self.answer = answer
    }
}

/// A record of a visual instruction-tuning corpus, reduced to what the pipeline needs.
public struct CorpusRecord: Sendable, Equatable {
    /// 0-based position in the input file; the paper's export calls it `index`.
    public var position: Int
    /// The record's `id` (or `idx` / `index`) as written in the file, nil when it has none.
    public var sourceID: String?
    /// Image paths relative to the images root, in order.
    public var images: [String]
    public var pairs: [QAPair]
    /// Dataset the record came from when the image path tells (`coco`, `gqa`, `ocr_vqa`, ...).
    public var source: String?
    /// Why no teacher work is done for the record ("no image", "video"); nil when it is eligible.
    public var skipReason: String?
    /// The record's other fields, as compact JSON, kept for export.
    public var metadata: String?

    public init(
        position: Int, sourceID: String?, images: [String], pairs: [QAPair], source: String? = nil,
        skipReason: String? = nil, metadata: String? = nil
    ) {
        self.position = position
        self.sourceID = sourceID
        self.images = images
        self.pairs = pairs
        self.source = source
        self.skipReason = skipReason
        self.metadata = metadata
    }

    /// The identifier users see and pass to `vxt show --id`: the record's own id, else its position.
    public var displayID: String { sourceID ?? String(position) }
}

/// A record that cannot be used, with where it is in the file and what to do about it.
public struct RecordProblem: Error, Sendable, CustomStringConvertible {
    public let position: Int
    public let byteOffset: Int64
    public let line: Int
    public let recordID: String?
    public let reason: String

    public var description: String {
        let id = recordID.map { " (id \($0))" } ?? ""
        return "record \(position)\(id) at line \(line), byte \(byteOffset): \(reason)"
    }
}
