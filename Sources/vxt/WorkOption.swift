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

/// A command that writes or reads a work directory, so that `VXT.main` can say where the trouble
/// is when its store cannot be written (`StoreTrouble`).
protocol WorkDirectoryCommand {
    var workDirectory: String { get }
}

extension AuditCommand: WorkDirectoryCommand { var workDirectory: String { options.work } }
extension ExportCommand: WorkDirectoryCommand { var workDirectory: String { options.work } }
extension RetryCommand: WorkDirectoryCommand { var workDirectory: String { options.work } }
extension ShowCommand: WorkDirectoryCommand { var workDirectory: String { options.work } }
extension StatusCommand: WorkDirectoryCommand { var workDirectory: String { options.work } }
extension RunCommand: WorkDirectoryCommand { var workDirectory: String { work } }
extension MergeCommand: WorkDirectoryCommand { var workDirectory: String { work } }
extension BatchExportCommand: WorkDirectoryCommand { var workDirectory: String { work } }
extension BatchImportCommand: WorkDirectoryCommand { var workDirectory: String { work } }
