import ArgumentParser
import Foundation
import VisualExtraction

struct WorkOption: ParsableArguments {
    @Option(help: "Work directory of a run (holds vxt.sqlite, or shard-*-of-*.sqlite stores).")
    var work: String

    @Option(help: ArgumentHelp("One shard's store of a sharded work directory.", valueName: "i/n"))
    var shard: String?

    /// Read-only unless the command writes to the store (`vxt audit` stores its flags).
    func open(readOnly: Bool = true) throws -> JobStore {
        try JobStore.open(workDirectory: work, shard: shard.map { try Shard(parsing: $0) }, readOnly: readOnly)
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Counts per stage and state, failures grouped by reason, rate and ETA.",
        discussion: "Safe on a live run from another terminal: it only reads (SQLite WAL readers do not block the writer)."
    )

    @OptionGroup var options: WorkOption

    @Flag(help: "Print JSON for scripts instead of the table.")
    var json = false

    @Flag(help: "With --ids: list records with a failed task.")
    var failed = false

    @Option(help: ArgumentHelp("With --failed: only failures of these kinds (\(FailureKind.allCases.map(\.rawValue).joined(separator: ", "))).",
                               valueName: "kind,kind"))
    var kind: String?

    @Flag(help: "With --failed: print the ids of those records, one per line, in input order (for a fix-up script).")
    var ids = false

    func validate() throws {
        if ids != failed { throw ValidationError("--failed and --ids go together: vxt status --work DIR --failed [--kind K] --ids") }
        if kind != nil && !failed { throw ValidationError("--kind goes with --failed --ids") }
        if let kind { do { _ = try FailureKind.parseList(kind) } catch { throw ValidationError("--kind: \(error)") } }
    }

