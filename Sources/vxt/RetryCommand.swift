import ArgumentParser
import Foundation
import VisualExtraction

struct RetryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Return failed tasks to work, so that the next `vxt run` tries them again.",
        discussion: """
            Failures are chosen by kind (`vxt status` lists them): e.g. --kind teacher_unreachable,timeout after a \
            server outage, --kind http_status after a 429 storm. Tasks of later stages that failed only because these \
            failed wait again too. Input problems are not retried (fix the input), except image_missing: --kind \
            image_missing looks for those records' images again (under --images, else the run's) and puts the ones \
            found back to work.
            """
    )

    @OptionGroup var options: WorkOption

    @Option(help: "Only this stage.")
    var stage: String?

    @Option(
        help: ArgumentHelp(
            "Only failures of these kinds, comma-separated.",
            valueName: "kind,kind"))
    var kind: FailureKinds?

    @Option(help: "Only failures whose message contains this text (prefer --kind).")
    var reason: String?

    @Option(help: "With --kind image_missing: the folder to look in (default: the run's --images).")
    var images: String?

    func run() throws {
        let store = try options.open(readOnly: false)
        let graph = StageGraph(try store.storedPipeline())
        let kinds = kind?.kinds
        if kinds?.contains(.imageMissing) == true {
            let configuration = try store.configuration()
            let root = images ?? configuration?.imagesRoot ?? "."
            let recheck = try ImageRecheck(
                store: store, root: ImageRoot(path: root, followSymlinks: configuration?.followSymlinks ?? false), stages: graph.stages
            ).run()
            Output.info("image_missing: \(recheck.found) of \(recheck.checked) records find their images under \(root) now; back to work")
        }
        let summary = try store.retry(stage: stage, kinds: kinds?.filter { $0 != .imageMissing }, reasonContaining: reason, graph: graph)
        try store.checkpoint()
        Output.info("\(summary.returned) tasks returned to work; run the same `vxt run` command again to do them")
        if summary.returned == 0 {
            let alone = summary.leftAlone.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key.rawValue)" }
            if !alone.isEmpty {
                Output.info(
                    "not retried: \(alone.joined(separator: ", ")) (input problems are fixed in the input; "
                        + "missing images with --kind image_missing; dependents come back with the stage they need)")
            } else {
                Output.info(
                    "no failed task matches" + (kind.map { " --kind \($0)" } ?? "") + (stage.map { " --stage \($0)" } ?? "")
                        + (reason.map { " --reason \"\($0)\"" } ?? "") + "; `vxt status --work \(options.work)` lists the failures by kind")
            }
        }
    }
}
