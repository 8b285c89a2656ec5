import Foundation
import GRDB

/// Per-stage counts and what went wrong, for `vxt status` and the end-of-run summary.
public struct StatusSummary: Sendable, Codable {
    public struct StageCounts: Sendable, Codable {
        public var stage: String
        /// Tasks by state; in JSON an object keyed by the state's name.
        public var counts: [TaskState: Int]
        public var promptTokens: Int
        public var completionTokens: Int
        public var mockOutputs: Int
        /// Tasks finished per second over the five minutes before the status was read.
        public var recentRate: Double
        /// When the stage's latest task was done (Unix seconds); nil before the first.
        public var lastDoneAt: Double?
        public var remaining: Int { (counts[.waiting] ?? 0) + (counts[.pending] ?? 0) + (counts[.running] ?? 0) }
        public var total: Int { counts.values.reduce(0, +) }
    }

    public struct ReasonCount: Sendable, Codable {
        public var stage: String
        public var reason: String
        public var count: Int
    }

    /// Failed tasks of one stage and kind: every group, with its total and a few messages.
    public struct FailureGroup: Sendable, Codable {
        public var stage: String
        public var kind: FailureKind
        public var count: Int
        /// Up to three messages, each naming its record.
        public var examples: [String]
        /// The dataset folders of the failed records (`coco`, `ocr_vqa`, the first folder of the
        /// image path), most failures first, up to five: a download that lacks one folder shows
        /// as one line, not as 80,000 messages. Empty when no failed record has one.
        public var folders: [FolderCount] = []
    }

    public struct FolderCount: Sendable, Codable {
        public var folder: String
        public var count: Int
    }

    /// Usage of one endpoint by one stage (done tasks).
    public struct EndpointUsage: Sendable, Codable {
        public var endpoint: String
        public var stage: String
        public var model: String
        public var requests: Int
        /// HTTP attempts, retries included.
        public var attempts: Int
        public var promptTokens: Int
        public var completionTokens: Int
        /// From the pipeline's `teacher.prices` for `model`; nil without a price.
        public var cost: Double?
    }

    /// A store whose part of the status was not read here, because a run on another machine
    /// writes it (SQLite's WAL cannot be shared across machines): its counts are those of the
    /// snapshot that run leaves beside it.
    public struct SnapshotSource: Sendable, Codable {
        /// The store's file name (`shard-0003-of-0016.sqlite`).
        public var store: String
        public var host: String
        public var pid: String
        /// When the snapshot was written (Unix seconds); nil when that run has left none yet,
        /// and the store is missing from the counts.
        public var writtenAt: Double?
    }

    public var records: Int
    public var inputProblems: Int
    public var stages: [StageCounts]
    public var endpoints: [EndpointUsage] = []
    /// All failure groups by stage and kind, largest first.
    public var failures: [FailureGroup]
    public var skips: [ReasonCount]
    public var notes: [ReasonCount]
    /// Whether a vxt run holds the work directory's lock (the whole run's or a shard's) as the
    /// status is read; nil where nobody asked (the summary a run prints of itself).
    public var running: Bool?
    /// The stores counted from a snapshot instead of read here; nil when every store was read.
    public var fromSnapshots: [SnapshotSource]?

    /// Tasks of `stage` that failed: for the description stage, the records missing from the
    /// corpus (an input problem or an upstream failure fails every stage of its record).
    public func failed(stage: String) -> Int {
        stages.first { $0.stage == stage }?.counts[.failed] ?? 0
    }
}

/// Everything the store knows about one record, for `vxt show`.
public struct RecordDetail: Sendable {
    public struct TaskDetail: Sendable {
        public var stage: String
        public var state: TaskState
        public var attempts: Int
        public var lastError: String?
        public var request: String?
        public var output: String?
        public var parsed: String?
        public var note: String?
        public var finishReason: String?
        public var promptTokens: Int?
        public var completionTokens: Int?
        public var model: String?
        public var endpoint: String?
        public var mock: Bool
        public var startedAt: Double?
        public var finishedAt: Double?
    }

    public var key: String
    public var record: CorpusRecord
    public var problem: String?
    public var imageSHA256: String?
    public var tasks: [TaskDetail]
}

