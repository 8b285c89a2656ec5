import Foundation
import GRDB
import VisualExtraction

/// State transitions per second through the job store with results committed, for the paper
/// pipeline's two stages: statements pending → running → done, which makes extraction
/// waiting → pending, then running → done (five transitions per record). The baseline, in the
/// same run, is the SQLite ceiling: the same number of single-row UPDATEs by primary key,
/// BATCH per transaction, with no job logic.
enum JobStoreBenchmark {
    static func run(records: Int, batch: Int) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vxt-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = try Pipeline.load(path: "pipelines/paper.yaml")
        let store = try JobStore(path: dir.appendingPathComponent("vxt.sqlite").path)
        var items: [JobStore.IngestItem] = []
        for i in 0..<records {
            items.append(
                .record(
                    CorpusRecord(
                        position: i, sourceID: "r\(i)", images: ["coco/\(i).jpg"],
                        pairs: [QAPair(question: "<image>\nWhat is it?", answer: "A thing.")]), problem: nil))
            if items.count == 5000 { try store.ingest(items, stages: pipeline.graph.stages); items.removeAll() }
        }
        if !items.isEmpty { try store.ingest(items, stages: pipeline.graph.stages) }

        let output = String(repeating: "A fine-grained description of the image. ", count: 20)
        let start = DispatchTime.now().uptimeNanoseconds
        var committed = 0
        var claimNanos: UInt64 = 0
        for stage in pipeline.stages {
            while true {
                let claimStart = DispatchTime.now().uptimeNanoseconds
                let claimed = try await store.claim(stage: stage.node, limit: batch)
                claimNanos += DispatchTime.now().uptimeNanoseconds - claimStart
                if claimed.isEmpty { break }
                let results = claimed.map { task in
                    var result = TaskResult(
                        recordKey: task.recordKey, stage: task.stage,
                        outcome: .done(
                            .init(
                                output: output, parsed: nil, note: nil, finishReason: "stop", promptTokens: 300,
                                completionTokens: 200, model: "bench", endpoint: "bench", mock: false, attempts: 1)),
                        request: "{\"model\":\"bench\"}", startedAt: 0, finishedAt: 1)
                    result.taskID = task.taskID
                    return result
                }
                try await store.commit(results, graph: pipeline.graph)
                committed += results.count
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let transitions = records * 5
        // `vxt status` on the finished store (what a user runs from another terminal, repeatedly).
        let statusStart = DispatchTime.now().uptimeNanoseconds
        _ = try store.status()
        let statusSeconds = Double(DispatchTime.now().uptimeNanoseconds - statusStart) / 1e9

        // Baseline: raw single-row UPDATEs by primary key, same count, same batch size.
        let raw = try DatabaseQueue(path: dir.appendingPathComponent("raw.sqlite").path)
        try await raw.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
        try await raw.write { db in
            try db.execute(sql: "CREATE TABLE t (k TEXT, s TEXT, state TEXT, PRIMARY KEY (k, s))")
            let insert = try db.makeStatement(sql: "INSERT INTO t VALUES (?, ?, 'pending')")
            for i in 0..<records { for s in ["a", "b"] { try insert.execute(arguments: ["r\(i)", s]) } }
        }
        try await raw.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        let rawStart = DispatchTime.now().uptimeNanoseconds
        var done = 0
        while done < transitions {
            let range = done..<min(done + batch, transitions)
            try await raw.write { db in
                let update = try db.cachedStatement(sql: "UPDATE t SET state = ? WHERE k = ? AND s = ?")
                for n in range {
                    try update.execute(arguments: [n % 2 == 0 ? "running" : "done", "r\(n / 5)", n % 5 < 2 ? "a" : "b"])
                }
            }
            done = min(done + batch, transitions)
        }
        let rawSeconds = Double(DispatchTime.now().uptimeNanoseconds - rawStart) / 1e9
        print(
            "{\"records\": \(records), \"batch\": \(batch), \"results_committed\": \(committed), \"transitions\": \(transitions), "
                + "\"seconds\": \(seconds), \"claim_seconds\": \(Double(claimNanos) / 1e9), \"transitions_per_s\": \(Double(transitions) / seconds), "
                + "\"raw_updates_per_s\": \(Double(transitions) / rawSeconds), \"status_ms\": \(statusSeconds * 1000)}")
    }
}
