import ArgumentParser
import Foundation
import VisualExtraction

/// `--work` and `--shard`, shared by the commands that read a work directory.
struct WorkOption: ParsableArguments {
    @Option(help: "Work directory of a run (holds vxt.sqlite, or shard-*-of-*.sqlite stores).")
    var work: String

    @Option(help: ArgumentHelp("One shard's store of a sharded work directory.", valueName: "i/n"))
    var shard: Shard?

    /// Read-only unless the command writes to the store (`vxt audit` stores its flags).
    func open(readOnly: Bool = true) throws -> JobStore {
        try JobStore.open(workDirectory: work, shard: shard, readOnly: readOnly)
    }
}
