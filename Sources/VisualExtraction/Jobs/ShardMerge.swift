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
        /// Shards to run again (missing, or with work left), and how many the run has.
        public var rerun: [Int] = []
        public var shardCount: Int?
        public var description: String {
            var text = "cannot merge:\n" + lines.map { "  " + $0 }.joined(separator: "\n")
            if !rerun.isEmpty, let count = shardCount {
                let list = rerun.map(String.init).joined(separator: ",")
                text +=
                    "\nrun the unfinished shards again: sbatch --array=\(list) --export=ALL,VXT_SHARD_COUNT=\(count) <your array script> (a Slurm array), "
                text += "or vxt run … --shard i/\(count) for i in \(list); then merge again"
            }
            return text
        }
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
        var rerun = Set(missing)
        for (_, c) in configurations where !c.ingestComplete { if let index = c.shard?.index { rerun.insert(index) } }
        if !missing.isEmpty {
            problems.append(
                "missing shards: " + missing.map { Shard(index: $0, count: count).fileStem }.joined(separator: ", ")
                    + " (run them with --shard i/\(count))")
        }
        if !allowUnfinished {
            for (path, c) in configurations {
                let status = try JobStore(path: path, readOnly: true).status()
                let open = status.stages.reduce(0) { $0 + $1.remaining }
                if open > 0 {
                    if let index = c.shard?.index { rerun.insert(index) }
                    problems.append(
                        "\((path as NSString).lastPathComponent): \(open) tasks not finished (run it again, or merge with --allow-unfinished)"
                    )
                }
            }
        }
        if !problems.isEmpty { throw Problems(lines: problems, rerun: rerun.sorted(), shardCount: count) }

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
        // SQLite attaches at most 10 databases at once and Slurm arrays have 64 shards: records are
        // merged in input order from each shard's own connection, in chunks; then each shard is
        // attached alone to copy its tasks and outputs under the records' merged keys.
        let shardStores = try configurations.map { try JobStore(path: $0.0, readOnly: true) }
        try merged.pool.write { db in
            try db.execute(sql: "CREATE TEMP TABLE merged_key (shard INTEGER NOT NULL, original TEXT NOT NULL, key TEXT NOT NULL)")
        }
        let chunk = max(100, 64_000 / max(1, shardStores.count))
        let columns = "key, position, source_id, source, images, pairs, metadata, skip_reason, problem, byte_offset, line, image_sha256"
        func nextRows(_ shard: Int, after position: Int) throws -> [Row] {
            try shardStores[shard].pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT \(columns) FROM record WHERE position > ? ORDER BY position LIMIT ?", arguments: [position, chunk])
            }
        }
        var heads: [[Row]] = try shardStores.indices.map { try nextRows($0, after: -1) }
        var cursors = [Int](repeating: 0, count: shardStores.count)
        while true {
            // The shard whose next record comes first in the input.
            var best: Int?
            var bestPosition = Int.max
            for shard in heads.indices where cursors[shard] < heads[shard].count {
                let position: Int = heads[shard][cursors[shard]]["position"]
                if position < bestPosition { best = shard; bestPosition = position }
            }
            guard let shard = best else { break }
            // Records of a batch go in one transaction: everything up to the next refill.
            try merged.pool.write { db in
                let insert = try db.cachedStatement(sql: JobStore.insertRecordSQL(columns: columns, values: 12))
                let remember = try db.cachedStatement(sql: "INSERT INTO merged_key (shard, original, key) VALUES (?, ?, ?)")
                var current: Int? = shard
                while let from = current {
                    let row = heads[from][cursors[from]]
                    let original: String = row["key"]
                    let position: Int = row["position"]
                    let sourceID: String? = row["source_id"]
                    // Keys as an unsharded run gives them: a duplicate id gets the key its input order gives.
                    let key = try JobStore.insertWithFreeKey(db, id: sourceID ?? "#\(position)", position: position) { key in
                        try insert.execute(arguments: [
                            key, position, sourceID, row["source"], row["images"], row["pairs"], row["metadata"], row["skip_reason"],
                            row["problem"], row["byte_offset"], row["line"], row["image_sha256"]
                        ])
                    }
                    if key != original { summary.renamedKeys += 1 }
                    try remember.execute(arguments: [from, original, key])
                    summary.records += 1
                    cursors[from] += 1
                    current = nil
                    var nextPosition = Int.max
                    for candidate in heads.indices where cursors[candidate] < heads[candidate].count {
                        let position: Int = heads[candidate][cursors[candidate]]["position"]
                        if position < nextPosition { current = candidate; nextPosition = position }
                    }
                    // A shard that has handed out its chunk is refilled outside this transaction.
                    if cursors.indices.contains(where: { cursors[$0] == heads[$0].count && heads[$0].count == chunk }) { break }
                }
            }
            for shard in heads.indices where cursors[shard] == heads[shard].count && heads[shard].count == chunk {
                let last: Int = heads[shard][chunk - 1]["position"]
                heads[shard] = try nextRows(shard, after: last)
                cursors[shard] = 0
            }
        }
        try merged.pool.write { db in
            try db.execute(sql: "CREATE INDEX temp.merged_key_by_original ON merged_key(shard, original)")
        }
        for (n, (path, _)) in configurations.enumerated() {
            try merged.pool.writeWithoutTransaction { db in
                try db.execute(sql: "ATTACH DATABASE ? AS shard", arguments: [path])
                defer { try? db.execute(sql: "DETACH DATABASE shard") }
                try db.inTransaction {
                    // Each task's output is appended to the merged store first; the copied task then
                    // points at that new row instead of the shard's.
                    let copyOutput = try db.makeStatement(
                        sql: """
                            INSERT INTO task_output (request, output, parsed, packed)
                            SELECT o.request, o.output, o.parsed, o.packed
                            FROM shard.task t JOIN shard.task_output o ON o.id = t.output_id WHERE t.id = ?
                            """)
                    let copyTask = try db.makeStatement(
                        sql: """
                            INSERT OR IGNORE INTO task (record_key, output_id, \(JobStore.copiedTaskColumns))
                            SELECT ?, ?, \(JobStore.copiedTaskColumns) FROM shard.task WHERE id = ?
                            """)
                    let tasks = try Row.fetchAll(
                        db,
                        sql: """
                            SELECT t.id, t.output_id IS NOT NULL, m.key FROM shard.task t
                            JOIN merged_key m ON m.shard = ? AND m.original = t.record_key
                            ORDER BY t.id
                            """, arguments: [n])
                    for task in tasks {
                        let id: Int64 = task[0]
                        var output: Int64?
                        if task[1] as Bool {
                            try copyOutput.execute(arguments: [id])
                            output = db.lastInsertedRowID
                        }
                        try copyTask.execute(arguments: [task[2] as String, output, id])
                        // `OR IGNORE` for the reason `insertRecordSQL` gives: a refusal is an error here.
                        guard db.changesCount == 1 else {
                            throw DatabaseError(message: "task \(id) of shard \(n) (\(path)) was refused by the merged store")
                        }
                        summary.tasks += 1
                    }
                    return .commit
                }
            }
        }
        try merged.pool.write { db in try db.execute(sql: "DROP TABLE temp.merged_key") }
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
