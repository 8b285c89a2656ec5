import Foundation

/// The files a work directory can be exported to.
public enum ExportFormat: String, CaseIterable, Sendable {
    /// The training corpus in LLaVA's format: the extraction instruction and the description.
    case llava
    /// One line per finished record with everything known about it.
    case jsonl
    /// The authors' script's output: `{"index": i, "caption": ...}` per input record, "SKIP" when no
    /// image, a null caption with the reason when the record failed or is not finished.
    case paper
    /// LLaMA-Factory's ShareGPT layout as JSONL: `messages` with user/assistant roles and `images`,
    /// registered by a `dataset_info.json` entry written beside it.
    case llamafactory
    /// ms-swift's standard layout as JSONL: `messages` and `images`.
    case swift

    /// Formats whose `images` are paths a trainer opens itself (made absolute by default).
    public var namesImagesForATrainer: Bool { self == .llamafactory || self == .swift }
}

public struct ExportSummary: Sendable, Equatable {
    public var written = 0
    /// Records without an image (or with a video): "SKIP" lines in the paper format, absent otherwise.
    public var skipped = 0
    /// Records that failed (input problems or teacher failures): never exported.
    public var failed = 0
    /// Records whose description is not done yet.
    public var unfinished = 0
    /// Exported records made by the mock teacher.
    public var mock = 0
    /// Finished records left out by the audit filter.
    public var excluded = 0
    /// Exported records the audit has not seen (run `vxt audit` again).
    public var unaudited = 0
}

/// Which finished samples the export keeps, by their audit.
public struct ExportFilter: Sendable, Equatable {
    /// Samples with any of these flags are left out.
    public var excludeFlags: Set<AuditFlag>
    /// Samples whose statement coverage is lower are left out.
    public var minimumCoverage: Double?

    public init(excludeFlags: Set<AuditFlag> = [], minimumCoverage: Double? = nil) {
        self.excludeFlags = excludeFlags
        self.minimumCoverage = minimumCoverage
    }

    public var isEmpty: Bool { excludeFlags.isEmpty && minimumCoverage == nil }

    public struct NotAudited: Error, CustomStringConvertible {
        public var description: String {
            "--exclude-flags and --min-coverage need an audit: run `vxt audit --work <dir>` first"
        }
    }

    /// Whether a finished row stays. Unaudited rows stay only when no filter asks about the audit.
    func keeps(_ row: ExportRow) -> Bool {
        guard !isEmpty else { return true }
        guard let flags = row.flags else { return false }
        if flags.contains(where: { AuditFlag(rawValue: $0).map(excludeFlags.contains) ?? false }) { return false }
        if let minimumCoverage, (row.coverage ?? 1) < minimumCoverage { return false }
        return true
    }
}

/// Writes a work directory's results in input order. Everything comes from the job store, so
/// an export is the same however many times the run was interrupted and resumed.
public struct Exporter {
    public let store: JobStore
    public let definition: PipelineDefinition

    public init(store: JobStore) throws {
        self.store = store
        definition = try store.storedPipeline()
    }

