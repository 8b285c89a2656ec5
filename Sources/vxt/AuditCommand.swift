import ArgumentParser
import Foundation
import VisualExtraction

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check every finished sample for quality problems; print a summary, optionally an HTML report.",
        discussion: """
            Flags (stored per sample with their evidence, in the job store):
              truncated          finish_reason "length": the description was cut at max_tokens
              empty              fewer than 5 words
              refusal            "I'm sorry", "I cannot", "As an AI" near the start
              meta_leak          talks about the task: "the statement", "Question #", "the provided information"
              missing_statements a statement's key words (answer words, numbers, OCR text) are not in the description
              repetition         repeated word 4-grams: a decoding loop
              length_outlier     under a quarter or over four times the corpus median length
              wrong_language     not Latin script, or almost no English function words
              near_duplicate     estimated Jaccard similarity >= 0.8 to an earlier description (MinHash)
              image_problem      the record's image is missing or broken (no sample)
              unanswerable       with an `output: answers` stage: a gold answer not recoverable from the description

            Incremental and resumable: samples audited before and unchanged since are not checked again; an \
            interrupted audit keeps the batches it committed. Corpus-wide flags are recomputed each time. \
            For a sharded run, merge first (`vxt merge`) or audit one shard with --shard.
            Then: vxt export --work DIR --format llava --out corpus.json --exclude-flags truncated,refusal,meta_leak
            """
    )

    @OptionGroup var options: WorkOption

    @Option(help: ArgumentHelp("Also write a self-contained HTML report with sample cards.", valueName: "file.html"))
    var html: String?

    @Option(help: "Most sample cards in the HTML report (three quarters of them flagged samples when there are that many).")
    var cards: Int = 400

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    func run() throws {
        let store = try options.open(readOnly: false)
        let auditor = try Auditor(store: store)
        let meter = Output.stderrIsTerminal
        let outcome = try auditor.run { audited in
            if meter { Output.info("audited \(audited) samples…") }
        }
        let s = outcome.summary
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            Output.data(String(decoding: try encoder.encode(s), as: UTF8.self))
        } else {
            Output.info(AuditCommand.table(s, outcome: outcome))
        }
        if let html {
            let written = try AuditReport(store: store).write(to: html, maxCards: cards, summary: outcome.summary)
            Output.info(
                "report: \(html) (\(written.cards) cards: \(written.flaggedShown) of \(written.flaggedTotal) flagged, \(written.cleanShown) of \(written.cleanTotal) clean)"
            )
        }
    }

    static func table(_ s: AuditSummary, outcome: Auditor.Outcome) -> String {
        func pct(_ x: Double) -> String { String(format: "%5.1f%%", x * 100) }
        var lines: [String] = []
        lines.append(
            "audited \(outcome.audited) new or changed samples in \(String(format: "%.1f", outcome.seconds)) s; \(s.samples) samples in all"
        )
        lines.append(
            "clean: \(s.samples - s.flagged) (\(pct(s.samples > 0 ? Double(s.samples - s.flagged) / Double(s.samples) : 0)))   "
                + "mean statement coverage: \(pct(s.meanCoverage))   median words: \(s.medianWords)")
        lines.append("")
        lines.append("flag                  samples   share")
        for flag in AuditFlag.allCases {
            let n = s.flags[flag.rawValue] ?? 0
            let share = s.samples > 0 ? Double(n) / Double(s.samples) : 0
            lines.append(
                flag.rawValue.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: "%9d", n) + "  "
                    + (flag == .imageProblem ? "  (records)" : pct(share)))
        }
        lines.append("")
        lines.append("source          samples  flagged  coverage  answerable  top flags")
        for row in s.sources {
            let top = row.flags.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(3)
                .map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            lines.append(
                row.source.padding(toLength: 14, withPad: " ", startingAt: 0) + String(format: "%9d %8d", row.samples, row.flagged)
                    + "   " + pct(row.meanCoverage) + "    " + (row.answerableShare.map(pct) ?? "     –") + "   " + top)
        }
        return lines.joined(separator: "\n")
    }
}