    func run() throws {
        if failed {
            let kinds = try kind.map { try FailureKind.parseList($0) }
            let stores = options.shard == nil && !FileManager.default.fileExists(atPath: (options.work as NSString).appendingPathComponent(JobStore.fileName))
                && JobStore.shardStorePaths(workDirectory: options.work).count > 1
                ? try JobStore.shardStorePaths(workDirectory: options.work).map { try JobStore(path: $0, readOnly: true) }
                : [try options.open()]
            for store in stores {
                let list = try store.failedRecordIDs(kinds: kinds)
                if !list.isEmpty { Output.data(list.joined(separator: "\n")) }
            }
            return
        }
        let status: StatusSummary
        let configuration: RunConfiguration?
        let shardPaths = JobStore.shardStorePaths(workDirectory: options.work)
        let merged = FileManager.default.fileExists(atPath: (options.work as NSString).appendingPathComponent(JobStore.fileName))
        var perShard: [String] = []
        if options.shard == nil && !merged && shardPaths.count > 1 {
            var parts: [StatusSummary] = []
            var first: RunConfiguration?
            for path in shardPaths {
                let store = try JobStore(path: path, readOnly: true)
                let part = try store.status()
                parts.append(part)
                first = try first ?? store.configuration()
                let done = part.stages.last?.counts[.done] ?? 0
                let open = part.stages.reduce(0) { $0 + $1.remaining }
                perShard.append("  \((path as NSString).lastPathComponent): \(part.records) records, \(done) described, \(open) tasks open")
            }
            status = StatusSummary.combined(parts)
            configuration = first
        } else {
            let store = try options.open()
            status = try store.status()
            configuration = try store.configuration()
            for change in try store.changes() {
                perShard.append("accepted change of \(change.what) (\(change.before.prefix(12)) → \(change.after.prefix(12))): \(change.reason)")
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            Output.data(String(decoding: try encoder.encode(status), as: UTF8.self))
        } else {
            var text = StatusReport.text(status, configuration: configuration)
            if !perShard.isEmpty {
                let header = shardPaths.count > 1 && options.shard == nil && !merged ? "\(perShard.count) shards (sums below):\n" : ""
                text = header + perShard.joined(separator: "\n") + "\n" + text
            }
            Output.data(text)
        }
    }
}

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Everything about one record: its QA pairs and, per stage, the exact request, output, usage and timing."
    )

    @OptionGroup var options: WorkOption

    @Option(help: "The record's id as in the input file, its store key, or its 0-based position.")
    var id: String

    func run() throws {
        let store = try options.open()
        let detail = try store.detail(id: id)
        var lines: [String] = []
        let r = detail.record
        lines.append("record \(r.displayID) (key \(detail.key), position \(r.position))")
        lines.append("images: \(r.images.isEmpty ? "none" : r.images.joined(separator: ", "))" + (detail.imageSHA256.map { " (sha256 \($0.prefix(16))…)" } ?? ""))
        if let source = r.source { lines.append("source: \(source)") }
        if let skip = r.skipReason { lines.append("skipped: \(skip)") }
        if let problem = detail.problem { lines.append("problem: \(problem)") }
        for (i, pair) in r.pairs.enumerated() {
            lines.append("Q\(i + 1): \(pair.question.replacingOccurrences(of: "\n", with: "\\n"))")
            lines.append("A\(i + 1): \(pair.answer.replacingOccurrences(of: "\n", with: "\\n"))")
        }
        for task in detail.tasks {
            lines.append("")
            lines.append("── \(task.stage): \(task.state), attempts \(task.attempts)" + (task.mock ? ", MOCK output" : ""))
            if let e = task.lastError { lines.append("reason: \(e)") }
            if let note = task.note { lines.append("note: \(note)") }
            if let model = task.model { lines.append("model: \(model) at \(task.endpoint ?? "?")") }
            if let p = task.promptTokens, let c = task.completionTokens { lines.append("usage: \(p) prompt + \(c) completion tokens, finish_reason \(task.finishReason ?? "?")") }
            if let s = task.startedAt, let f = task.finishedAt { lines.append(String(format: "time: %.3f s", f - s)) }
            if let request = task.request { lines.append("request: \(request)") }
            if let output = task.output { lines.append("output:\n\(output)") }
        }
        Output.data(lines.joined(separator: "\n"))
    }
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the corpus: llava (training file), jsonl (everything per record) or paper (the authors' format).",
        discussion: """
            llava: a JSON array of {"id", "image", "conversations"} with the extraction instruction as the human turn \
            and the description as the gpt turn. jsonl: one line per finished record with QA pairs, statements, \
            description, teacher model, usage and the mock flag. paper: {"index", "caption"} per input record as the \
            authors' script wrote it, "SKIP" for records without an image. Only finished records are exported; failed \
            ones are counted here and listed by `vxt status`. Schemas: schemas/export-*.schema.json.
            """
    )

    @OptionGroup var options: WorkOption

    @Option(help: "llava, jsonl or paper.")
    var format: String

    @Option(help: "Output file, or - for standard output. A file is written beside its final name and renamed into place when complete, so a reader never sees half an export.")
    var out: String

    @Option(help: ArgumentHelp("Leave out samples with any of these audit flags (see `vxt audit --help`).", valueName: "flag,flag"))
    var excludeFlags: String?

    @Option(help: ArgumentHelp("Leave out samples whose audited statement coverage is below this share (0–1).", valueName: "x"))
    var minCoverage: Double?

    func validate() throws {
        guard ExportFormat(rawValue: format) != nil else {
            throw ValidationError("--format must be one of \(ExportFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let excludeFlags {
            do { _ = try AuditFlag.parseList(excludeFlags) } catch { throw ValidationError("\(error)") }
        }
        if let minCoverage, !(0...1).contains(minCoverage) {
            throw ValidationError("--min-coverage is a share between 0 and 1, e.g. 0.8")
        }
    }

    func run() throws {
        let store = try options.open()
        guard let format = ExportFormat(rawValue: format) else { return }
        let filter = ExportFilter(excludeFlags: try excludeFlags.map(AuditFlag.parseList) ?? [], minimumCoverage: minCoverage)
        let summary = try Exporter(store: store).export(format, to: out, filter: filter)
        var message = "wrote \(summary.written) records to \(out) (\(format.rawValue))"
        message += "; \(summary.skipped) skipped (no image)"
        if summary.failed > 0 { message += "; \(summary.failed) failed, not exported (see vxt status)" }
        if summary.unfinished > 0 { message += "; \(summary.unfinished) not finished yet" }
        if summary.excluded > 0 { message += "; \(summary.excluded) left out by the audit filter" }
        if summary.unaudited > 0 && summary.unaudited < summary.written {
            message += "; \(summary.unaudited) not audited yet (run `vxt audit` again)"
        }
        if summary.mock > 0 { message += "; \(summary.mock) made by the MOCK teacher" }
        Output.info(message)
    }
}