    /// Writes the export. `imageFolder` is joined to the records' image paths in the trainer
    /// formats: nil means the run's `--images` (stored absolute), "" keeps the paths as in the corpus.
    public func export(
        _ format: ExportFormat, to path: String, filter: ExportFilter = ExportFilter(), imageFolder: String? = nil
    ) throws -> ExportSummary {
        if !filter.isEmpty, try store.auditSummary().samples == 0 { throw ExportFilter.NotAudited() }
        let graph = StageGraph(definition)
        let instruction = try PromptTemplate(definition.export.instruction)
        let runRoot = try store.configuration()?.imagesRoot ?? ""
        let folder = imageFolder ?? runRoot
        let runImages = ImageRoot(path: runRoot.isEmpty ? "." : runRoot)
        let file = try OutputFile(path: path)
        var summary = ExportSummary()
        var buffer = ""
        var first = true
        func flush(force: Bool = false) throws {
            if force || buffer.utf8.count > 1 << 20 {
                try file.write(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        /// The paper format's line for a record without a caption: its index is never a gap.
        func paperGap(_ row: ExportRow, reason: String, kind: FailureKind? = nil) {
            guard format == .paper else { return }
            buffer += "{\"index\": \(row.record.position), \"caption\": null, \"reason\": \"\(reason)\""
            if let kind { buffer += ", \"kind\": \"\(kind.rawValue)\"" }
            buffer += "}\n"
        }
        if format == .llava { buffer += "[\n" }
        try store.forEachExportRow(
            descriptionStage: graph.descriptionStage, statementsStage: graph.statementsStage,
            hintStage: graph.hintStage
        ) { row in
            try flush()
            let skipped = row.problem == nil && row.record.skipReason != nil
            if skipped {
                summary.skipped += 1
                if format == .paper {
                    buffer += "{\"index\": \(row.record.position), \"caption\": \"SKIP\"}\n"
                }
                return
            }
            guard row.descriptionState == .done, let description = row.description else {
                if row.problem != nil || row.descriptionState == .failed {
                    summary.failed += 1
                    paperGap(row, reason: "failed", kind: row.descriptionFailureKind ?? (row.problem != nil ? .inputInvalid : .other))
                } else {
                    summary.unfinished += 1
                    paperGap(row, reason: "unfinished")
                }
                return
            }
            guard filter.keeps(row) else {
                summary.excluded += 1
                paperGap(row, reason: "excluded")
                return
            }
            summary.written += 1
            if row.mock { summary.mock += 1 }
            if row.flags == nil { summary.unaudited += 1 }
            switch format {
            case .llava:
                if !first { buffer += ",\n" }
                buffer += llavaLine(
                    row, description: description,
                    instruction: try instruction.render(["hint": .text(Exporter.hintPhrase(row.hint))]))
            case .jsonl:
                buffer += jsonLine(row, description: description) + "\n"
            case .paper:
                buffer += "{\"index\": \(row.record.position), \"caption\": "
                Exporter.writePythonASCII(description, to: &buffer)
                buffer += "}\n"
            case .llamafactory, .swift:
                buffer +=
                    messagesLine(
                        row, description: description,
                        instruction: try instruction.render(["hint": .text(Exporter.hintPhrase(row.hint))]), imageFolder: folder,
                        runImages: runImages)
                    + "\n"
            }
            first = false
        }
        if format == .llava { buffer += first ? "]\n" : "\n]\n" }
        try flush(force: true)
        try file.commit()
        return summary
    }

    /// The user turn: one `<image>` per image, then the instruction (LLaVA's own placement).
    func userTurn(_ row: ExportRow, instruction: String) -> String {
        String(repeating: "<image>\n", count: max(1, row.record.images.count)) + instruction
    }

    /// LLaMA-Factory's and ms-swift's shared layout: one `<image>` tag per entry of `images`.
    func messagesLine(_ row: ExportRow, description: String, instruction: String, imageFolder: String, runImages: ImageRoot) -> String {
        var members: [(key: String, value: JSONValue)] = [
            (
                "messages",
                .array([
                    .object([("role", .string("user")), ("content", .string(userTurn(row, instruction: instruction)))]),
                    .object([("role", .string("assistant")), ("content", .string(description))])
                ])
            ),
            (
                "images",
                .array(
                    row.record.images.map { .string(Exporter.trainerPath($0, imageFolder: imageFolder, runImages: runImages)) })
            ),
            ("id", .string(row.record.displayID))
        ]
        if row.mock { members.append(("vxt", .object([("mock", .bool(true))]))) }
        return JSONValue.object(members).jsonText
    }

    /// An image path as a trainer opens it: under `imageFolder` ("" keeps the corpus's path). A
    /// record's absolute path inside the run's --images moves with it to another folder; one the
    /// folder does not hold stays as it is.
    static func trainerPath(_ path: String, imageFolder: String, runImages: ImageRoot) -> String {
        guard path.hasPrefix("/") else {
            return imageFolder.isEmpty ? path : (imageFolder as NSString).appendingPathComponent(path)
        }
        guard !imageFolder.isEmpty, imageFolder != runImages.path, let inside = runImages.insideRoot(path) else { return path }
        return (imageFolder as NSString).appendingPathComponent(inside)
    }

    func imageValue(_ images: [String]) -> JSONValue {
        images.count == 1 ? .string(images[0]) : .array(images.map { .string($0) })
    }

    /// The hint as the instruction embeds it: one line, trimmed, ending with "." (Extract+Think's rule).
    static func hintPhrase(_ hint: String?) -> String {
        guard var phrase = hint?.split(separator: "\n").first.map({ String($0).trimmed }), !phrase.isEmpty else { return "" }
        if !phrase.hasSuffix(".") { phrase += "." }
        return phrase
    }

    func llavaLine(_ row: ExportRow, description: String, instruction: String) -> String {
        var members: [(key: String, value: JSONValue)] = [
            ("id", .string(row.record.displayID)),
            ("image", imageValue(row.record.images)),
            (
                "conversations",
                .array([
                    .object([("from", .string("human")), ("value", .string(userTurn(row, instruction: instruction)))]),
                    .object([("from", .string("gpt")), ("value", .string(description))])
                ])
            )
        ]
        if row.mock { members.append(("vxt", .object([("mock", .bool(true))]))) }
        return JSONValue.object(members).jsonText
    }

    func jsonLine(_ row: ExportRow, description: String) -> String {
        var usage: [(key: String, value: JSONValue)] = []
        for (stage, counts) in row.usage.sorted(by: { $0.key < $1.key }) {
            usage.append((stage, .object(counts.sorted { $0.key < $1.key }.map { ($0.key, .number(String($0.value))) })))
        }
        let members: [(key: String, value: JSONValue)] = [
            ("id", .string(row.record.displayID)),
            ("key", .string(row.key)),
            ("index", .number(String(row.record.position))),
            ("image", imageValue(row.record.images)),
            ("source", row.record.source.map { .string($0) } ?? .null),
            ("qa_pairs", .array(row.record.pairs.map { .object([("question", .string($0.question)), ("answer", .string($0.answer))]) })),
            ("statements", row.statements.map { .array($0.map { .string($0) }) } ?? .null),
            ("hint", row.hint.map { .string(Exporter.hintPhrase($0)) } ?? .null),
            ("description", .string(description)),
            ("teacher_model", row.model.map { .string($0) } ?? .null),
            ("finish_reason", row.finishReason.map { .string($0) } ?? .null),
            ("usage", .object(usage)),
            ("mock", .bool(row.mock)),
            (
                "audit",
                row.flags.map { flags in
                    .object([
                        ("flags", .array(flags.sorted().map { .string($0) })),
                        ("coverage", row.coverage.map { .number(Exporter.decimal($0)) } ?? .null)
                    ])
                } ?? .null
            )
        ]
        return JSONValue.object(members).jsonText
    }

    /// A short decimal for JSON (coverage is a share of a handful of statements).
    static func decimal(_ x: Double) -> String {
        let rounded = (x * 10000).rounded() / 10000
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    /// Python's `json.dumps` string form (ensure_ascii): the paper format matches the authors'
    /// files byte for byte, so their tooling reads ours unchanged.
    static func writePythonASCII(_ s: String, to out: inout String) {
        out += "\""
        for unit in s.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default:
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        out += "\""
    }
}
