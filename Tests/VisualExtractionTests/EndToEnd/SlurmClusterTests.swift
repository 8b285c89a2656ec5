import Foundation
import MockTeacher
import Testing
@testable import VisualExtraction

/// The cluster path on a real scheduler: `samples/slurm/vxt-array.sbatch` submitted as a job
/// array to a one-node Slurm cluster on this machine, against the mock teacher on loopback.
// A hang fails the suite instead of holding CI: generous, since no test bounds real time otherwise.
@Suite(.serialized, .timeLimit(.minutes(15)))
struct SlurmClusterTests {
    func vxt(_ arguments: [String]) async throws -> TestSupport.ProcessResult { try await TestSupport.runVXT(arguments) }

    /// Submits the sample array script with the test's paths; returns the job id.
    func submit(_ cluster: SlurmCluster, array: String, work: URL, teacher: String, extraExport: String = "") async throws -> String {
        let logs = cluster.folder.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        // The script keeps its response cache in $TMPDIR: one per submission, or a rerun would be
        // answered from the first run's cache at once, and a cancel would come too late.
        let scratch = cluster.folder.appendingPathComponent("tmp-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let exports =
            [
                "ALL", "VXT=\(TestSupport.vxtBinary.path)", "VXT_INPUT=\(TestSupport.sampleCorpus.path)",
                "VXT_IMAGES=\(TestSupport.sampleImages.path)", "VXT_WORK=\(work.path)", "VXT_TEACHERS=\(teacher)", "VXT_CONCURRENCY=1",
                "TMPDIR=\(scratch.path)"
            ].joined(separator: ",") + extraExport
        let result = try await cluster.command(
            "/usr/bin/sbatch",
            [
                "--parsable", "--array=\(array)", "--cpus-per-task=1", "--mem=50M", "--time=30",
                "--output=\(logs.path)/vxt-%A_%a.log", "--chdir=\(TestSupport.packageRoot.path)", "--export=\(exports)",
                TestSupport.packageRoot.appendingPathComponent("samples/slurm/vxt-array.sbatch").path
            ])
        let job = result.output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
        guard result.status == 0, Int(job) != nil else { throw SlurmCluster.StartFailure(description: "sbatch: \(result.output)") }
        return job
    }

    func llavaExport(_ work: URL) async throws -> Data {
        let out = work.appendingPathComponent("corpus.llava.json")
        let export = try await vxt(["export", "--work", work.path, "--format", "llava", "--out", out.path])
        #expect(export.status == 0, "\(export.stderr)")
        return try Data(contentsOf: out)
    }

    @Test(
        .enabled(if: SlurmCluster.isInstalled, "SKIPPED: Slurm is not installed (scripts/setup --test installs slurmctld, slurmd, munge)"))
    func aJobArrayRunsTheShardsAndAResubmitFinishesACancelledOne() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cluster = try SlurmCluster(in: dir.appendingPathComponent("slurm"))
        defer { cluster.stop() }
        do {
            try await cluster.start()
        } catch {
            Issue.record("the one-node Slurm cluster did not start: \(error)")
            return
        }
        let teacher = try await MockTeacherServer.start(.init(latencyMs: 300))
        let unsharded = dir.appendingPathComponent("unsharded")
        let reference = try await vxt([
            "run", "paper", "--input", "samples/llava_sample.json", "--images", "samples/images", "--work", unsharded.path,
            "--teacher", teacher.baseURL
        ])
        #expect(reference.status == 0, "\(reference.stderr)")
        let expected = try await llavaExport(unsharded)

        // Four array tasks, one shard each, to the end.
        let work = dir.appendingPathComponent("array")
        let job = try await submit(cluster, array: "0-3", work: work, teacher: teacher.baseURL)
        try await cluster.waitUntilDone(job: job)
        #expect(
            try await cluster.arrayStates(job: job) == ["0": "COMPLETED", "1": "COMPLETED", "2": "COMPLETED", "3": "COMPLETED"],
            "\(cluster.logs())")
        let merged = try await vxt(["merge", "--work", work.path])
        #expect(merged.status == 0, "\(merged.stderr)")
        #expect(try await llavaExport(work) == expected, "four Slurm shards merge to the unsharded run's corpus")

        // Shard 1 cancelled mid-run (as a node loss or a time limit would stop it), then rerun alone.
        // Task i asks teacher i of the list: task 1's teacher takes two minutes an answer, so it is
        // still at work when it is cancelled however long this busy machine takes to get there.
        let slow = try await MockTeacherServer.start(.init(latencyMs: 120_000))
        let again = dir.appendingPathComponent("cancelled")
        let second = try await submit(
            cluster, array: "0-3", work: again,
            teacher: [teacher.baseURL, slow.baseURL, teacher.baseURL, teacher.baseURL].joined(separator: " "))
        let log = cluster.folder.appendingPathComponent("logs/vxt-\(second)_1.log")
        while !((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("tasks to do") {
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        #expect(try await cluster.command("/usr/bin/scancel", ["\(second)_1"]).status == 0)
        try await cluster.waitUntilDone(job: second)
        let states = try await cluster.arrayStates(job: second)
        #expect(states["1"] == "CANCELLED" || states["1"]?.hasPrefix("CANCELLED") == true, "\(states)")
        #expect(states.filter { $0.key != "1" }.values.allSatisfy { $0 == "COMPLETED" }, "the other shards ran to the end: \(states)")
        #expect(((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("stopping (SIGTERM)"), "vxt stopped on Slurm's SIGTERM")
        let refused = try await vxt(["merge", "--work", again.path])
        #expect(refused.status == 1, "\(refused.stderr)")
        let line = try #require(
            refused.stderr.split(separator: "\n").first { $0.contains("sbatch --array=") }, "merge prints the rerun: \(refused.stderr)")
        let array = try #require(line.firstMatch(of: /--array=([0-9,]+)/)?.1)
        // Once shard 3 was unfinished here too: the array's tasks share a response cache, and two
        // could both create it (fixed; ResponseCacheTests). Should another shard stop, say why.
        let shardLogs = (0..<4).map { i in
            let text =
                (try? String(contentsOf: cluster.folder.appendingPathComponent("logs/vxt-\(second)_\(i).log"), encoding: .utf8)) ?? ""
            return "== shard \(i)\n" + text.split(separator: "\n").suffix(12).joined(separator: "\n")
        }.joined(separator: "\n")
        #expect(array == "1", "\(refused.stderr)\n\(shardLogs)\n\(cluster.logs())")
        #expect(line.contains("--export=ALL,VXT_SHARD_COUNT=4"), "\(line)")
        let rerun = try await submit(
            cluster, array: String(array), work: again, teacher: teacher.baseURL, extraExport: ",VXT_SHARD_COUNT=4")
        try await cluster.waitUntilDone(job: rerun)
        #expect(try await cluster.arrayStates(job: rerun) == ["1": "COMPLETED"], "\(cluster.logs())")
        let mergedAgain = try await vxt(["merge", "--work", again.path])
        #expect(mergedAgain.status == 0, "\(mergedAgain.stderr)")
        #expect(try await llavaExport(again) == expected, "the rerun shard completes the corpus")
        await cluster.cancelAll()
        await slow.shutdown()
        await teacher.shutdown()
    }
}
