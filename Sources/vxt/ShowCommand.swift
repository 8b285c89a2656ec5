import ArgumentParser
import Foundation
import VisualExtraction

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Everything about one record: its QA pairs and, per stage, the exact request, output, usage and timing."
    )

    @OptionGroup var options: WorkOption

    @Option(help: "The record's id as in the input file (every record that shares it), its store key, or its 0-based position.")
    var id: String

    func run() async throws {
        let store = try options.open()
        let details = try store.details(id: id)
        let renderer = Result { try RequestRenderer(store: store, workDirectory: options.work) }
        var lines: [String] = []
        if details.count > 1 {
            lines.append(
                "id \(id) is shared by \(details.count) records: "
                    + details.map { "key \($0.key) (position \($0.record.position))" }.joined(separator: ", ")
                    + "; each is shown below, `--id <key>` shows one")
        }
        for (index, detail) in details.enumerated() {
            if index > 0 || details.count > 1 { lines.append("") }
            var rendered: [String: RequestRenderer.Rendering] = [:]
            for task in detail.tasks where task.state == .done && task.request == nil {
                switch renderer {
                case let .success(renderer): rendered[task.stage] = await renderer.render(detail, stage: task.stage)
                case let .failure(error): rendered[task.stage] = .unavailable("\(error)")
                }
            }
            lines += Self.lines(detail, rendered: rendered)
        }
        Output.data(lines.joined(separator: "\n"))
    }

    /// - Parameter rendered: done tasks' requests, which the store does not keep, rendered again.
    static func lines(_ detail: RecordDetail, rendered: [String: RequestRenderer.Rendering] = [:]) -> [String] {
        var lines: [String] = []
        let r = detail.record
        lines.append("record \(r.displayID) (key \(detail.key), position \(r.position))")
        lines.append(
            "images: \(r.images.isEmpty ? "none" : r.images.joined(separator: ", "))"
                + (detail.imageSHA256.map { " (sha256 \($0.prefix(16))…)" } ?? ""))
        if let source = r.source { lines.append("source: \(source)") }
        if let skip = r.skipReason { lines.append("skipped: \(skip)") }
        if let problem = detail.problem { lines.append("problem: \(problem)") }
        for (i, pair) in r.pairs.enumerated() {
            lines.append("Q\(i + 1): \(pair.question.replacingOccurrences(of: "\n", with: "\\n"))")
            lines.append("A\(i + 1): \(pair.answer.replacingOccurrences(of: "\n", with: "\\n"))")
        }
        for task in detail.tasks {
            lines.append("")
            lines.append("── \(task.stage): \(task.state), attempts \(task.attempts)" + (task.mock ? ", MOCK output" : ""))
            if let e = task.lastError { lines.append("reason: \(e)") }
            if let note = task.note { lines.append("note: \(note)") }
            if let model = task.model { lines.append("model: \(model) at \(task.endpoint ?? "?")") }
            if let p = task.promptTokens, let c = task.completionTokens {
                lines.append("usage: \(p) prompt + \(c) completion tokens, finish_reason \(task.finishReason ?? "?")")
            }
            if let s = task.startedAt, let f = task.finishedAt { lines.append(String(format: "time: %.3f s", f - s)) }
            if let request = task.request { lines.append("request: \(request)") }
            switch rendered[task.stage] {
            case let .request(request)?:
                lines.append("request (rendered again from the record, the pipeline and the upstream output): \(request)")
            case .none?: lines.append("request: none sent (the stage needed no teacher call)")
            case let .unavailable(reason)?: lines.append("request: cannot be rendered again: \(reason)")
            case nil: break
            }
            if let output = task.output { lines.append("output:\n\(output)") }
        }
        return lines
    }
}
