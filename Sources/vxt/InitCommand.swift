import ArgumentParser
import Foundation
import VisualExtraction

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a commented starter pipeline file to edit.",
        discussion: """
            paper: the method as published (the authors' prompts byte for byte, Qwen3-VL-8B-Instruct, 512x512 images). \\
            clean: the same with cleaned statement inputs, rule statements, a question-hint stage and an answerability \\
            check. Both are also built in: `vxt run paper …` uses the first without a file. Check an edited file with \\
            `vxt validate FILE`.
            """
    )

    @Option(
        help: ArgumentHelp("The built-in pipeline to start from: \(BuiltInPipelines.names.joined(separator: " or ")).", valueName: "name"))
    var from = "paper"

    @Option(help: "Where to write it (default: <from>.yaml in the current folder; - for standard output).")
    var out: String?

    @Flag(help: "Replace the file if it exists.")
    var force = false

    func validate() throws {
        guard BuiltInPipelines.yaml(named: from) != nil else {
            throw ValidationError("--from takes \(BuiltInPipelines.names.joined(separator: " or ")) (got \(from))")
        }
    }

    func run() throws {
        guard let yaml = BuiltInPipelines.yaml(named: from) else { return }
        let path = out ?? "\(from).yaml"
        if path != "-" && FileManager.default.fileExists(atPath: path) && !force {
            Output.info("vxt init: \(path) exists; pass --force to replace it, or --out another file")
            throw ExitCode(1)
        }
        let file = try OutputFile(path: path)
        try file.write(yaml)
        try file.commit()
        if path != "-" {
            Output.info("wrote \(path) (from the built-in \(from) pipeline); edit it, then `vxt validate \(path)`")
        }
    }
}
