import ArgumentParser
import Foundation
import VisualExtraction

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
    var format: ExportFormat

    @Option(
        help:
            "Output file, or - for standard output. A file is written beside its final name and renamed into place when complete, so a reader never sees half an export."
    )
    var out: String

    @Option(help: ArgumentHelp("Leave out samples with any of these audit flags (see `vxt audit --help`).", valueName: "flag,flag"))
    var excludeFlags: String?

    @Option(help: ArgumentHelp("Leave out samples whose audited statement coverage is below this share (0–1).", valueName: "x"))
    var minCoverage: Double?

    func validate() throws {
        if let excludeFlags {
            do { _ = try AuditFlag.parseList(excludeFlags) } catch { throw ValidationError("\(error)") }
        }
        if let minCoverage, !(0...1).contains(minCoverage) {
            throw ValidationError("--min-coverage is a share between 0 and 1, e.g. 0.8")
        }
    }

    func run() throws {
        let store = try options.open()
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
