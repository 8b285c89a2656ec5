/// Turns the bytes of one record into a `CorpusRecord`.
///
/// Accepts the LLaVA layout (`conversations` of `{from, value}`) and the `messages` of
/// `{role, content}` layout with `images`; role names human/user and gpt/assistant; a `system`
/// turn is ignored for pairing. A `content` may also be a list of parts, as the OpenAI chat
/// format, TRL and Qwen-VL's fine-tuning data write it (`ContentParts`); and the alpaca layout
/// (`instruction`, `input`, `output`). Anything it cannot use is a `RecordProblem` naming the record.
public enum LLaVARecordDecoder {
    /// Values of `image` that mean "this record has no image" in real corpora.
    static let noImageValues: Set<String> = ["", "none", "None", "nan", "NaN", "null"]

    static let knownKeys: Set<String> = ["id", "idx", "index", "image", "images", "conversations", "messages", "video"]

    public static func decode(_ raw: RawRecord) -> Result<CorpusRecord, RecordProblem> {
        let value: JSONValue
        do {
            value = try JSONParser.parse(raw.bytes)
        } catch {
            return .failure(problem(raw, nil, "invalid JSON: \(error.reason) at byte \(raw.byteOffset + Int64(error.offset))"))
        }
        guard case let .object(members) = value else {
            return .failure(problem(raw, nil, "expected a JSON object, found \(value.kindName)"))
        }
        var id = identifier(value)
        if let given = id, given.unicodeScalars.contains(where: { $0.value == 0 }) {
            // SQLite text ends at a NUL: stored, "a\u0000b" would become "a" and meet the real "a".
            id = given.replacingOccurrences(of: "\u{0}", with: "\\u0000")
            return .failure(problem(raw, id, "the id holds a NUL character (\\u0000); ids are text without control characters"))
        }
        var images: [String]
        switch imagePaths(value["image"] ?? value["images"]) {
        case let .success(paths): images = paths
        case let .failure(reason): return .failure(problem(raw, id, reason.text))
        }
        if let reason = controlCharacterProblem(images) { return .failure(problem(raw, id, reason)) }
        let pairs: [QAPair]
        var partImages: [String] = []
        var partVideo = false
        switch qaPairs(value, partImages: &partImages, partVideo: &partVideo) {
        case let .success(found): pairs = found
        case let .failure(reason): return .failure(problem(raw, id, reason.text))
        }
        // Images named inside the turns count when the record names none at its top level
        // (Qwen-VL's layout); a top-level `images` list stays the one the parts stand for (TRL's).
        if images.isEmpty && !partImages.isEmpty {
            images = partImages
            if let reason = controlCharacterProblem(images) { return .failure(problem(raw, id, reason)) }
        }
        var skip: String?
        if partVideo || (value["video"] != nil && value["video"] != .null) {
            skip = "video"
        } else if images.isEmpty {
            skip = "no image"
        }
        let alpaca = value["conversations"] == nil && value["messages"] == nil
        let extra = members.filter { !knownKeys.contains($0.key) && !(alpaca && alpacaKeys.contains($0.key)) }
        return .success(
            CorpusRecord(
                position: raw.index, sourceID: id, images: images, pairs: pairs,
                source: images.first.flatMap(sourceName), skipReason: skip,
                metadata: extra.isEmpty ? nil : JSONValue.object(extra).jsonText))
    }

