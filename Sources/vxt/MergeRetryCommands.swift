import ArgumentParser
import Foundation
import VisualExtraction

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join the shard stores of a work directory into <work>/vxt.sqlite, for status, show and export.",
        discussion: """
            Checks first that the shards are one run (same pipeline hash, input hash and shard count), that none is \
            missing and that all are finished; lists every problem instead of merging around it. Records keep their \
            input order, and duplicate ids get the same keys as in an unsharded run.
            """
    )

    @Option(help: "Work directory holding shard-*-of-*.sqlite stores.")
    var work: String

    @Flag(help: "Merge even when shards still have unfinished tasks.")
    var allowUnfinished = false

    func run() throws {
        do {
            let summary = try ShardMerge(workDirectory: work).run(allowUnfinished: allowUnfinished)
            Output.info("merged \(summary.shards) shards: \(summary.records) records, \(summary.tasks) tasks → \(summary.path)")
            Output.info("next: \(CommandLine.arguments[0]) export --work \(work) --format llava --out \(work)/corpus.llava.json")
        } catch let problems as ShardMerge.Problems {
            Output.info(problems.description)
            throw ExitCode(1)
        }
    }
}

struct RetryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Return failed tasks to pending, so that the next `vxt run` tries them again.",
        discussion: """
            Tasks of later stages that failed only because these failed wait again too. Records with input problems \
            are not retried (fix the input instead). Use --reason with a part of the message `vxt status` shows, \
            e.g. --reason "HTTP 429".
            """
    )

    @OptionGroup var options: WorkOption

    @Option(help: "Only this stage.")
    var stage: String?

    @Option(help: "Only failures whose reason contains this text.")
    var reason: String?

    func run() throws {
        let store = try options.open(readOnly: false)
        let pipeline = try Pipeline(definition: try store.storedPipeline(), path: "(stored in \(options.work))")
        let changed = try store.retry(stage: stage, reasonContaining: reason, pipeline: pipeline)
        Output.info("\(changed) tasks returned to work; run the same `vxt run` command again to do them")
    }
}
