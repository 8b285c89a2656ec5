import Foundation
import GRDB

/// Handing ready tasks to the runner, and taking back those a dead process held.
extension JobStore {
    /// Returns work whose owner died (the process holding the work directory's lock is gone).
    @discardableResult
    public func releaseAbandoned() throws -> Int {
        try pool.write { db in
            // A task claimed out of a batch (an import, a resubmit) goes back to its batch: its
            // request is still in a file, its answer may still come.
            try db.execute(
                sql: "UPDATE task SET state = CASE WHEN batch_id IS NULL THEN 'pending' ELSE 'batched' END WHERE state = 'running'")
            return db.changesCount
        }
    }

    /// Marks up to `limit` ready tasks of `stage` as running and returns them, in input order,
    /// with their records and the outputs of the stages they need. A handful of statements per
    /// batch, not per task: claiming is on every task's path.
    public func claim(stage: StageGraph.Node, limit: Int) async throws -> [ClaimedTask] {
        try await claim(stage: stage, limit: limit, from: .pending)
    }

    /// Which tasks a claim takes.
    enum ClaimSource {
        /// Ready tasks (an online run, a batch export).
        case pending
        /// Tasks in a batch whose awaited request has an imported result (a batch import).
        case batchAnswered
        /// Tasks in a batch whose awaited request has no result yet (`vxt batch export --resubmit`).
        case batchUnanswered

        var condition: String {
            switch self {
            case .pending: "state = 'pending'"
            case .batchAnswered: "state = 'batched' AND batch_id IN (SELECT custom_id FROM batch_result)"
            case .batchUnanswered: "state = 'batched' AND batch_id NOT IN (SELECT custom_id FROM batch_result)"
            }
        }
    }

    func claim(stage: StageGraph.Node, limit: Int, from source: ClaimSource) async throws -> [ClaimedTask] {
        let now = Date().timeIntervalSince1970
        let needs = stage.needs
        let name = stage.name
        return try await pool.write { db in
            let marked = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        UPDATE task SET state = 'running', started_at = ?, attempts = attempts + 1,
                            batch_id = CASE WHEN state = 'batched' THEN batch_id END
                        WHERE rowid IN (SELECT rowid FROM task WHERE stage = ? AND \(source.condition) ORDER BY rowid LIMIT ?)
                        RETURNING record_key, id
                        """), arguments: [now, name, limit])
            guard !marked.isEmpty else { return [] }
            var ids: [String: Int64] = [:]
            for row in marked { ids[row[0]] = row[1] }
            let keys = JSONValue.arrayText(marked.map { $0[0] as String })
            var upstream: [String: [String: String]] = [:]
            for need in needs {
                for row in try Row.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT t.record_key, o.output, o.packed FROM task t JOIN task_output o ON o.id = t.output_id
                            WHERE t.stage = ? AND t.record_key IN (SELECT value FROM json_each(?))
                            """), arguments: [need, keys])
                {
                    upstream[row[0], default: [:]][need] = try JobStore.packedTexts(row, prefix: "").output
                }
            }
            return try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT \(JobStore.recordColumns) FROM record WHERE key IN (SELECT value FROM json_each(?)) ORDER BY position
                        """), arguments: [keys]
            ).map { row in
                let key: String = row[0]
                guard let id = ids[key] else { throw DatabaseError(message: "record \(key) was read for a claim it is not part of") }
                return ClaimedTask(
                    taskID: id, recordKey: key, stage: name, record: try JobStore.decodeRecord(row),
                    upstream: upstream[key] ?? [:])
            }
        }
    }

    /// The record columns `decodeRecord` reads, by position (name lookups cost more than the query).
    static let recordColumns = qualifiedRecordColumns("")

    static func qualifiedRecordColumns(_ table: String) -> String {
        ["key", "position", "source_id", "images", "pairs", "source", "skip_reason", "metadata"]
            .map { table.isEmpty ? $0 : "\(table).\($0)" }.joined(separator: ", ")
    }

    public func hasPending(stage: String) async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM task WHERE stage = ? AND state = 'pending')", arguments: [stage])
                ?? false
        }
    }

    static func fetchRecord(_ db: Database, key: String) throws -> CorpusRecord? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT \(recordColumns) FROM record WHERE key = ?"), arguments: [key])
        else { return nil }
        return try decodeRecord(row)
    }

    /// Rebuilds a record from its row. The JSON columns are read with vxt's own parser: claiming
    /// work does this for every task, and Foundation's decoder would dominate the job store's cost.
    static func decodeRecord(_ row: Row) throws -> CorpusRecord {
        let imagesText: String = row[3]
        let pairsText = try StoredTexts.pairsText(row[4])
        guard case let .array(imageValues) = try JSONParser.parse(imagesText),
            case let .array(pairValues) = try JSONParser.parse(pairsText)
        else {
            throw DatabaseError(message: "record row has malformed images or pairs JSON")
        }
        let images = imageValues.compactMap(\.stringValue)
        let pairs = pairValues.compactMap { value -> QAPair? in
            guard let question = value["question"]?.stringValue, let answer = value["answer"]?.stringValue else { return nil }
            return QAPair(question: question, answer: answer)
        }
        return CorpusRecord(
            position: row[1], sourceID: row[2], images: images, pairs: pairs,
            source: row[5], skipReason: row[6], metadata: row[7])
    }
}
