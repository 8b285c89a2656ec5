import ArgumentParser
import Foundation
import VisualExtraction

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the corpus: for LLaVA, LLaMA-Factory or ms-swift training, as full JSONL, or in the authors' format.",
        discussion: """
            llava: a JSON array of {"id", "image", "conversations"} with the extraction instruction as the human turn \
            and the description as the gpt turn (LLaVA's trainer, with --image_folder set to the run's --images). \
            llamafactory: JSONL of {"messages" (user/assistant), "images", "id"}, and an entry in dataset_info.json \
            beside the file, so that `dataset: <name>` in a LLaMA-Factory config finds it. swift: the same lines, for \
            ms-swift (`swift sft --dataset <file>`). jsonl: one line per finished record with QA pairs, statements, \
            description, teacher model, usage, audit and the mock flag. paper: {"index", "caption"} for every input \
            record, as the authors' script wrote it: "SKIP" for records without an image, and "caption": null with \
            "reason" (failed, with its "kind"; unfinished; excluded) for the rest, so indices never have gaps.

            Only finished records are exported (the paper format marks the others); failed ones are counted here and \
            listed by `vxt status`. Every format loads with `datasets.load_dataset("json", data_files=...)`. The same \
            store always gives the same bytes. Schemas: schemas/export-*.schema.json.
            """
    )

    @OptionGroup var options: WorkOption

    @Option(help: "llava, llamafactory, swift, jsonl or paper.")
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

    @Option(
        help: ArgumentHelp(
            "llamafactory and swift: the folder joined to the records' image paths (default: the run's --images, absolute); '' keeps them as in the corpus (then set LLaMA-Factory's media_dir).",
            valueName: "dir"))
    var imageFolder: String?

    @Option(help: "llamafactory: the dataset's name in dataset_info.json (default: the file's name without .jsonl).")
    var datasetName: String?

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
        let summary = try Exporter(store: store).export(format, to: out, filter: filter, imageFolder: imageFolder)
        var message = "wrote \(summary.written) records to \(out == "-" ? "standard output" : out) (\(format.rawValue))"
        message += "; \(summary.skipped) skipped (no image)"
        if summary.failed > 0 { message += "; \(summary.failed) failed, not exported (see vxt status)" }
        if summary.unfinished > 0 { message += "; \(summary.unfinished) not finished yet" }
        if summary.excluded > 0 { message += "; \(summary.excluded) left out by the audit filter" }
        if summary.unaudited > 0 && summary.unaudited < summary.written {
            message += "; \(summary.unaudited) not audited yet (run `vxt audit` again)"
        }
        if summary.mock > 0 { message += "; \(summary.mock) made by the MOCK teacher" }
        Output.info(message)
        if format == .llamafactory {
            let isFile = (try? FileManager.default.attributesOfItem(atPath: out)[.type] as? FileAttributeType) == .typeRegular
            if out == "-" || !isFile {
                Output.info("not registered in a dataset_info.json: the export is not a file in a dataset folder")
            } else {
                let name = datasetName ?? DatasetInfo.defaultName(forExport: out)
                let registry = try DatasetInfo.register(exportPath: out, name: name)
                Output.info(
                    "registered as \"\(name)\" in \(registry): in LLaMA-Factory, dataset_dir: \((registry as NSString).deletingLastPathComponent) and dataset: \(name)"
                )
            }
        }
        // An empty corpus is not a result, whatever the file holds: a script that trains on it
        // next must stop here. (An input of only skipped records has nothing to export and is no error.)
        if summary.written == 0 && summary.failed + summary.unfinished + summary.excluded > 0 {
            let why =
                summary.excluded > 0 && summary.failed + summary.unfinished == 0
                ? "the audit filter left out every one (loosen --exclude-flags or --min-coverage)"
                : "none is done: `vxt status --work \(options.work)` says why; retry or finish the run, then export again"
            Output.info("vxt export: no record has a description to export: \(why) (exit status 1)")
            throw ExitCode(1)
        }
    }
}
