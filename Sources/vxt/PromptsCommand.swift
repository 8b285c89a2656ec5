import ArgumentParser
import Foundation
import MockTeacher
import VisualExtraction

struct PromptsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompts",
        abstract: "Print the exact prompts a stage would send, as JSONL: {\"id\": ..., \"prompt\": ...}.",
        discussion: """
            One line per record with an image, without calling any teacher. A stage that needs another stage's output \
            (the extraction stage needs statements) takes it from --work, the work directory of a run.
            """
    )

    @Argument(help: "Pipeline file.")
    var pipeline: String

    @Option(help: "Corpus file (LLaVA JSON array or JSONL).")
    var input: String

    @Option(help: "Stage to render.")
    var stage: String

    @Option(help: "Work directory to take upstream stage outputs from.")
    var work: String?

    func run() throws {
        let pipeline = try Pipeline.load(path: pipeline)
        guard let stage = pipeline.stage(named: stage) else {
            throw ValidationError("pipeline has no stage \"\(self.stage)\"; it has \(pipeline.stages.map(\.name).joined(separator: ", "))")
        }
        let store = try work.map { try JobStore.open(workDirectory: $0) }
        if !stage.needs.isEmpty && store == nil {
            throw ValidationError(
                "stage \(stage.name) needs \(stage.needs.joined(separator: ", ")); pass --work DIR of a run that has them")
        }
        var problems = 0
        _ = try RecordSplitter(path: input).forEach { event in
            guard case let .record(raw) = event, case let .success(record) = LLaVARecordDecoder.decode(raw) else {
                problems += 1
                return
            }
            guard record.skipReason == nil else { return }
            var upstream: [String: String] = [:]
            if let store, !stage.needs.isEmpty {
                guard let detail = try? store.detail(id: String(record.position)) else { return }
                for need in stage.needs {
                    guard let output = detail.tasks.first(where: { $0.stage == need && $0.state == .done })?.output else { return }
                    upstream[need] = output
                }
            }
            let prompt = try stage.prompt(for: record, upstream: upstream)
            Output.data(JSONValue.object([("id", .string(record.displayID)), ("prompt", .string(prompt))]).jsonText)
        }
        if problems > 0 { Output.info("\(problems) records could not be read; `vxt run` reports each with its reason") }
    }
}
