import ArgumentParser
import VisualExtraction

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a pipeline file without running anything: keys, types, stages, templates.",
        discussion: """
            Every key must be one vxt reads at that place (a misspelled optional key is an error with its line and the \\
            key it resembles, not silently ignored); values must have the right type; stages must name earlier stages \\
            they need; templates must use known names. Exit status 0 when the file is good, 1 otherwise.
            """
    )

    @Argument(help: "Pipeline file (e.g. pipelines/paper.yaml), or a built-in pipeline by name: paper, clean.")
    var pipeline: String

    func run() throws {
        do {
            let loaded = try Pipeline.load(path: pipeline)
            let stages = loaded.stages.map { $0.needs.isEmpty ? $0.name : "\($0.name) (needs \($0.needs.joined(separator: ", ")))" }
            Output.data(
                "\(pipeline): ok · pipeline \(loaded.definition.name) · hash \(loaded.hash.prefix(12)) · stages: "
                    + stages.joined(separator: ", "))
        } catch {
            Output.info("vxt validate: \(error)")
            throw ExitCode(1)
        }
    }
}
