import Foundation
import Testing
@testable import VisualExtraction

/// Sharded runs, merge, retry and the response cache, through the `vxt` binary.
// A hang fails the suite instead of holding CI: generous, since no test bounds real time otherwise.
@Suite(.serialized, .timeLimit(.minutes(15))) struct ShardedRunTests {
    func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> TestSupport.ProcessResult {
        try await TestSupport.runVXT(arguments, environment: environment)
    }

    func corpus(in dir: URL) throws -> URL {
        let input = dir.appendingPathComponent("corpus.json")
        try RunEndToEndTests().writeLargerCorpus(input, records: 41)
        return input
    }

    /// On a cluster the shards run on compute nodes and people look from a login node. SQLite's
    /// write-ahead log cannot be read safely from a second machine, so a shard store that a run on
    /// another host holds is never opened: `vxt status` sums the snapshot that run leaves beside
    /// it, and `merge` refuses, naming the run, until the shard is done.
    @Test func aShardWrittenOnAnotherMachineIsReadFromItsSnapshotAndNotMergedYet() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try corpus(in: dir)
        let work = dir.appendingPathComponent("work")
        for i in 0..<2 {
            let shard = try await run([
                "run", "pipelines/paper.yaml", "--input", input.path, "--images", "samples/images", "--work", work.path,
                "--shard", "\(i)/2"
            ])
            #expect(shard.status == 0, "\(shard.stderr)")
        }
        // Each run left its status beside its store as it ended.
        let storePath = work.appendingPathComponent("shard-0001-of-0002.sqlite").path
        let snapshot = try #require(StatusSnapshot.read(storePath: storePath))
        let counted = try JobStore(path: storePath, readOnly: true).status()
        #expect(snapshot.summary.records == counted.records && snapshot.summary.records == 20)
        #expect(snapshot.summary.stages.map(\.counts) == counted.stages.map(\.counts))

        // Shard 1 is taken by a run on gpu-node-03 (its lock held, naming that host), and its
        // store is unreadable from here: garbage where the file was.
        let real = try Data(contentsOf: URL(fileURLWithPath: storePath))
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: storePath))
        let lock = open(work.appendingPathComponent("shard-0001-of-0002.lock").path, O_RDWR | O_CLOEXEC)
        #expect(lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) == 0)
        #expect(ftruncate(lock, 0) == 0 && pwrite(lock, "4242 gpu-node-03\n", 17, 0) == 17)

        let status = try await run(["status", "--work", work.path])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("records: 41"), "both shards are summed: \(status.stdout)")
        #expect(
            status.stdout.contains("shard-0001-of-0002.sqlite: as of ")
                && status.stdout.contains(" ago, from the snapshot its run on \(WorkDirectoryLock.hostName) (pid "),
            "\(status.stdout)")
        let jsonText = try await run(["status", "--work", work.path, "--json"]).stdout
        let json = try JSONParser.parse(jsonText)
        #expect(json["running"] == .bool(true) && json["records"] == .number("41"))
        // The JSON says which part came from a snapshot, as the text does, in its schema.
        let sources: [JSONValue] = if case .array(let list)? = json["fromSnapshots"] { list } else { [] }
        #expect(
            sources.count == 1 && sources.first?["store"] == .string("shard-0001-of-0002.sqlite")
                && sources.first?["host"] == .string(WorkDirectoryLock.hostName) && sources.first?["writtenAt"] != nil,
            "\(json["fromSnapshots"]?.jsonText ?? "no fromSnapshots")")
        if SchemaConformanceTests.validatorAvailable {
            let jsonFile = dir.appendingPathComponent("status.json")
            try Data(jsonText.utf8).write(to: jsonFile)
            let (validated, problems) = try await SchemaConformanceTests().validate("status", [jsonFile])
            #expect(validated == 0, "\(problems)")
        }
        #expect(!status.stdout.contains("still up?"), "a fresh snapshot: \(status.stdout)")
        // No snapshot for an hour: the node may be gone while the file server still keeps its lock.
        let snapshotURL = URL(fileURLWithPath: StatusSnapshot.path(storePath: storePath))
        var old = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: snapshotURL)) as? [String: Any])
        old["writtenAt"] = Date().timeIntervalSince1970 - 3_600
        try JSONSerialization.data(withJSONObject: old).write(to: snapshotURL)
        let stale = try await run(["status", "--work", work.path])
        #expect(stale.stdout.contains("as of 1h00m ago") || stale.stdout.contains("as of 1h01m ago"), "\(stale.stdout)")
        #expect(stale.stdout.contains("none newer for a while: is \(WorkDirectoryLock.hostName) still up?"), "\(stale.stdout)")

        let merge = try await run(["merge", "--work", work.path])
        #expect(merge.status != 0)
        #expect(
            merge.stderr.contains("shard-0001-of-0002.sqlite is being written by a vxt run on another machine (pid 4242 on gpu-node-03)"),
            "\(merge.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("vxt.sqlite").path))

        // The remote run ends (its lock goes) and its store is whole again: the merge goes through.
        close(lock)
        try real.write(to: URL(fileURLWithPath: storePath))
        let merged = try await run(["merge", "--work", work.path])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(try JobStore.open(workDirectory: work.path).status().records == 41)
    }

    @Test func fourConcurrentShardsMergeToTheSameCorpusAsOneRun() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try corpus(in: dir)
        let base = ["run", "pipelines/paper.yaml", "--input", input.path, "--images", "samples/images", "--concurrency", "4"]
        let whole = dir.appendingPathComponent("whole")
        #expect(try await run(base + ["--work", whole.path]).status == 0)

        let sharded = dir.appendingPathComponent("sharded")
        var processes: [Process] = []
        for i in 0..<4 {
            // Shards 0-2 by flag, shard 3 the way a Slurm array passes it.
            let args = base + ["--work", sharded.path] + (i < 3 ? ["--shard", "\(i)/4"] : [])
            let process = Process()
            process.executableURL = TestSupport.vxtBinary
            process.arguments = args
            process.currentDirectoryURL = TestSupport.packageRoot
            if i == 3 {
                process.environment = ProcessInfo.processInfo.environment.merging([
                    "SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"
                ]) { $1 }
            }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            processes.append(process)
        }
        var statuses: [Int32] = []
        for process in processes { statuses.append(await TestSupport.exitStatus(of: process)) }
        #expect(statuses == [0, 0, 0, 0])
        let names = try FileManager.default.contentsOfDirectory(atPath: sharded.path).filter { $0.hasSuffix(".sqlite") }.sorted()
        #expect(
            names == ["shard-0000-of-0004.sqlite", "shard-0001-of-0004.sqlite", "shard-0002-of-0004.sqlite", "shard-0003-of-0004.sqlite"])

        let status = try await run(["status", "--work", sharded.path])
        #expect(status.stdout.contains("4 shards (sums below)"))
        #expect(status.stdout.contains("records: 41"))
        let unmerged = try await run(["export", "--work", sharded.path, "--format", "llava", "--out", dir.appendingPathComponent("x").path])
        #expect(unmerged.status != 0 && unmerged.stderr.contains("vxt merge"))

        let merge = try await run(["merge", "--work", sharded.path])
        #expect(merge.status == 0, "\(merge.stderr)")
        let merged = try JobStore.open(workDirectory: sharded.path)
        #expect(try merged.countersDisagreement() == [], "the merged store's counters equal a recount of its rows")
        let wholeStatus = try JobStore.open(workDirectory: whole.path).status()
        let mergedStatus = try merged.status()
        #expect(mergedStatus.records == wholeStatus.records)
        #expect(mergedStatus.stages.map(\.counts) == wholeStatus.stages.map(\.counts))
        #expect(mergedStatus.stages.map(\.stage) == ["statements", "extraction"])
        for format in ["llava", "paper"] {
            let a = dir.appendingPathComponent("whole.\(format)"), b = dir.appendingPathComponent("sharded.\(format)")
            #expect(try await run(["export", "--work", whole.path, "--format", format, "--out", a.path]).status == 0)
            #expect(try await run(["export", "--work", sharded.path, "--format", format, "--out", b.path]).status == 0)
            #expect(try Data(contentsOf: a) == Data(contentsOf: b), "\(format) export of the merged shards equals the unsharded run's")
        }
    }

    /// SQLite attaches at most ten databases at once; a Slurm array has more shards than that.
    @Test func sixteenShardsMergeToTheSameCorpusAsOneRun() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try corpus(in: dir)
        let base = ["run", "pipelines/paper.yaml", "--input", input.path, "--images", "samples/images"]
        let whole = dir.appendingPathComponent("whole")
        #expect(try await run(base + ["--work", whole.path]).status == 0)
        let sharded = dir.appendingPathComponent("sharded")
        for i in 0..<16 {
            let shard = try await run(base + ["--work", sharded.path, "--shard", "\(i)/16"])
            #expect(shard.status == 0, "shard \(i): \(shard.stderr)")
        }
        let merge = try await run(["merge", "--work", sharded.path])
        #expect(merge.status == 0, "\(merge.stderr)")
        let merged = try JobStore.open(workDirectory: sharded.path)
        #expect(try merged.configuration()?.recordCount == 41)
        #expect(try merged.countersDisagreement() == [])
        for format in ["llava", "jsonl", "paper"] {
            let a = dir.appendingPathComponent("whole.\(format)"), b = dir.appendingPathComponent("sharded.\(format)")
            #expect(try await run(["export", "--work", whole.path, "--format", format, "--out", a.path]).status == 0)
            #expect(try await run(["export", "--work", sharded.path, "--format", format, "--out", b.path]).status == 0)
            #expect(try Data(contentsOf: a) == Data(contentsOf: b), "\(format) export of 16 merged shards equals the unsharded run's")
        }
    }

    @Test func mergeListsMissingAndUnfinishedShards() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try corpus(in: dir)
        let work = dir.appendingPathComponent("work")
        for i in [0, 2] {
            #expect(
                try await run([
                    "run", "pipelines/paper.yaml", "--input", input.path, "--images", "samples/images", "--work", work.path, "--shard",
                    "\(i)/3"
                ]).status == 0)
        }
        let merge = try await run(["merge", "--work", work.path])
        #expect(merge.status == 1)
        #expect(merge.stderr.contains("missing shards: shard-0001-of-0003"))
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("vxt.sqlite").path))
    }

    @Test func retryReturnsFailuresToWork() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = dir.appendingPathComponent("work")
        // A pipeline that gives up after one attempt, against a port where nothing listens.
        let text = try String(contentsOf: TestSupport.paperPipeline, encoding: .utf8).replacingOccurrences(
            of: "max_attempts: 4", with: "max_attempts: 1")
        let pipeline = dir.appendingPathComponent("once.yaml")
        try Data(text.utf8).write(to: pipeline)
        let args = ["run", pipeline.path, "--input", "samples/llava_sample.json", "--images", "samples/images", "--work", work.path]
        #expect(try await run(args + ["--teacher", "http://127.0.0.1:9/v1", "--skip-preflight"]).status == 2, "failed records: exit 2")
        let store = try JobStore.open(workDirectory: work.path)
        #expect(try store.counts(stage: "statements") == [.failed: 10, .skipped: 2])
        let failures = try store.status().failures
        #expect(failures.contains { $0.stage == "statements" && $0.kind == .teacherUnreachable && $0.count == 10 }, "\(failures)")
        #expect(
            failures.contains {
                $0.kind == .upstreamFailed && $0.count == 10
                    && $0.examples.allSatisfy { $0.contains("needs statements, which failed") }
            }, "\(failures)")

        let retry = try await run(["retry", "--work", work.path, "--kind", "teacher_unreachable"])
        #expect(retry.stderr.contains("20 tasks returned to work"), "\(retry.stderr)")
        #expect(try store.counts(stage: "statements") == [.pending: 10, .skipped: 2])
        #expect(try store.counts(stage: "extraction") == [.waiting: 10, .skipped: 2])
        #expect(try store.countersDisagreement() == [], "after a retry")
        #expect(try await run(args).status == 0)
        #expect(try store.counts(stage: "extraction") == [.done: 10, .skipped: 2])
        #expect(try store.countersDisagreement() == [], "after the run that finished the retried work")
    }

    @Test func responseCacheIsReusedAcrossWorkDirectoriesAndKeyedStrictly() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = dir.appendingPathComponent("cache").path
        func runWith(_ name: String, _ extra: [String] = []) async throws -> JobStore {
            let work = dir.appendingPathComponent(name)
            let result = try await run(
                [
                    "run", "pipelines/paper.yaml", "--input", "samples/llava_sample.json", "--images", "samples/images",
                    "--work", work.path, "--cache", cache
                ] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            let store = try JobStore.open(workDirectory: work.path)
            let failures = try store.status().failures
            #expect(failures.isEmpty, "\(name): \(failures.map { "\($0.kind): \($0.examples)" })")
            return store
        }
        func cachedAnswers(_ store: JobStore) throws -> Int {
            let tasks = try ["astronaut-0001", "coffee-0004", "5", "flower-0010"].flatMap { try store.detail(id: $0).tasks }
            let cached = tasks.filter { $0.endpoint?.hasPrefix("cache:") == true }.count
            if cached != 0 && cached != tasks.count {
                Issue.record(
                    "\(cached) of \(tasks.count) answers from the cache: \(tasks.map { "\($0.stage) \($0.state) \($0.endpoint ?? "-")" })")
            }
            return cached
        }
        #expect(try await cachedAnswers(runWith("first")) == 0)
        #expect(try await cachedAnswers(runWith("second")) == 8, "every answer of a repeated run comes from the cache")
        #expect(try await cachedAnswers(runWith("other-model", ["--model", "another/model"])) == 0, "the model is part of the key")
    }

    @Test func allowChangedAcceptsAndRecordsWhy() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = dir.appendingPathComponent("work")
        let args = [
            "run", "pipelines/paper.yaml", "--input", "samples/llava_sample.json", "--images", "samples/images", "--work", work.path
        ]
        #expect(try await run(args).status == 0)
        let changed = try await run(args + ["--model", "another/model", "--allow-changed", "switched to the fp8 checkpoint"])
        #expect(changed.status == 0, "\(changed.stderr)")
        let changes = try JobStore.open(workDirectory: work.path).changes()
        #expect(changes.count == 1 && changes.first?.what == "pipeline" && changes.first?.reason == "switched to the fp8 checkpoint")
    }
}