/// One record's row for export, streamed in input order.
struct ExportRow: Sendable {
    public var key: String
    public var record: CorpusRecord
    public var problem: String?
    /// The description task's state; nil when the record has no such task.
    public var descriptionState: TaskState?
    public var description: String?
    public var descriptionError: String?
    /// Why the description task failed, when it did.
    public var descriptionFailureKind: FailureKind?
    public var statements: [String]?
    public var statementsText: String?
    public var model: String?
    public var mock: Bool
    public var usage: [String: [String: Int]]
    public var finishReason: String?
    /// The question hint, when the pipeline has a hint stage and it is done.
    public var hint: String?
    /// Audit flags raised for the record; nil when the sample has not been audited.
    public var flags: [String]?
    /// Statement coverage measured by the audit.
    public var coverage: Double?
}

extension JobStore {
    /// What `vxt status` shows. Read from the counters triggers keep (`task_count`, `task_usage`,
    /// `task_done_minute`, `record_count`) and from partial indexes of failed, skipped and noted
    /// tasks: it costs the same at 665k records as at 10, also while a run writes.
    ///
    /// - Parameter now: the time the rate is measured up to (Unix seconds); tests pass their own.
    public func status(now: Double? = nil) throws -> StatusSummary {
        let now = now ?? Date().timeIntervalSince1970
        return try pool.read { db in
            let totals = try Row.fetchOne(db, sql: "SELECT records, problems FROM record_count WHERE id = 1")
            let records: Int = totals?["records"] ?? 0
            let problems: Int = totals?["problems"] ?? 0
            var byStage: [String: StatusSummary.StageCounts] = [:]
            var order: [String] = []
            for row in try Row.fetchAll(
                db,
                sql:
                    "SELECT stage, state, n, MIN(first) OVER (PARTITION BY stage) AS stage_first FROM task_count WHERE n > 0 ORDER BY stage_first, first"
            ) {
                let stage: String = row["stage"]
                if byStage[stage] == nil {
                    byStage[stage] = .init(stage: stage, counts: [:], promptTokens: 0, completionTokens: 0, mockOutputs: 0, recentRate: 0)
                    order.append(stage)
                }
                guard let state = TaskState(rawValue: row["state"]) else { continue }
                byStage[stage]?.counts[state] = row["n"]
            }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT stage, SUM(prompt_tokens) AS p, SUM(completion_tokens) AS c, SUM(mock) AS m
                    FROM task_usage WHERE n > 0 GROUP BY stage
                    """)
            {
                let stage: String = row["stage"]
                byStage[stage]?.promptTokens = row["p"]
                byStage[stage]?.completionTokens = row["c"]
                byStage[stage]?.mockOutputs = row["m"]
            }
            // Done per second over the five minutes before `now`, so a run that stopped or stalls
            // shows its rate falling to 0 rather than the pace of its last busy minutes.
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT stage, SUM(CASE WHEN minute >= :since THEN n END) AS n,
                           MIN(CASE WHEN minute >= :since THEN first END) AS first, MAX(last) AS last
                    FROM task_done_minute WHERE n > 0 GROUP BY stage
                    """, arguments: ["since": Int((now / 60).rounded(.down)) - 5])
            {
                let stage: String = row["stage"]
                byStage[stage]?.lastDoneAt = row["last"]
                guard let n: Int = row["n"], let first: Double = row["first"] else { continue }
                // At least ten seconds, so a run's first burst of answers is not read as its pace.
                byStage[stage]?.recentRate = Double(n) / max(now - first, 10)
            }
            /// Reasons of skipped tasks, or notes of done ones, each read off its partial index (the
            /// state is written into the query: the planner uses a partial index only for a literal).
            func grouped(_ state: TaskState, _ column: String, index: String) throws -> [StatusSummary.ReasonCount] {
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT stage, \(column) AS reason, COUNT(*) AS n FROM task INDEXED BY \(index)
                        WHERE state = '\(state.rawValue)' AND \(column) IS NOT NULL
                        GROUP BY stage, \(column) ORDER BY n DESC, stage LIMIT 20
                        """
                ).map { .init(stage: $0["stage"], reason: $0["reason"], count: $0["n"]) }
            }
            let prices = try JobStore.prices(db)
            let endpoints = try Row.fetchAll(
                db,
                sql: """
                    SELECT endpoint, stage, model, n, attempts AS a, prompt_tokens AS p, completion_tokens AS c
                    FROM task_usage WHERE endpoint != '' AND n > 0 ORDER BY first
                    """
            ).map { row -> StatusSummary.EndpointUsage in
                let model: String = row["model"], endpoint: String = row["endpoint"]
                let p: Int = row["p"], c: Int = row["c"]
                return .init(
                    endpoint: endpoint, stage: row["stage"], model: model, requests: row["n"], attempts: row["a"],
                    promptTokens: p, completionTokens: c,
                    cost: prices[model].map { $0.cost(prompt: p, completion: c, batch: endpoint == BatchFormat.endpoint) })
            }
            return StatusSummary(
                records: records, inputProblems: problems, stages: order.compactMap { byStage[$0] },
                endpoints: endpoints,
                failures: try JobStore.failureGroups(db), skips: try grouped(.skipped, "last_error", index: "task_skipped"),
                notes: try grouped(.done, "note", index: "task_noted"))
        }
    }

    /// Where the counters disagree with a count of the rows themselves: nothing, unless a change
    /// bypassed the triggers. For tests after kills, retries and merges.
    public func countersDisagreement() throws -> [String] {
        try pool.read { db in
            var found: [String] = []
            func compare(_ what: String, counted: String, kept: String) throws {
                let fromRows = Set(try Row.fetchAll(db, sql: counted).map { $0.description })
                let fromCounters = Set(try Row.fetchAll(db, sql: kept).map { $0.description })
                for row in fromRows.subtracting(fromCounters).sorted() { found.append("\(what): rows say \(row)") }
                for row in fromCounters.subtracting(fromRows).sorted() { found.append("\(what): counters say \(row)") }
            }
            try compare(
                "tasks", counted: "SELECT stage, state, COUNT(*) AS n FROM task GROUP BY stage, state",
                kept: "SELECT stage, state, n FROM task_count WHERE n > 0")
            try compare(
                "usage",
                counted: """
                    SELECT stage, COALESCE(endpoint, '') AS endpoint, COALESCE(model, '') AS model, COUNT(*) AS n,
                           SUM(COALESCE(teacher_attempts, 0)) AS attempts, SUM(COALESCE(prompt_tokens, 0)) AS prompt_tokens,
                           SUM(COALESCE(completion_tokens, 0)) AS completion_tokens, SUM(COALESCE(mock, 0)) AS mock
                    FROM task WHERE state = 'done' GROUP BY 1, 2, 3
                    """,
                kept: "SELECT stage, endpoint, model, n, attempts, prompt_tokens, completion_tokens, mock FROM task_usage WHERE n > 0")
            try compare(
                "done per minute",
                counted: """
                    SELECT stage, CAST(finished_at / 60 AS INTEGER) AS minute, COUNT(*) AS n
                    FROM task WHERE state = 'done' AND finished_at IS NOT NULL GROUP BY 1, 2
                    """,
                kept: "SELECT stage, minute, n FROM task_done_minute WHERE n > 0")
            try compare(
                "failures", counted: JobStore.failureCountsFromRows,
                kept: "SELECT stage, kind, folder, n FROM task_failure_count WHERE n > 0")
            try compare(
                "records",
                counted: "SELECT COUNT(*) AS records, (SELECT COUNT(*) FROM record WHERE problem IS NOT NULL) AS problems FROM record",
                kept: "SELECT records, problems FROM record_count")
            return found
        }
    }

    /// Every (stage, kind) of failed tasks with its count, three example messages and its folders:
    /// counts from `task_failure_count`, examples off the failures' partial index, so a store of a
    /// million failures lists them as fast as one of ten.
    static func failureGroups(_ db: Database) throws -> [StatusSummary.FailureGroup] {
        let counts = try Row.fetchAll(
            db,
            sql: "SELECT stage, kind, folder, n FROM task_failure_count WHERE n > 0 ORDER BY stage, kind, n DESC, folder")
        // Kinds as stored: one this vxt does not know (a newer one wrote it) is listed as 'other'
        // but still found by its own name.
        var groups: [(kind: String, group: StatusSummary.FailureGroup)] = []
        for row in counts {
            let stage: String = row["stage"], kind: String = row["kind"], folder: String = row["folder"], n: Int = row["n"]
            if groups.last?.group.stage != stage || groups.last?.kind != kind {
                groups.append((kind, .init(stage: stage, kind: FailureKind(rawValue: kind) ?? .other, count: 0, examples: [])))
            }
            groups[groups.count - 1].group.count += n
            if !folder.isEmpty && groups[groups.count - 1].group.folders.count < 5 {
                groups[groups.count - 1].group.folders.append(.init(folder: folder, count: n))
            }
        }
        groups.sort { ($1.group.count, $0.group.stage, $0.kind) < ($0.group.count, $1.group.stage, $1.kind) }
        return try groups.map { kind, group in
            var group = group
            // Through the failures' partial index (`failure_kind`, not COALESCE of it; the literal
            // state lets the planner use it): a rare kind among a million failures is found at once.
            let kindFilter = kind == FailureKind.other.rawValue ? "(failure_kind = ? OR failure_kind IS NULL)" : "failure_kind = ?"
            group.examples = try Row.fetchAll(
                db,
                sql: """
                    SELECT record_key, last_error FROM task
                    WHERE state = 'failed' AND stage = ? AND \(kindFilter)
                    ORDER BY id LIMIT 3
                    """, arguments: [group.stage, kind]
            ).map { "\($0[0] as String): \(($0[1] as String?) ?? "")" }
            return group
        }
    }

    /// The records with a failed task, in input order, as their input id (else their store key);
    /// only failures of these kinds when given. For fix-up scripts: `vxt status --failed --ids`.
    public func failedRecordIDs(kinds: [FailureKind]?, stage: String? = nil) throws -> [String] {
        try pool.read { db in
            var filter = "t.state = 'failed'"
            var arguments: StatementArguments = []
            if let kinds {
                filter += " AND t.failure_kind IN (SELECT value FROM json_each(?))"
                arguments += [JSONValue.arrayText(kinds.map(\.rawValue))]
            }
            if let stage { filter += " AND t.stage = ?"; arguments += [stage] }
            return try String.fetchAll(
                db,
                sql: """
                    SELECT COALESCE(r.source_id, r.key)
                    FROM record r
                    WHERE r.key IN (SELECT t.record_key FROM task t WHERE \(filter))
                    ORDER BY r.position
                    """, arguments: arguments)
        }
    }

    /// The pipeline's `teacher.prices`, as stored with the run.
    static func prices(_ db: Database) throws -> [String: TokenPrice] {
        guard let json = try String.fetchOne(db, sql: "SELECT pipeline_json FROM run WHERE id = 1"),
            let definition = try? PipelineDefinition.stored(json)
        else { return [:] }
        return definition.teacher.prices ?? [:]
    }

    /// Finds a record by its id as written in the input, its store key, or its position.
    public func detail(id: String) throws -> RecordDetail {
        guard let first = try details(id: id).first else { throw StoreError.unknownRecord(id) }
        return first
    }

    /// The records whose input id is `?1`, found through the key's index: every key of an id lies
    /// in [id, id + "$"), the id itself and `id#…` ('#' sorts just before '$').
    static let recordsOfID = "key >= ?1 AND key < ?1 || '$' AND source_id = ?1 ORDER BY position"

    /// Every record `id` names: every record with that id in the input (ids repeat in real
    /// corpora), else the one with that store key, else the one at that 0-based position.
    public func details(id: String) throws -> [RecordDetail] {
        try pool.read { db in
            let columns = JobStore.recordColumns + ", problem, image_sha256"
            var rows = try Row.fetchAll(db, sql: "SELECT \(columns) FROM record WHERE \(JobStore.recordsOfID)", arguments: [id])
            if rows.isEmpty {
                rows = try Row.fetchAll(db, sql: "SELECT \(columns) FROM record WHERE key = ?", arguments: [id])
            }
            if rows.isEmpty, let position = Int(id) {
                rows = try Row.fetchAll(db, sql: "SELECT \(columns) FROM record WHERE position = ?", arguments: [position])
            }
            guard !rows.isEmpty else { throw StoreError.unknownRecord(id) }
            return try rows.map { try JobStore.detail(db, row: $0) }
        }
    }

    static func detail(_ db: Database, row: Row) throws -> RecordDetail {
        let key: String = row["key"]
        let tasks = try Row.fetchAll(
            db,
            sql: """
                SELECT t.*, o.request, o.output, o.parsed, o.packed
                FROM task t LEFT JOIN task_output o ON o.id = t.output_id WHERE t.record_key = ? ORDER BY t.id
                """, arguments: [key]
        ).map { t in
            let texts = try JobStore.packedTexts(t, prefix: "")
            return RecordDetail.TaskDetail(
                stage: t["stage"], state: TaskState(rawValue: t["state"]) ?? .failed, attempts: t["attempts"],
                lastError: t["last_error"], request: texts.request,
                output: texts.output, parsed: texts.parsed, note: t["note"], finishReason: t["finish_reason"],
                promptTokens: t["prompt_tokens"], completionTokens: t["completion_tokens"], model: t["model"],
                endpoint: t["endpoint"], mock: (t["mock"] as Int?) == 1, startedAt: t["started_at"], finishedAt: t["finished_at"])
        }
        return RecordDetail(
            key: key, record: try JobStore.decodeRecord(row), problem: row["problem"],
            imageSHA256: row["image_sha256"], tasks: tasks)
    }

    /// Streams every record in input order with its description and statements.
    func forEachExportRow(
        descriptionStage: String, statementsStage: String?, hintStage: String? = nil,
        _ body: (ExportRow) throws -> Void
    ) throws {
        try pool.read { db in
            // Stores that were never audited have no audit tables: their rows carry no flags.
            let audited = try hasAuditTables(db)
            let auditColumns =
                audited
                ? "(SELECT group_concat(flag, ',') FROM audit_flag f WHERE f.record_key = r.key) AS a_flags, au.coverage AS a_coverage, au.record_key IS NOT NULL AS a_done"
                : "NULL AS a_flags, NULL AS a_coverage, 0 AS a_done"
            let auditJoin = audited ? "LEFT JOIN audit_sample au ON au.record_key = r.key" : ""
            let cursor = try Row.fetchCursor(
                db,
                sql: """
                    SELECT \(JobStore.qualifiedRecordColumns("r")), r.problem, \(auditColumns), d.state AS d_state, dout.output AS d_output, dout.packed AS d_packed, d.last_error AS d_error, d.failure_kind AS d_kind, d.model AS d_model, d.mock AS d_mock,
                           d.finish_reason AS d_finish, d.prompt_tokens AS d_pt, d.completion_tokens AS d_ct,
                           sout.output AS s_output, sout.parsed AS s_parsed, sout.packed AS s_packed, s.prompt_tokens AS s_pt, s.completion_tokens AS s_ct, s.mock AS s_mock,
                           CASE WHEN h.state = 'done' THEN hout.output END AS h_output, CASE WHEN h.state = 'done' THEN hout.packed END AS h_packed
                    FROM record r
                    LEFT JOIN task d ON d.record_key = r.key AND d.stage = ?
                    LEFT JOIN task_output dout ON dout.id = d.output_id
                    LEFT JOIN task s ON s.record_key = r.key AND s.stage = ?
                    LEFT JOIN task_output sout ON sout.id = s.output_id
                    LEFT JOIN task h ON h.record_key = r.key AND h.stage = ?
                    LEFT JOIN task_output hout ON hout.id = h.output_id
                    \(auditJoin)
                    ORDER BY r.position
                    """, arguments: [descriptionStage, statementsStage ?? "", hintStage ?? ""])
            let decoder = JSONDecoder()
            while let row = try cursor.next() {
                var usage: [String: [String: Int]] = [:]
                if let p: Int = row["d_pt"], let c: Int = row["d_ct"] {
                    usage[descriptionStage] = ["prompt_tokens": p, "completion_tokens": c]
                }
                if let statementsStage, let p: Int = row["s_pt"], let c: Int = row["s_ct"] {
                    usage[statementsStage] = ["prompt_tokens": p, "completion_tokens": c]
                }
                let statementsTexts = try JobStore.packedTexts(row, prefix: "s_")
                let parsed = statementsTexts.parsed
                let statements = parsed.flatMap { try? decoder.decode([String].self, from: Data($0.utf8)) }
                try body(
                    ExportRow(
                        key: row["key"], record: try JobStore.decodeRecord(row), problem: row["problem"],
                        descriptionState: (row["d_state"] as String?).flatMap(TaskState.init(rawValue:)),
                        description: try JobStore.packedTexts(row, prefix: "d_").output,
                        descriptionError: row["d_error"],
                        descriptionFailureKind: (row["d_kind"] as String?).flatMap(FailureKind.init(rawValue:)),
                        statements: statements, statementsText: statementsTexts.output, model: row["d_model"],
                        mock: (row["d_mock"] as Int?) == 1 || (row["s_mock"] as Int?) == 1, usage: usage, finishReason: row["d_finish"],
                        hint: try JobStore.packedTexts(row, prefix: "h_").output,
                        flags: (row["a_done"] as Bool? ?? false)
                            ? ((row["a_flags"] as String?)?.split(separator: ",").map(String.init) ?? []) : nil,
                        coverage: row["a_coverage"]))
            }
        }
    }

    /// Counts of tasks by state for one stage, read directly (the tests use it to check transitions).
    func counts(stage: String) throws -> [TaskState: Int] {
        try pool.read { db in
            var out: [TaskState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM task WHERE stage = ? GROUP BY state", arguments: [stage])
            {
                if let state = TaskState(rawValue: row["state"]) { out[state] = row["n"] }
            }
            return out
        }
    }
}

extension StatusSummary {
    /// One summary for the shards of a run: counts and tokens added, reasons regrouped.
    public static func combined(_ parts: [StatusSummary]) -> StatusSummary {
        var stages: [String: StageCounts] = [:]
        var order: [String] = []
        for part in parts {
            for stage in part.stages {
                if stages[stage.stage] == nil {
                    stages[stage.stage] = StageCounts(
                        stage: stage.stage, counts: [:], promptTokens: 0, completionTokens: 0, mockOutputs: 0, recentRate: 0)
                    order.append(stage.stage)
                }
                stages[stage.stage]?.counts.merge(stage.counts, uniquingKeysWith: +)
                stages[stage.stage]?.promptTokens += stage.promptTokens
                stages[stage.stage]?.completionTokens += stage.completionTokens
                stages[stage.stage]?.mockOutputs += stage.mockOutputs
                stages[stage.stage]?.recentRate += stage.recentRate
                if let last = stage.lastDoneAt {
                    let known = stages[stage.stage]?.lastDoneAt ?? last
                    stages[stage.stage]?.lastDoneAt = max(known, last)
                }
            }
        }
        func regroup(_ lists: [[ReasonCount]]) -> [ReasonCount] {
            var counts: [String: ReasonCount] = [:]
            for item in lists.joined() {
                counts["\(item.stage)\u{0}\(item.reason)", default: ReasonCount(stage: item.stage, reason: item.reason, count: 0)].count +=
                    item.count
            }
            return counts.values.sorted { $0.count > $1.count || ($0.count == $1.count && $0.stage < $1.stage) }.prefix(20).map { $0 }
        }
        var usage: [String: EndpointUsage] = [:]
        var usageOrder: [String] = []
        for item in parts.flatMap(\.endpoints) {
            let key = "\(item.endpoint)\u{0}\(item.stage)\u{0}\(item.model)"
            if var known = usage[key] {
                known.requests += item.requests
                known.attempts += item.attempts
                known.promptTokens += item.promptTokens
                known.completionTokens += item.completionTokens
                if let cost = item.cost { known.cost = (known.cost ?? 0) + cost }
                usage[key] = known
            } else {
                usage[key] = item
                usageOrder.append(key)
            }
        }
        return StatusSummary(
            records: parts.reduce(0) { $0 + $1.records }, inputProblems: parts.reduce(0) { $0 + $1.inputProblems },
            stages: order.compactMap { stages[$0] }, endpoints: usageOrder.compactMap { usage[$0] },
            failures: combinedFailures(parts.map(\.failures)),
            skips: regroup(parts.map(\.skips)), notes: regroup(parts.map(\.notes)))
    }

    /// Failure groups of several shards: counts added, the first three examples kept, each
    /// folder's counts added and the five largest kept.
    static func combinedFailures(_ lists: [[FailureGroup]]) -> [FailureGroup] {
        var groups: [String: FailureGroup] = [:]
        for item in lists.joined() {
            let key = "\(item.stage)\u{0}\(item.kind.rawValue)"
            if var known = groups[key] {
                known.count += item.count
                known.examples = Array((known.examples + item.examples).prefix(3))
                var folders = Dictionary(known.folders.map { ($0.folder, $0.count) }, uniquingKeysWith: +)
                for folder in item.folders { folders[folder.folder, default: 0] += folder.count }
                known.folders = folders.map { FolderCount(folder: $0.key, count: $0.value) }
                    .sorted { ($1.count, $0.folder) < ($0.count, $1.folder) }.prefix(5).map { $0 }
                groups[key] = known
            } else {
                groups[key] = item
            }
        }
        return groups.values.sorted {
            $0.count > $1.count || ($0.count == $1.count && ($0.stage, $0.kind.rawValue) < ($1.stage, $1.kind.rawValue))
        }
    }
}
