import ArgumentParser
import Foundation
import VisualExtraction

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

    @Option(
        help: ArgumentHelp(
            "With --failed: only failures of these kinds, comma-separated.",
            valueName: "kind,kind"))
    var kind: FailureKinds?

    @Flag(help: "With --failed: print the ids of those records, one per line, in input order (for a fix-up script).")
    var ids = false

    func validate() throws {
        if ids != failed { throw ValidationError("--failed and --ids go together: vxt status --work DIR --failed [--kind K] --ids") }
        if kind != nil && !failed { throw ValidationError("--kind goes with --failed --ids") }
    }

    func run() throws {
        if failed {
            for store in try WorkStatus.stores(workDirectory: options.work, shard: options.shard) {
                let list = try store.failedRecordIDs(kinds: kind?.kinds)
                if !list.isEmpty { Output.data(list.joined(separator: "\n")) }
            }
            return
        }
        let status = try WorkStatus.read(workDirectory: options.work, shard: options.shard)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            Output.data(String(decoding: try encoder.encode(status.summary), as: UTF8.self))
        } else {
            var text = StatusReport.text(status.summary, configuration: status.configuration)
            if !status.shardLines.isEmpty {
                text = "\(status.shardLines.count) shards (sums below):\n" + status.shardLines.joined(separator: "\n") + "\n" + text
            } else if !status.changes.isEmpty {
                text = status.changes.joined(separator: "\n") + "\n" + text
            }
            if !status.sources.isEmpty { text = status.sources.joined(separator: "\n") + "\n" + text }
            Output.data(text)
        }
    }
}