    /// The file system would read "a.jpg\u0000.png" as a.jpg: a path with a control character
    /// is not what it says.
    static func controlCharacterProblem(_ paths: [String]) -> String? {
        guard let bad = paths.first(where: { $0.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } }) else {
            return nil
        }
        let shown = bad.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? String(format: "\\u%04x", $0.value) : String($0) }
            .joined()
        return "image path \"\(shown)\" holds a control character; paths are plain text"
    }

    static func problem(_ raw: RawRecord, _ id: String?, _ reason: String) -> RecordProblem {
        RecordProblem(position: raw.index, byteOffset: raw.byteOffset, line: raw.line, recordID: id, reason: reason)
    }

    static func identifier(_ value: JSONValue) -> String? {
        for key in ["id", "idx", "index"] {
            switch value[key] {
            case let .string(s)?: return s
            case let .number(n)?: return n
            default: continue
            }
        }
        return nil
    }

    static func imagePaths(_ value: JSONValue?) -> Result<[String], Reason> {
        switch value {
        case nil, .null?: return .success([])
        case let .string(s)?: return .success(noImageValues.contains(s.trimmed) ? [] : [s])
        case let .array(items)?:
            var paths: [String] = []
            for item in items {
                switch item {
                case let .string(s): if !noImageValues.contains(s.trimmed) { paths.append(s) }
                case .null: continue
                default: return .failure(Reason("`image` list holds \(item.kindName); expected strings (paths under --images)"))
                }
            }
            return .success(paths)
        case let other?:
            return .failure(Reason("`image` is \(other.kindName); expected a path string or a list of paths"))
        }
    }

    struct Reason: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }

    private enum Speaker { case human, assistant, system }

    /// The record's question/answer pairs; image paths and videos named inside content parts go
    /// to `partImages` and `partVideo`.
    static func qaPairs(_ value: JSONValue, partImages: inout [String], partVideo: inout Bool) -> Result<[QAPair], Reason> {
        let field: String
        let turns: [JSONValue]
        if case let .array(items)? = value["conversations"] {
            field = "conversations"
            turns = items
        } else if case let .array(items)? = value["messages"] {
            field = "messages"
            turns = items
        } else if let other = value["conversations"] ?? value["messages"] {
            return .failure(Reason("`conversations` is \(other.kindName); expected a list of {\"from\", \"value\"} turns"))
        } else if value["instruction"] != nil || value["output"] != nil {
            return alpacaPairs(value)
        } else {
            var keys = ""
            if case let .object(members) = value {
                let names = members.prefix(8).map { "`\($0.key)`" }.joined(separator: ", ")
                keys = members.isEmpty ? " (the object is empty)" : " (its keys: \(names)\(members.count > 8 ? ", …" : ""))"
                // A whole file as one object with the records in a list (`{"data": [...]}`).
                for (key, member) in members {
                    guard case let .array(items) = member, let item = items.first,
                        item["conversations"] != nil || item["messages"] != nil || item["instruction"] != nil
                    else { continue }
                    return .failure(Reason(WrappedRecords.advice(key: key, count: items.count)))
                }
            }
            return .failure(
                Reason(
                    "record has no `conversations` or `messages` list, nor alpaca's `instruction` and `output`\(keys); "
                        + "nothing to turn into statements"))
        }
        var pairs: [QAPair] = []
        var pendingQuestion: String?
        var turnNumber = 0
        for turn in turns {
            turnNumber += 1
            guard case .object = turn else {
                return .failure(Reason("\(field) turn \(turnNumber) is \(turn.kindName); expected an object"))
            }
            let roleValue = turn["from"] ?? turn["role"]
            guard let role = roleValue?.stringValue else {
                return .failure(Reason("\(field) turn \(turnNumber) has no `from` (or `role`) string"))
            }
            let content = turn["value"] ?? turn["content"]
            let text: String
            if let plain = content?.stringValue {
                text = plain
            } else if case let .array(parts)? = content {
                switch ContentParts.read(parts) {
                case let .success(read):
                    text = read.text
                    partImages += read.images
                    partVideo = partVideo || read.video
                case let .failure(reason):
                    return .failure(Reason("\(field) turn \(turnNumber): \(reason.text)"))
                }
            } else {
                return .failure(
                    Reason("\(field) turn \(turnNumber) has no `value` (or `content`) string or list of content parts"))
            }
            if text.trimmed.isEmpty {
                return .failure(Reason("\(field) turn \(turnNumber) is empty (\(role) said nothing); fix or drop the record"))
            }
            let speaker: Speaker
            switch role.lowercased() {
            case "human", "user": speaker = .human
            case "gpt", "assistant", "bot", "model": speaker = .assistant
            case "system": speaker = .system
            default: return .failure(Reason("\(field) turn \(turnNumber) has unknown speaker \"\(role)\""))
            }
            switch speaker {
            case .system:
                continue
            case .human:
                if pendingQuestion != nil {
                    return .failure(Reason("\(field) turn \(turnNumber) is a second human turn in a row; expected human/gpt pairs"))
                }
                pendingQuestion = text
            case .assistant:
                guard let question = pendingQuestion else {
                    return .failure(Reason("\(field) turn \(turnNumber) is an answer without a question; expected human/gpt pairs"))
                }
                pairs.append(QAPair(question: question, answer: text))
                pendingQuestion = nil
            }
        }
        if pendingQuestion != nil {
            // Often a benchmark's file: questions kept, answers held back for scoring.
            return .failure(
                Reason(
                    "\(field) has \(turns.count) turns and the last human turn has no answer (odd number of turns); "
                        + "every question needs its answer, so an evaluation file of bare questions cannot be used as it is"))
        }
        if pairs.isEmpty {
            return .failure(Reason("\(field) holds no question/answer pair"))
        }
        return .success(pairs)
    }

    /// Keys of the alpaca layout, read only when a record has no `conversations` or `messages`.
    static let alpacaKeys: Set<String> = ["instruction", "input", "output", "history"]

    /// The alpaca layout of LLaMA-Factory (`instruction`, optional `input` and `history` of
    /// earlier [question, answer] pairs, `output`) and of LLaVA's own GPT-4 QA files: each
    /// history pair, then the instruction (with its input on the next line) and the output.
    static func alpacaPairs(_ value: JSONValue) -> Result<[QAPair], Reason> {
        guard let instruction = value["instruction"]?.stringValue, !instruction.trimmed.isEmpty else {
            return .failure(Reason("`instruction` is missing or empty (alpaca layout: instruction, input, output)"))
        }
        guard let output = value["output"]?.stringValue, !output.trimmed.isEmpty else {
            return .failure(Reason("`output` is missing, empty or not a string (alpaca layout: instruction, input, output)"))
        }
        var pairs: [QAPair] = []
        switch value["history"] {
        case nil, .null?: break
        case let .array(items)?:
            for (index, item) in items.enumerated() {
                guard case let .array(pair) = item, pair.count == 2, let question = pair[0].stringValue,
                    let answer = pair[1].stringValue, !question.trimmed.isEmpty, !answer.trimmed.isEmpty
                else {
                    return .failure(Reason("`history` item \(index + 1) is not a [question, answer] pair of texts"))
                }
                pairs.append(QAPair(question: question, answer: answer))
            }
        case let other?:
            return .failure(Reason("`history` is \(other.kindName); expected a list of [question, answer] pairs"))
        }
        let input = value["input"]?.stringValue ?? ""
        pairs.append(QAPair(question: input.trimmed.isEmpty ? instruction : instruction + "\n" + input, answer: output))
        return .success(pairs)
    }

    /// The dataset folder of LLaVA-1.5's mix (`coco/train2017/x.jpg` → `coco`); nil when the first
    /// folder is only a number (ScienceQA's `5/image.png`), there is no folder, or the path is absolute.
    /// A URL's is its host (`https://cdn.x.org/a.jpg` → `cdn.x.org`), inline `data:` has none.
    static func sourceName(_ path: String) -> String? {
        // An absolute path's first folder is the machine's (`/data`, `/home`), not a dataset's.
        if path.hasPrefix("/") || path.hasPrefix("data:") { return nil }
        let parts = path.split(separator: "/")
        // `https:`, `s3:`: the parts of `scheme://host/…` (split drops the empty one between).
        if parts.count > 1, parts[0].hasSuffix(":") { return String(parts[1]) }
        guard parts.count > 1, !parts[0].allSatisfy(\.isNumber) else { return nil }
        return String(parts[0])
    }
}

extension String {
    /// Without leading and trailing ASCII whitespace; works on UTF-8 bytes, which is much faster
    /// than Character iteration on the ingest hot path.
    var trimmed: String {
        let utf8 = self.utf8
        var start = utf8.startIndex, end = utf8.endIndex
        while start < end, String.isASCIISpace(utf8[start]) { start = utf8.index(after: start) }
        while end > start, String.isASCIISpace(utf8[utf8.index(before: end)]) { end = utf8.index(before: end) }
        if start == utf8.startIndex && end == utf8.endIndex { return self }
        return String(self[start..<end])
    }

    @inline(__always)
    static func isASCIISpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x0a || b == 0x0d || b == 0x09 || b == 0x0b || b == 0x0c
    }
}
