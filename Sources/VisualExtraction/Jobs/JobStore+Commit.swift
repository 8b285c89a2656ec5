import Foundation
import GRDB

/// Finished tasks land here, and their dependents move along in the same transaction.
extension JobStore {
    /// Commits finished tasks in one transaction and moves their dependents along: a done task
    /// makes dependents whose needs are all done pending; a failed one fails its dependents.
    public func commit(_ results: [TaskResult], graph: StageGraph) async throws {
        let promotions = JobStore.promotions(graph)
        try await pool.write { db in
            // Records whose task of a stage became done here; their dependents move after the loop,
            // one statement per dependent stage for the whole batch.
            var doneKeys: [String: [String]] = [:]
            let done =
                "UPDATE task SET state = 'done', last_error = NULL, output_id = ?, started_at = ?, finished_at = ?, "
                + "note = ?, finish_reason = ?, prompt_tokens = ?, completion_tokens = ?, model = ?, endpoint = ?, mock = ?, teacher_attempts = ? "
            let doneByID = try db.cachedStatement(sql: done + "WHERE id = ? AND state = 'running'")
            let doneByKey = try db.cachedStatement(sql: done + "WHERE record_key = ? AND stage = ? AND state = 'running'")
            for result in results {
                switch result.outcome {
                case let .done(c):
                    // A done task's request is not kept: it is the first request its stage renders
                    // from the record, the pipeline and the upstream outputs, all in the store, and
                    // `RequestRenderer` renders it again for `vxt show` (~0.8 KB a record saved).
                    let output = try JobStore.appendOutput(db, request: nil, output: c.output, parsed: c.parsed)
                    let values: StatementArguments = [
                        output, result.startedAt, result.finishedAt, c.note, c.finishReason, c.promptTokens,
                        c.completionTokens, c.model, c.endpoint, c.mock, c.attempts
                    ]
                    // By row id when the result says which claim it answers (one primary-key step),
                    // else by (record, stage) through the unique index.
                    if let id = result.taskID {
                        try doneByID.execute(arguments: values + [id])
                    } else {
                        try doneByKey.execute(arguments: values + [result.recordKey, result.stage])
                    }
                    guard db.changesCount == 1 else {
                        try JobStore.removeOutput(db, id: output)
                        continue
                    }
                    doneKeys[result.stage, default: []].append(result.recordKey)
                case let .failed(reason, kind):
                    // The request that failed stays readable (`vxt show`) until the task is retried.
                    let output = try result.request.map { try JobStore.appendOutput(db, request: $0, output: nil, parsed: nil) }
                    try db.execute(
                        sql: """
                            UPDATE task
                            SET state = 'failed', last_error = ?, failure_kind = ?, failure_status = ?,
                                failure_endpoint = ?, output_id = ?, started_at = ?, finished_at = ?
                            WHERE record_key = ? AND stage = ? AND state = 'running'
                            """,
                        arguments: [
                            reason, kind.rawValue, result.failureStatus, result.failureEndpoint, output,
                            result.startedAt, result.finishedAt, result.recordKey, result.stage
                        ])
                    guard db.changesCount == 1 else {
                        if let output { try JobStore.removeOutput(db, id: output) }
                        continue
                    }
                    var frontier = [result.stage]
                    while let stage = frontier.popLast() {
                        for dependent in graph.dependents(of: stage) {
                            try db.execute(
                                sql: """
                                    UPDATE task SET state = 'failed', last_error = ?, failure_kind = 'upstream_failed'
                                    WHERE record_key = ? AND stage = ? AND state = 'waiting'
                                    """, arguments: ["needs \(result.stage), which failed: \(reason)", result.recordKey, dependent.name])
                            frontier.append(dependent.name)
                        }
                    }
                }
                if let hash = result.imageSHA256 {
                    try db.execute(sql: "UPDATE record SET image_sha256 = ? WHERE key = ?", arguments: [hash, result.recordKey])
                }
            }
            for (stage, keys) in doneKeys {
                let keys = JSONValue.arrayText(keys)
                for sql in promotions[stage] ?? [] {
                    try db.cachedStatement(sql: sql).execute(arguments: [keys])
                }
            }
        }
    }

    /// The task columns a merge copies as they are (besides the key, which may change, and the
    /// output id, which points into the merged store).
    static let copiedTaskColumns = """
        stage, state, attempts, last_error, started_at, finished_at, note, finish_reason, prompt_tokens,
        completion_tokens, model, endpoint, mock, teacher_attempts, failure_kind, failure_status, failure_endpoint
        """

    /// Appends a task's texts (a failure keeps only its request), packed when long enough
    /// (`StoredTexts`), and returns the row's id.
    static func appendOutput(_ db: Database, request: String?, output: String?, parsed: String?) throws -> Int64 {
        if let packed = StoredTexts.pack(request: request, output: output, parsed: parsed) {
            try db.cachedStatement(sql: "INSERT INTO task_output (packed) VALUES (?)").execute(arguments: [packed])
        } else {
            try db.cachedStatement(sql: "INSERT INTO task_output (request, output, parsed) VALUES (?, ?, ?)")
                .execute(arguments: [request, output, parsed])
        }
        return db.lastInsertedRowID
    }

    /// Drops an output nobody points at: a commit for a task that is no longer running (its
    /// lease was released and it was claimed again), or the request of a failure being retried.
    static func removeOutput(_ db: Database, id: Int64) throws {
        try db.cachedStatement(sql: "DELETE FROM task_output WHERE id = ?").execute(arguments: [id])
    }

    /// For each stage, the statements that make its dependents pending once it is done, each bound
    /// to a JSON array of the record keys just done. A dependent that needs only that stage needs
    /// no check of the others (the commit just made its one need done); stage names are letters,
    /// digits, '_' and '-' (checked when the pipeline loads), so they can be part of the statements' text.
    static func promotions(_ graph: StageGraph) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for stage in graph.stages {
            result[stage.name] = graph.dependents(of: stage.name).map { dependent in
                // Unary `+` keeps the planner off the (stage, state) index, which would scan every
                // waiting task of the stage; the keys lead to each task through (record_key, stage).
                let promote = """
                    UPDATE task SET state = 'pending'
                    WHERE record_key IN (SELECT value FROM json_each(?)) AND +stage = '\(dependent.name)' AND +state = 'waiting'
                    """
                if dependent.needs == [stage.name] { return promote }
                let needs = dependent.needs.map { "'\($0)'" }.joined(separator: ", ")
                return promote + """
                     AND NOT EXISTS (SELECT 1 FROM task need WHERE need.record_key = task.record_key AND need.stage IN (\(needs))
                                     AND need.state != 'done')
                    """
            }
        }
        return result
    }
}
