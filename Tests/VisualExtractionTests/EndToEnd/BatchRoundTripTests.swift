import Foundation
import Testing
@testable import VisualExtraction

/// Batch files both ways, as a user drives them: `vxt batch export`, a batch runner (the mock as
/// `vllm run-batch` would be), `vxt batch import`, then `vxt export`. The corpus must be the one an
/// online run against the same teacher gives, byte for byte.
@Suite struct BatchRoundTripTests {
    func vxt(_ arguments: [String]) async throws -> TestSupport.ProcessResult { try await TestSupport.runVXT(arguments) }
    let sample = ["--input", "samples/llava_sample.json", "--images", "samples/images"]

    /// Batch files of a folder, in name order.
    func batchFiles(_ folder: URL, stage: String) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("vxt-\(stage)-") }.sorted()
            .map { folder.appendingPathComponent($0) }
    }

    /// Runs each batch file through the mock batch runner; returns the output files.
    func runBatches(_ files: [URL], into folder: URL, extra: [String] = []) async throws -> [URL] {
        var outputs: [URL] = []
        for file in files {
            let output = folder.appendingPathComponent("results-" + file.lastPathComponent)
            let run = try await vxt(["mock-teacher", "--run-batch", file.path, "--output", output.path] + extra)
            #expect(run.status == 0, "\(run.stderr)")
            outputs.append(output)
        }
        return outputs
    }

    func customIDs(_ files: [URL]) throws -> [String] {
        try files.flatMap { try TestSupport.jsonLines($0) }.compactMap { $0["custom_id"]?.stringValue }
    }

    func exports(_ work: URL) async throws -> [String: Data] {
        var out: [String: Data] = [:]
        for format in ["llava", "jsonl", "paper"] {
            let file = work.appendingPathComponent("corpus.\(format)")
            let export = try await vxt(["export", "--work", work.path, "--format", format, "--out", file.path])
            #expect(export.status == 0, "\(export.stderr)")
            out[format] = try Data(contentsOf: file)
        }
        return out
    }

    @Test func bothStagesThroughBatchFilesGiveTheCorpusOfAnOnlineRun() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let online = dir.appendingPathComponent("online"), work = dir.appendingPathComponent("batch")
        let batches = dir.appendingPathComponent("batches")
        #expect(try await vxt(["run", "paper"] + sample + ["--work", online.path]).status == 0)

        // Statements, split at 3 requests a file.
        let first = try await vxt(
            ["batch", "export", "paper"] + sample + ["--work", work.path, "--out", batches.path, "--max-requests", "3"])
        #expect(first.status == 0, "\(first.stderr)")
        let statementFiles = try batchFiles(batches, stage: "statements")
        #expect(try statementFiles.map { try TestSupport.jsonLines($0).count } == [3, 3, 3, 1], "\(first.stderr)")
        let ids = try customIDs(statementFiles)
        #expect(Set(ids).count == 10 && ids.allSatisfy { $0.contains("|statements|") }, "\(ids)")
        for line in try TestSupport.jsonLines(statementFiles[0]) {
            #expect(line["method"]?.stringValue == "POST" && line["url"]?.stringValue == "/v1/chat/completions")
            #expect(line["body"]?["model"]?.stringValue == "Qwen/Qwen3-VL-8B-Instruct")
        }
        // A second export writes nothing: the requests are in their batch already.
        let again = try await vxt(["batch", "export", "--work", work.path, "--out", batches.path])
        #expect(again.stderr.contains("no requests are ready"), "\(again.stderr)")
        #expect(try batchFiles(batches, stage: "statements").count == 4)

        // An online run on the same work directory does not send what is in a batch.
        let runBeside = try await vxt(["run", "paper"] + sample + ["--work", work.path])
        #expect(runBeside.status == 0, "\(runBeside.stderr)")
        #expect(runBeside.stderr.contains("10 requests are in batch files"), "\(runBeside.stderr)")
        let store = try JobStore.open(workDirectory: work.path)
        #expect(try store.counts(stage: "statements") == [.batched: 10, .skipped: 2])

        let results = try await runBatches(statementFiles, into: dir)
        let imported = try await vxt(["batch", "import", "--work", work.path] + results.map(\.path))
        #expect(imported.stderr.contains("10 new results") && imported.stderr.contains("10 tasks done"), "\(imported.stderr)")
        // Importing the same files again changes nothing; foreign and broken lines are counted.
        let foreign = dir.appendingPathComponent("foreign.jsonl")
        try Data(
            """
            {"custom_id": "someone-else|statements|0", "response": {"status_code": 200, "body": {}}, "error": null}
            {"custom_id": 
            """.utf8
        ).write(to: foreign)
        let twice = try await vxt(["batch", "import", "--work", work.path] + results.map(\.path) + [foreign.path])
        #expect(twice.status == 0, "\(twice.stderr)")
        #expect(twice.stderr.contains("0 new results, 10 already imported, 1 with a custom_id"), "\(twice.stderr)")
        #expect(twice.stderr.contains("1 unreadable") && twice.stderr.contains("someone-else|statements|0"), "\(twice.stderr)")
        #expect(twice.stderr.contains("committed: 0 tasks done"), "\(twice.stderr)")
        #expect(try store.counts(stage: "statements") == [.done: 10, .skipped: 2])
        #expect(try store.counts(stage: "extraction") == [.pending: 10, .skipped: 2])

        // Descriptions, split at 300 KB (each request carries its 512x512 JPEG).
        let second = try await vxt(["batch", "export", "--work", work.path, "--out", batches.path, "--max-bytes", "300KB"])
        #expect(second.status == 0, "\(second.stderr)")
        let extractionFiles = try batchFiles(batches, stage: "extraction")
        #expect(extractionFiles.count >= 4, "\(second.stderr)")
        for file in extractionFiles {
            let size = try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int ?? 0
            let requests = try TestSupport.jsonLines(file).count
            #expect(size <= 300_000 || requests == 1, "\(file.lastPathComponent): \(size) bytes")
        }
        #expect(try customIDs(extractionFiles).count == 10)

        // Results of the first two files only; the rest is resubmitted (same custom_ids), then answered.
        let someResults = try await runBatches(Array(extractionFiles.prefix(2)), into: dir)
        #expect(try await vxt(["batch", "import", "--work", work.path] + someResults.map(\.path)).status == 0)
        let resubmitted = dir.appendingPathComponent("resubmitted")
        let resubmit = try await vxt(["batch", "export", "--work", work.path, "--out", resubmitted.path, "--resubmit"])
        #expect(resubmit.status == 0, "\(resubmit.stderr)")
        let resent = try batchFiles(resubmitted, stage: "extraction")
        #expect(Set(try customIDs(resent)) == Set(try customIDs(Array(extractionFiles.dropFirst(2)))), "only the unanswered, same ids")
        let rest = try await runBatches(resent, into: dir)
        let last = try await vxt(["batch", "import", "--work", work.path] + rest.map(\.path))
        #expect(last.status == 0, "\(last.stderr)")
        #expect(try store.counts(stage: "extraction") == [.done: 10, .skipped: 2])
        #expect(try store.countersDisagreement() == [])

        let viaBatch = try await exports(work), viaServer = try await exports(online)
        for format in ["llava", "jsonl", "paper"] {
            #expect(viaBatch[format] == viaServer[format], "\(format) export differs from the online run's")
        }
        // The stored request is the exported one, its image's placeholder included.
        let shown = try await vxt(["show", "--work", work.path, "--id", "astronaut-0001"])
        #expect(shown.stdout.contains("<image image/jpeg 512x512"), "\(shown.stdout)")
        let status = try await vxt(["status", "--work", work.path])
        #expect(status.stdout.contains("batch "), "usage is accounted under the batch endpoint: \(status.stdout)")
    }

    @Test func errorLinesFailWithTheirKindAndExpiredRequestsAreResubmitted() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = dir.appendingPathComponent("work"), batches = dir.appendingPathComponent("batches")
        #expect(try await vxt(["batch", "export", "paper"] + sample + ["--work", work.path, "--out", batches.path]).status == 0)
        let file = try #require(try batchFiles(batches, stage: "statements").first)
        let results = try #require(try await runBatches([file], into: dir, extra: ["--fail-rate", "0.4", "--seed", "3"]).first)
        // One request the service never ran: an expired batch's error line.
        var lines = try String(contentsOf: results, encoding: .utf8).split(separator: "\n").map(String.init)
        let expiredID = try #require(try TestSupport.jsonLines(results).last?["custom_id"]?.stringValue)
        lines[lines.count - 1] =
            #"{"id": "batch_req_9", "custom_id": "\#(expiredID)", "response": null, "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}}"#
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: results)
        let failing = try TestSupport.jsonLines(results).filter { $0["response"]?["status_code"] == .number("500") }.count
        #expect(failing > 0 && failing < 9, "the seed gives some 500s: \(failing)")

        let imported = try await vxt(["batch", "import", "--work", work.path, results.path])
        #expect(imported.stderr.contains("1 never run"), "\(imported.stderr)")
        #expect(imported.stderr.contains("\(9 - failing) tasks done, \(failing) failed"), "\(imported.stderr)")
        let store = try JobStore.open(workDirectory: work.path)
        let groups = try store.status().failures
        #expect(
            groups.contains {
                $0.stage == "statements" && $0.kind == .httpStatus && $0.count == failing && $0.examples[0].contains("HTTP 500")
            },
            "\(groups)")
        #expect(try store.counts(stage: "statements")[.batched] == 1, "the expired request waits in its batch")

        let resubmit = try await vxt([
            "batch", "export", "--work", work.path, "--out", dir.appendingPathComponent("again").path, "--resubmit"
        ])
        let resent = try batchFiles(dir.appendingPathComponent("again"), stage: "statements")
        #expect(try customIDs(resent) == [expiredID], "\(resubmit.stderr)")

        // The failures come back with `vxt retry`, and go in the next batch under the same ids.
        #expect(try await vxt(["retry", "--work", work.path, "--kind", "http_status"]).status == 0)
        let retried = dir.appendingPathComponent("retried")
        #expect(try await vxt(["batch", "export", "--work", work.path, "--out", retried.path, "--stage", "statements"]).status == 0)
        let retriedFiles = try batchFiles(retried, stage: "statements")
        #expect(try customIDs(retriedFiles).count == failing)
        let answers = try await runBatches(retriedFiles + resent, into: dir)
        let fixed = try await vxt(["batch", "import", "--work", work.path] + answers.map(\.path))
        #expect(fixed.stderr.contains("\(failing + 1) tasks done, 0 failed"), "\(fixed.stderr)")
        #expect(try store.counts(stage: "statements") == [.done: 10, .skipped: 2])
    }

    /// A statements answer with too few lines is asked again, then pair by pair, as online: each
    /// follow-up is a request for the next batch, until every record has its statements.
    @Test func reAsksBecomeTheNextBatchAndEndWhereAnOnlineRunEnds() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let online = dir.appendingPathComponent("online"), work = dir.appendingPathComponent("batch")
        let run = try await vxt(["run", "paper"] + sample + ["--work", online.path, "--mock-statement-fault", "short-always"])
        #expect(run.status == 0, "\(run.stderr)")

        var round = 0
        var followUps = 0
        var args = ["batch", "export", "paper"] + sample + ["--work", work.path, "--out"]
        while round < 20 {
            round += 1
            let folder = dir.appendingPathComponent("round\(round)")
            let export = try await vxt(args + [folder.path])
            #expect(export.status == 0, "\(export.stderr)")
            args = ["batch", "export", "--work", work.path, "--out"]
            let files =
                (try? FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map { folder.appendingPathComponent($0) }) ?? []
            if files.isEmpty { break }
            let results = try await runBatches(files, into: folder, extra: ["--statement-fault", "short-always"])
            let imported = try await vxt(["batch", "import", "--work", work.path] + results.map(\.path))
            #expect(imported.status == 0, "\(imported.stderr)")
            if let range = imported.stderr.range(of: #"(\d+) need another request"#, options: .regularExpression) {
                followUps += Int(imported.stderr[range].split(separator: " ")[0]) ?? 0
            }
        }
        #expect(followUps > 0, "short answers were asked again")
        #expect(round < 20, "the rounds end")
        let viaBatch = try await exports(work), viaServer = try await exports(online)
        #expect(viaBatch["jsonl"] == viaServer["jsonl"], "statements, descriptions and usage as online")
    }

    /// Starts `vxt` and kills it with SIGKILL after a random moment, `rounds` times.
    /// The kill lands at a random moment in `window` (seconds after the start): a moment, not a bound.
    func killNine(_ arguments: [String], rounds: Int, within window: ClosedRange<Double>, in dir: URL, name: String) async throws -> Int {
        var generator = SystemRandomNumberGenerator()
        var killed = 0
        for round in 0..<rounds {
            let process = try TestSupport.startVXT(
                arguments, stdout: dir.appendingPathComponent("\(name)-out\(round)"),
                stderr: dir.appendingPathComponent("\(name)-err\(round)"))
            try await Task.sleep(nanoseconds: UInt64(Double.random(in: window, using: &generator) * 1e9))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                killed += 1
            }
            _ = await TestSupport.exitStatus(of: process)
        }
        return killed
    }

    /// kill -9 in the middle of exports and imports never loses a request or an answer, and never
    /// commits one twice: the corpus is the online run's.
    @Test func killNineDuringBatchExportsAndImportsLosesNothing() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("corpus.json")
        try RunEndToEndTests().writeLargerCorpus(input, records: 40)
        let work = dir.appendingPathComponent("batch"), online = dir.appendingPathComponent("online")
        let batches = dir.appendingPathComponent("batches")
        let source = ["--input", input.path, "--images", "samples/images"]
        #expect(try await vxt(["run", "paper"] + source + ["--work", online.path]).status == 0)
        #expect(
            try await vxt(["batch", "export", "paper"] + source + ["--work", work.path, "--out", batches.path, "--stage", "statements"])
                .status == 0)
        let statements = try await runBatches(try batchFiles(batches, stage: "statements"), into: dir)
        #expect(try await vxt(["batch", "import", "--work", work.path] + statements.map(\.path)).status == 0)

        // The extraction export (each request a JPEG to prepare) killed at random, then finished.
        let export = ["batch", "export", "--work", work.path, "--out", batches.path, "--max-requests", "3"]
        let killedExports = try await killNine(export, rounds: 6, within: 0.05...0.6, in: dir, name: "export")
        #expect(try await vxt(export).status == 0)
        let store = try JobStore.open(workDirectory: work.path)
        #expect(try store.counts(stage: "extraction") == [.batched: 36, .skipped: 4], "killed \(killedExports) exports")
        #expect(try store.countersDisagreement() == [])
        let files = try batchFiles(batches, stage: "extraction")
        let written = try customIDs(files)
        #expect(Set(written).count == 36, "every request written, a file that was cut off never renamed into place")

        // Imports killed at random, then one to the end: each answer committed once.
        let results = try await runBatches(files, into: dir)
        let importing = ["batch", "import", "--work", work.path] + results.map(\.path)
        let killedImports = try await killNine(importing, rounds: 6, within: 0.01...0.2, in: dir, name: "import")
        let last = try await vxt(importing)
        #expect(last.status == 0, "\(last.stderr)")
        #expect(try store.counts(stage: "extraction") == [.done: 36, .skipped: 4], "killed \(killedImports) imports: \(last.stderr)")
        #expect(try store.countersDisagreement() == [])
        let viaBatch = try await exports(work), viaServer = try await exports(online)
        #expect(viaBatch["jsonl"] == viaServer["jsonl"] && viaBatch["llava"] == viaServer["llava"])
    }
}
