import ArgumentParser
import Foundation
import VisualExtraction

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a corpus file without calling any teacher: records, images, pairs, answer formats, errors.",
        discussion: """
            Streams the file (a 1 GB JSON array never sits in memory), so it is the quick look before a run. \
            Every record that cannot be used is listed with its position, line, byte offset and reason. With \
            --images it also counts images missing on disk. Exit status 1 when not one record can be used (a \
            layout vxt does not read), so that a script stops there.
            """
    )

    @Argument(help: "Corpus file: LLaVA JSON array, JSONL, or pretty-printed records one after another.")
    var file: String

    @Option(help: "Folder the image paths are relative to; counts images missing there.")
    var images: String?

    @Flag(help: "Follow symlinks inside --images that lead to other folders (as `vxt run --follow-symlinks`).")
    var followSymlinks = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        try CorpusPath.check(file)
        let inspector = CorpusInspector(path: file, imageRoot: images.map { ImageRoot(path: $0, followSymlinks: followSymlinks) })
        let interactive = Output.stderrIsTerminal
        var lastPrint = 0.0
        let report = try inspector.run { records, offset in
            let now = ProgressMeter.now()
            if now - lastPrint >= (interactive ? 1 : 10) {
                lastPrint = now
                Output.info("read \(records) records (\(offset / 1_000_000) MB)…")
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            Output.data(String(decoding: try encoder.encode(report), as: UTF8.self))
            try failWhenNothingIsUsable(report)
            return
        }
        func list(_ counts: [String: Int], limit: Int = 12) -> String {
            let sorted = counts.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
            let shown = sorted.prefix(limit).map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            return sorted.count > limit ? shown + ", … \(sorted.count - limit) more" : shown
        }
        var lines = [
            "\(report.file): \(report.layout), \(report.bytes) bytes, sha256 \(report.sha256.prefix(16))…",
            "records: \(report.records) · with image \(report.withImage) · without \(report.withoutImage) · multi-image \(report.multiImage) · video \(report.video) · unusable \(report.problems)",
            "QA pairs: \(report.pairs) · per record min \(report.pairsPerRecord.min) / median \(report.pairsPerRecord.median) / max \(report.pairsPerRecord.max)",
            "answer formats (pairs): \(list(report.answerFormats))",
            String(
                format: "multiple choice: %d pairs (%.1f%%) · OCR hints: %d · region boxes: %d", report.multipleChoicePairs,
                report.multipleChoiceShare * 100, report.ocrHintPairs, report.regionPairs),
            "<image> in the first question: \(list(report.imageTokenPlacement))"
        ]
        if !report.sources.isEmpty { lines.append("sources: \(list(report.sources))") }
        lines.append(
            "duplicate ids: \(report.duplicateIDs)"
                + (report.duplicateExamples.isEmpty ? "" : " (e.g. \(report.duplicateExamples.prefix(5).joined(separator: ", ")))"))
        if let missing = report.missingImages {
            lines.append("images missing under \(images ?? ""): \(missing)")
            for example in report.missingExamples.prefix(10) { lines.append("  \(example)") }
        }
        if !report.errors.isEmpty {
            lines.append("unusable records (\(report.problems)), by reason:")
            for group in report.errorGroups.prefix(10) {
                let e = group.example
                lines.append(String(format: "%8d  %@", group.count, group.reason))
                // The reason in full only where the group's line does not already say it.
                let reason = group.reason == CorpusInspection.pattern(of: e.reason) ? "" : ": \(e.reason)"
                lines.append(
                    "          e.g. record \(e.position)\(e.id.map { " (id \($0))" } ?? "") line \(e.line), byte \(e.byteOffset)\(reason)")
            }
            if report.errorGroups.count > 10 {
                lines.append(
                    "  … \(report.errorGroups.count - 10) more reasons (use --json: errorGroups, and errors for the first records)")
            }
        }
        Output.data(lines.joined(separator: "\n"))
        try failWhenNothingIsUsable(report)
    }

    func failWhenNothingIsUsable(_ report: CorpusInspection) throws {
        guard report.records > 0, report.problems == report.records else { return }
        Output.info("vxt inspect: not one of the \(report.records) records of \(file) can be used; the report says why")
        throw ExitCode(1)
    }
}
