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
