import Foundation
import GRDB

/// What importing result lines changed.
public struct BatchImportCounts: Sendable, Equatable {
    /// Results stored for the first time (or replacing an earlier error).
    public var stored = 0
    /// Lines whose custom_id already has this result, or a success: importing twice changes nothing.
    public var duplicates = 0
    /// Lines whose custom_id no batch export of this work directory wrote.
    public var unmatched = 0
    /// Up to three unmatched custom_ids, to recognise a file from elsewhere.
    public var unmatchedExamples: [String] = []
}

/// A request written to a batch file, as the store records it.
public struct BatchRequestRow: Sendable {
    public var taskID: Int64
    public var customID: String
    /// The request as logged (images as placeholders): what `vxt show` shows once it is answered.
    public var logged: String

    public init(taskID: Int64, customID: String, logged: String) {
        self.taskID = taskID
        self.customID = customID
        self.logged = logged
    }
}

/// Batch files: tasks whose request went into a file (`batched`), the requests by custom_id, and
/// the imported answers a batch import replays the stages against.
extension JobStore {
    /// Marks claimed tasks as waiting for a batch result: each awaits the request written under
    /// its custom_id in `file`. Only tasks still running (claimed by this export) move.
    public func markBatched(_ requests: [BatchRequestRow], file: String) async throws {
        let now = Date().timeIntervalSince1970
        try await pool.write { db in
            let move = try db.cachedStatement(sql: "UPDATE task SET state = 'batched', batch_id = ? WHERE id = ? AND state = 'running'")
            let record = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO batch_request (custom_id, task_id, file, exported_at, request) VALUES (?, ?, ?, ?, ?)")
            // An error result of the same request (a retried failure sent again) is forgotten, or
            // the next import would replay it instead of waiting for the new answer.
            let forget = try db.cachedStatement(
                sql: "DELETE FROM batch_result WHERE custom_id = ? AND NOT (status = 200 AND error IS NULL AND body IS NOT NULL)")
            for request in requests {
                try move.execute(arguments: [request.customID, request.taskID])
                try record.execute(arguments: [request.customID, request.taskID, file, now, request.logged])
                try forget.execute(arguments: [request.customID])
            }
        }
    }

    /// Hands claimed tasks back to pending (a batch import found they need a request no batch
    /// holds yet: a re-ask, a per-pair follow-up).
    public func returnToPending(_ taskIDs: [Int64]) async throws {
        try await pool.write { db in
            let back = try db.cachedStatement(sql: "UPDATE task SET state = 'pending', batch_id = NULL WHERE id = ? AND state = 'running'")
            for id in taskIDs { try back.execute(arguments: [id]) }
        }
    }

    /// A request as it was exported, images as placeholders.
    public func batchRequestLogged(customID: String) throws -> String? {
        try pool.read { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT request FROM batch_request WHERE custom_id = ?"), arguments: [customID])
        }
    }

    /// The imported result for a request, if any.
    public func batchResult(customID: String) throws -> BatchResult? {
        try pool.read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT status, body, error FROM batch_result WHERE custom_id = ?"), arguments: [customID]
            ).map { BatchResult(customID: customID, status: $0[0], body: $0[1], error: $0[2]) }
        }
    }

    /// Stores result lines read from `file`, in one transaction. A success is never replaced; an
    /// error is replaced by a later success (a resubmitted request that went through).
    public func importBatchResults(_ results: [BatchResult], file: String) async throws -> BatchImportCounts {
        let now = Date().timeIntervalSince1970
        return try await pool.write { db in
            var counts = BatchImportCounts()
            let known = try db.cachedStatement(sql: "SELECT 1 FROM batch_request WHERE custom_id = ?")
            let existing = try db.cachedStatement(sql: "SELECT status, body, error FROM batch_result WHERE custom_id = ?")
            let store = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO batch_result (custom_id, status, body, error, file, imported_at) VALUES (?, ?, ?, ?, ?, ?)")
            for result in results {
                guard try Row.fetchOne(known, arguments: [result.customID]) != nil else {
                    counts.unmatched += 1
                    if counts.unmatchedExamples.count < 3 { counts.unmatchedExamples.append(result.customID) }
                    continue
                }
                if let row = try Row.fetchOne(existing, arguments: [result.customID]) {
                    let old = BatchResult(customID: result.customID, status: row[0], body: row[1], error: row[2])
                    if old.succeeded || old == result || !result.succeeded {
                        counts.duplicates += 1
                        continue
                    }
                }
                try store.execute(arguments: [result.customID, result.status, result.body, result.error, file, now])
                counts.stored += 1
            }
            return counts
        }
    }

    /// Batch files with tasks still waiting for their results, and how many wait in each.
    public func batchesAwaitingResults() throws -> [(file: String, tasks: Int)] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT r.file, COUNT(*) FROM task t JOIN batch_request r ON r.custom_id = t.batch_id
                    WHERE t.state = 'batched' AND t.batch_id NOT IN (SELECT custom_id FROM batch_result)
                    GROUP BY r.file ORDER BY r.file
                    """
            ).map { (file: $0[0], tasks: $0[1]) }
        }
    }

    /// Every batch file name this work directory has written, for numbering the next ones.
    public func batchFileNames() throws -> Set<String> {
        try pool.read { db in Set(try String.fetchAll(db, sql: "SELECT DISTINCT file FROM batch_request")) }
    }
}
