import ArgumentParser
import Foundation
import VisualExtraction

struct ImagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "images",
        abstract: "Check a corpus's images before a run: missing, outside --images, corrupt, unsupported, oversized.",
        discussion: """
            Reads and decodes every image the records name (JPEGs at 1/8 scale) without calling a teacher. The \
            format is read from the file's bytes; files whose extension names another format are counted as \
            misnamed (they still work). Exits 1 when any image has a problem, so it can gate a job script.
            """
    )

    @Option(help: "Corpus file (LLaVA JSON array or JSONL).")
    var input: String

    @Option(help: "Folder the records' image paths are relative to.")
    var images: String

    @Flag(help: "Follow symlinks inside --images that lead to other folders (as `vxt run --follow-symlinks`).")
    var followSymlinks = false

    @Option(help: "Pixel limit above which an image is oversized (default: the paper pipeline's 178956970).")
    var maxPixels = 178_956_970

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let check = ImageCheck(root: ImageRoot(path: images, followSymlinks: followSymlinks), maxPixels: maxPixels)
        let report = try check.run(inputPath: input) { count in
            if Output.stderrIsTerminal { Output.info("checked \(count) images…") }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            Output.data(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            var lines = [
                "\(report.records) records, \(report.recordsWithImages) with images, \(report.images) images: \(report.ok) ok, \(report.problemCount) with problems"
            ]
            lines.append(
                "formats: " + report.formats.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                    + (report.misnamed > 0 ? " (\(report.misnamed) with an extension that names another format)" : ""))
            for (title, problems) in [
                ("missing", report.missing), ("outside --images", report.outsideRoot), ("corrupt", report.corrupt),
                ("unsupported", report.unsupported), ("oversized", report.oversized)
            ] where !problems.isEmpty {
                lines.append("\(title): \(problems.count)")
                for p in problems.prefix(20) { lines.append("  record \(p.record): \(p.reason)") }
                if problems.count > 20 { lines.append("  … \(problems.count - 20) more (use --json for all)") }
            }
            if report.unreadableRecords > 0 {
                lines.append("\(report.unreadableRecords) records could not be read; `vxt run` reports each")
            }
            Output.data(lines.joined(separator: "\n"))
        }
        if report.problemCount > 0 { throw ExitCode(1) }
    }
}
