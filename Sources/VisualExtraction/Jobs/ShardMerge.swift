import Foundation
import GRDB

/// Joins the shard stores of a work directory into one store (`<work>/vxt.sqlite`) after
/// checking that they are one run: same pipeline, same input, same shard count, every shard
/// present and finished. What is missing or unfinished is listed, never papered over.
public struct ShardMerge {
    public let workDirectory: String

    public init(workDirectory: String) {
        self.workDirectory = workDirectory
    }

    public struct Problems: Error, CustomStringConvertible {
        public let lines: [String]
        public var description: String { "cannot merge:\n" + lines.map { "  " + $0 }.joined(separator: "\n") }
    }

    public struct Summary: Sendable {
        public var shards: Int
        public var records: Int
        public var tasks: Int
        public var renamedKeys: Int
        public var path: String
    }

    /// - Parameter allowUnfinished: merge even when shards still have work (their tasks keep their states).
    public func run(allowUnfinished: Bool = false) throws -> Summary {
        let paths = JobStore.shardStorePaths(workDirectory: workDirectory)
        guard !paths.isEmpty else { throw Problems(lines: ["no shard-*-of-*.sqlite stores in \(workDirectory)"]) }
        var problems: [String] = []
        var configurations: [(String, RunConfiguration)] = []
        for path in paths {
            guard let c = try JobStore(path: path, readOnly: true).configuration() else {
                problems.append("\((path as NSString).lastPathComponent): no run configuration (never started?)")
                continue
            }
            configurations.append((path, c))
        }
        guard let first = configurations.first?.1, let count = first.shard?.count else {
            throw Problems(lines: problems + ["no shard store says how many shards the run has"])
        }
        for (path, c) in configurations {
            let name = (path as NSString).lastPathComponent
            if c.pipelineHash != first.pipelineHash {
                problems.append("\(name): pipeline \(c.pipelineHash.prefix(12)) differs from \(first.pipelineHash.prefix(12))")
            }
            if c.inputSHA256 != first.inputSHA256 {
                problems.append(
                    "\(name): input sha256 \(c.inputSHA256?.prefix(12) ?? "unknown") differs from \(first.inputSHA256?.prefix(12) ?? "unknown")"
                )
            }
            if c.shard?.count != count { problems.append("\(name): part of a \(c.shard?.count ?? 1)-shard run, not \(count)") }
            if !c.ingestComplete { problems.append("\(name): input not fully read yet") }
        }
        let present = Set(configurations.compactMap { $0.1.shard?.index })
        let missing = (0..<count).filter { !present.contains($0) }
        if !missing.isEmpty {
            problems.append(
                "missing shards: " + missing.map { Shard(index: $0, count: count).fileStem }.joined(separator: ", ")
                    + " (run them with --shard i/\(count))")
        }
        if !allowUnfinished {
            for (path, _) in configurations {
                let status = try JobStore(path: path, readOnly: true).status()
                let open = status.stages.reduce(0) { $0 + $1.remaining }
                if open > 0 {
                    problems.append(
                        "\((path as NSString).lastPathComponent): \(open) tasks not finished (run it again, or merge with --allow-unfinished)"
                    )
                }
            }
        }
        if !problems.isEmpty { throw Problems(lines: problems) }

        let target = (workDirectory as NSString).appendingPathComponent(JobStore.fileName)
        let partial = target + ".partial"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: partial + suffix) }
        let merged = try JobStore(path: partial)
        var mergedConfiguration = first
        mergedConfiguration.shard = nil
        mergedConfiguration.recordCount = 0
        mergedConfiguration.problemCount = 0
        try merged.saveConfiguration(mergedConfiguration)
        var summary = Summary(shards: configurations.count, records: 0, tasks: 0, renamedKeys: 0, path: target)
        try merged.pool.writeWithoutTransaction { db in
            for (n, (path, _)) in configurations.enumerated() {
                try db.execute(sql: "ATTACH DATABASE ? AS s\(n)", arguments: [path])
            }
            try db.inTransaction {
                // Records in input order, so a duplicate id keeps the same key as in an unsharded run.
                let union = (0..<configurations.count).map { "SELECT \($0) AS shard, * FROM s\($0).record" }.joined(
                    separator: " UNION ALL ")
                let cursor = try Row.fetchCursor(db, sql: "SELECT * FROM (\(union)) ORDER BY position")
                let insert = try db.makeStatement(
                    sql: """
                        INSERT INTO record (key, position, source_id, source, images, pairs, metadata, skip_reason, problem, byte_offset, line, image_sha256)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING
                        """)
                var copyOutputs: [Int: Statement] = [:]
                var copyTasks: [Int: Statement] = [:]
                while let row = try cursor.next() {
                    let shard: Int = row["shard"]
                    let original: String = row["key"]
                    let position: Int = row["position"]
                    let sourceID: String? = row["source_id"]
                    var key = sourceID ?? "#\(position)"
                    func insertRecord(_ key: String) throws {
                        try insert.execute(arguments: [
                            key, position, sourceID, row["source"], row["images"], row["pairs"], row["metadata"],
                            row["skip_reason"], row["problem"], row["byte_offset"], row["line"], row["image_sha256"]
                        ])
                    }
                    key = try JobStore.insertWithFreeKey(db, id: key, position: position, insert: insertRecord)
                    if key != original { summary.renamedKeys += 1 }
                    // Each task's output is appended to the merged store first; the copied task then
                    // points at that new row instead of the shard's.
                    let copyOutput =
                        try copyOutputs[shard]
                        ?? db.makeStatement(
                            sql: """
                                INSERT INTO task_output (request, output, parsed)
                                SELECT o.request, o.output, o.parsed
                                FROM s\(shard).task t JOIN s\(shard).task_output o ON o.id = t.output_id WHERE t.id = ?
                                """)
                    copyOutputs[shard] = copyOutput
                    let copyTask =
                        try copyTasks[shard]
                        ?? db.makeStatement(
                            sql: """
                                INSERT INTO task (record_key, output_id, \(JobStore.copiedTaskColumns))
                                SELECT ?, ?, \(JobStore.copiedTaskColumns) FROM s\(shard).task WHERE id = ?
                                """)
                    copyTasks[shard] = copyTask
                    let tasks = try Row.fetchAll(
                        db.cachedStatement(
                            sql: """
                                SELECT id, output_id IS NOT NULL FROM s\(shard).task WHERE record_key = ? ORDER BY id
                                """), arguments: [original])
                    for task in tasks {
                        let id: Int64 = task[0]
                        var output: Int64?
                        if task[1] as Bool {
                            try copyOutput.execute(arguments: [id])
                            output = db.lastInsertedRowID
                        }
                        try copyTask.execute(arguments: [key, output, id])
                        summary.tasks += db.changesCount
                    }
                    summary.records += 1
                }
                return .commit
            }
            for n in 0..<configurations.count { try db.execute(sql: "DETACH DATABASE s\(n)") }
        }
        mergedConfiguration.recordCount = summary.records
        mergedConfiguration.problemCount = try merged.status().inputProblems
        try merged.saveConfiguration(mergedConfiguration)
        try merged.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try merged.pool.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: target + suffix) }
        try FileManager.default.moveItem(atPath: partial, toPath: target)
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: partial + suffix) }
        return summary
    }
}
