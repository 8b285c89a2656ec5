import Foundation
import GRDB

/// Failed tasks back to work: by kind, or records whose missing images have appeared.
extension JobStore {
    /// What `retry` did, and why it did nothing when it did nothing.
    public struct RetrySummary: Sendable {
        /// Tasks returned to pending or waiting (dependents that failed with them included).
        public var returned: Int
        /// Failed tasks that matched the selection but are not retried here, by kind: input
        /// problems (fixed in the input, or checked again for missing images) and dependents.
        public var leftAlone: [FailureKind: Int]
    }

    /// Returns failed tasks to work: matching failures become pending (or waiting when an upstream
    /// stage is not done), and tasks that failed only because such an upstream failed wait again.
    /// Selected by kind, never by message text; input problems are not retried here (the input
    /// must be fixed; missing images are checked again by `ImageRecheck`).
    public func retry(
        stage: String?, kinds: [FailureKind]? = nil, reasonContaining: String? = nil,
        graph: StageGraph
    ) throws -> RetrySummary {
        try pool.write { db in
            var filter = "state = 'failed'"
            var arguments: StatementArguments = []
            if let stage { filter += " AND stage = ?"; arguments += [stage] }
            if let kinds {
                filter += " AND failure_kind IN (SELECT value FROM json_each(?))"
                arguments += [JSONValue.arrayText(kinds.map(\.rawValue))]
            }
            if let reasonContaining { filter += " AND instr(last_error, ?) > 0"; arguments += [reasonContaining] }
            let notRetried = JSONValue.arrayText(FailureKind.allCases.filter { $0.isInputProblem || $0 == .upstreamFailed }.map(\.rawValue))
            var leftAlone: [FailureKind: Int] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT failure_kind, COUNT(*) FROM task WHERE \(filter) AND failure_kind IN (SELECT value FROM json_each(?))
                    GROUP BY failure_kind
                    """, arguments: arguments + [notRetried])
            {
                if let kind = FailureKind(rawValue: row[0] ?? "") { leftAlone[kind] = row[1] }
            }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT record_key, stage, output_id FROM task
                    WHERE \(filter) AND COALESCE(failure_kind, 'other') NOT IN (SELECT value FROM json_each(?))
                    """, arguments: arguments + [notRetried])
            var changed = 0
            for row in rows {
                let key: String = row["record_key"]
                let name: String = row["stage"]
                guard let stage = graph.stage(named: name) else { continue }
                let notDone =
                    try Int.fetchOne(
                        db,
                        sql: """
                            SELECT COUNT(*) FROM task WHERE record_key = ? AND stage IN (SELECT value FROM json_each(?)) AND state != 'done'
                            """, arguments: [key, JSONValue.arrayText(stage.needs)]) ?? 0
                try db.execute(
                    sql: """
                        UPDATE task SET state = ?, last_error = NULL, failure_kind = NULL, failure_status = NULL, failure_endpoint = NULL,
                            output_id = NULL
                        WHERE record_key = ? AND stage = ?
                        """, arguments: [(notDone == 0 ? TaskState.pending : .waiting).rawValue, key, name])
                if let output: Int64 = row["output_id"] { try JobStore.removeOutput(db, id: output) }
                changed += 1
                var frontier = [name]
                while let upstream = frontier.popLast() {
                    for dependent in graph.dependents(of: upstream) {
                        try db.execute(
                            sql: """
                                UPDATE task SET state = 'waiting', last_error = NULL, failure_kind = NULL
                                WHERE record_key = ? AND stage = ? AND state = 'failed' AND failure_kind = 'upstream_failed'
                                """, arguments: [key, dependent.name])
                        changed += db.changesCount
                        frontier.append(dependent.name)
                    }
                }
            }
            return RetrySummary(returned: changed, leftAlone: leftAlone)
        }
    }

    /// Records whose tasks failed because an image was missing (or refused: a symlink out, before
    /// `--follow-symlinks`) at ingest, with their image paths: what a rerun with another `--images`
    /// (or `vxt retry --kind image_missing`) checks again.
    public func recordsWithMissingImages() throws -> [(key: String, images: [String])] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT r.key, r.images FROM record r
                    WHERE r.key IN (SELECT record_key FROM task WHERE state = 'failed' AND failure_kind IN ('image_missing', 'image_refused'))
                    ORDER BY r.position
                    """
            ).map { row in
                var images: [String] = []
                if case let .array(values)? = try? JSONParser.parse(row[1] as String) { images = values.compactMap(\.stringValue) }
                return (row[0], images)
            }
        }
    }

    /// Puts records whose input problem is gone (their images found now) back to work: the record
    /// loses its problem and each task waits for its needs again, or is pending when it has none.
    @discardableResult
    public func revive(recordKeys keys: [String], stages: [StageGraph.Node]) throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try pool.write { db in
            let list = JSONValue.arrayText(keys)
            try db.execute(sql: "UPDATE record SET problem = NULL WHERE key IN (SELECT value FROM json_each(?))", arguments: [list])
            var changed = 0
            for stage in stages {
                try db.execute(
                    sql: """
                        UPDATE task SET state = ?, last_error = NULL, failure_kind = NULL, failure_status = NULL, failure_endpoint = NULL,
                            output_id = NULL
                        WHERE record_key IN (SELECT value FROM json_each(?)) AND stage = ? AND state = 'failed'
                        """, arguments: [(stage.needs.isEmpty ? TaskState.pending : .waiting).rawValue, list, stage.name])
                changed += db.changesCount
            }
            try JobStore.refreshProblemCount(db)
            return changed
        }
    }
}
