import ArgumentParser
import Foundation
import VisualExtraction

@main
struct VXT: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vxt",
        abstract: "Turn visual instruction-tuning corpora into visual extraction-tuning corpora.",
        discussion: """
            The Extract+Think method (Endo & Yeung-Levy, arXiv 2511.17487): every QA pair of a record becomes a \
            declarative statement (a text-only call), then a teacher VLM writes a fine-grained description of the \
            image that incorporates them. The descriptions are the training corpus.

            A typical session:
              vxt inspect data/train.json --images data/images
              vxt run pipelines/paper.yaml --input data/train.json \\
                  --images data/images --work out/run1 \\
                  --teacher http://127.0.0.1:8000/v1
              vxt status --work out/run1
              vxt audit --work out/run1 --html out/run1/report.html
              vxt export --work out/run1 --format llava --out corpus.json

            Without --teacher, `vxt run` starts its built-in mock teacher: a rehearsal that needs no GPU, whose outputs \
            are marked as mock in every export. All state lives in <work>/vxt.sqlite; run the same command again after \
            a crash and it continues where it stopped.
            """,
        version: "0.1.0",
        subcommands: [
            RunCommand.self, StatusCommand.self, ShowCommand.self, AuditCommand.self, ExportCommand.self, PromptsCommand.self,
            InspectCommand.self, ImagesCommand.self, MergeCommand.self, RetryCommand.self, BatchCommand.self, ValidateCommand.self,
            InitCommand.self,
            MockTeacherCommand.self
        ]
    )

    /// ArgumentParser's own entry point, but a store that cannot be written (a full disk) is
    /// named with its work directory and what to do, instead of as SQLite's bare error.
    static func main() async {
        var command: (any ParsableCommand)?
        do {
            command = try parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else if var command {
                try command.run()
            }
        } catch {
            if let work = (command as? any WorkDirectoryCommand)?.workDirectory,
                let text = StoreTrouble.explanation(of: error, workDirectory: work)
            {
                FileHandle.standardError.write(Data("Error: \(text)\n".utf8))
                Foundation.exit(1)
            }
            exit(withError: error)
        }
    }
}
