import Foundation
import GRDB

/// The SQLite job store of a work directory (`<work>/vxt.sqlite`, WAL mode).
///
/// It holds the run's configuration, every input record, and one task per record and stage
/// with its state, attempts, timings and usage, pointing at its texts (exact request, output,
/// parsed output), which are written once. Exports are derived from it, so "each sample exactly once"
/// is a property of this store, not of an output file.
public final class JobStore: Sendable {
    public let path: String
    let pool: DatabasePool

    public static let fileName = "vxt.sqlite"

    public init(path: String, readOnly: Bool = false) throws {
        self.path = path
        // Commits not yet checkpointed live in the `-wal` file beside the store: without it the
        // store looks older (or empty) than the run. Say so rather than show that older state.
        let wal = path + "-wal"
        if FileManager.default.fileExists(atPath: wal), !FileManager.default.isReadableFile(atPath: wal) {
            throw StoreError.unreadableLog(path: wal)
        }
        var configuration = Configuration()
        configuration.readonly = readOnly
        // Readers in other processes (`vxt status` on a live run) wait instead of failing.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL + NORMAL survives a killed process; only a power cut can lose the last commits.
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
        }
        var pool = try DatabasePool(path: path, configuration: configuration)
        if !readOnly {
            try JobStore.migrator.migrate(pool)
        } else if try !pool.read({ try JobStore.migrator.hasCompletedMigrations($0) }) {
            // A store written by an earlier vxt is brought to the current schema by whichever
            // command opens it first, so `vxt status` or `export` work on it too.
            try pool.close()
            var writable = configuration
            writable.readonly = false
            let upgrade = try DatabasePool(path: path, configuration: writable)
            try JobStore.migrator.migrate(upgrade)
            try upgrade.close()
            pool = try DatabasePool(path: path, configuration: configuration)
        }
        self.pool = pool
    }

    /// Opens the store of a work directory: the given shard's, else the whole (or merged) run's,
    /// else the only shard's; says clearly what to do otherwise.
    public static func open(workDirectory: String, shard: Shard? = nil, readOnly: Bool = true) throws -> JobStore {
        if let shard {
            let path = (workDirectory as NSString).appendingPathComponent(shard.fileStem + ".sqlite")
            guard FileManager.default.fileExists(atPath: path) else { throw StoreError.noStore(workDirectory: workDirectory) }
            return try JobStore(path: path, readOnly: readOnly)
        }
        let path = (workDirectory as NSString).appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: path) { return try JobStore(path: path, readOnly: readOnly) }
        let shards = shardStorePaths(workDirectory: workDirectory)
        if shards.count == 1 { return try JobStore(path: shards[0], readOnly: readOnly) }
        if shards.count > 1 { throw StoreError.sharded(workDirectory: workDirectory, count: shards.count) }
        throw StoreError.noStore(workDirectory: workDirectory)
    }

    /// The `shard-*-of-*.sqlite` stores of a work directory, sorted.
    public static func shardStorePaths(workDirectory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: workDirectory)) ?? []
        return names.filter { $0.hasPrefix("shard-") && $0.hasSuffix(".sqlite") }.sorted()
            .map { (workDirectory as NSString).appendingPathComponent($0) }
    }

    public enum StoreError: Error, CustomStringConvertible {
        case noStore(workDirectory: String)
        case sharded(workDirectory: String, count: Int)
        case unknownRecord(String)
        case unreadableLog(path: String)

        public var description: String {
            switch self {
            case let .noStore(work): return "no job store in \(work) (expected \(work)/\(JobStore.fileName)); start one with `vxt run ... --work \(work)`"
            case let .sharded(work, count):
                return "\(work) holds \(count) shard stores: merge them with `vxt merge --work \(work)`, or name one with --shard i/n"
            case let .unknownRecord(id): return "no record with id or key \"\(id)\" in this work directory"
            case let .unreadableLog(path):
                return "\(path) holds the store's latest commits but cannot be read (permissions?); fix its permissions, or run as its owner"
            }
        }
    }

    // MARK: Schema

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: run, record, task") { db in
            try db.execute(sql: """
                CREATE TABLE run (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    pipeline_name TEXT NOT NULL,
                    pipeline_hash TEXT NOT NULL,
                    pipeline_json TEXT NOT NULL,
                    input_path TEXT NOT NULL,
                    input_size INTEGER NOT NULL,
                    input_mtime REAL NOT NULL,
                    input_sha256 TEXT,
                    images_root TEXT NOT NULL,
                    teacher_url TEXT NOT NULL,
                    teacher_model TEXT NOT NULL,
                    vxt_version TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    ingest_complete INTEGER NOT NULL DEFAULT 0,
                    record_count INTEGER NOT NULL DEFAULT 0,
                    problem_count INTEGER NOT NULL DEFAULT 0
                );
                CREATE TABLE record (
                    key TEXT PRIMARY KEY,
                    position INTEGER NOT NULL UNIQUE,
                    source_id TEXT,
                    source TEXT,
                    images TEXT NOT NULL,
                    pairs TEXT NOT NULL,
                    metadata TEXT,
                    skip_reason TEXT,
                    problem TEXT,
                    byte_offset INTEGER,
                    line INTEGER,
                    image_sha256 TEXT
                );
                CREATE INDEX record_source_id ON record(source_id);
                CREATE TABLE task (
                    record_key TEXT NOT NULL REFERENCES record(key),
                    stage TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('waiting', 'pending', 'running', 'done', 'failed', 'skipped')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    lease_until REAL,
                    last_error TEXT,
                    request TEXT,
                    output TEXT,
                    parsed TEXT,
                    note TEXT,
                    finish_reason TEXT,
                    prompt_tokens INTEGER,
                    completion_tokens INTEGER,
                    model TEXT,
                    endpoint TEXT,
                    mock INTEGER,
                    started_at REAL,
                    finished_at REAL,
                    PRIMARY KEY (record_key, stage)
                );
                CREATE INDEX task_by_state ON task(stage, state);
                """)
        }
        migrator.registerMigration("v2: shards and accepted changes") { db in
            try db.execute(sql: """
                ALTER TABLE run ADD COLUMN shard_index INTEGER;
                ALTER TABLE run ADD COLUMN shard_count INTEGER;
                CREATE TABLE run_change (
                    id INTEGER PRIMARY KEY,
                    changed_at REAL NOT NULL,
                    what TEXT NOT NULL,
                    before TEXT NOT NULL,
                    after TEXT NOT NULL,
                    reason TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v3: audit") { db in
            // One row per audited sample (what the checks measured, and `stamp`: the finish times
            // of the outputs it was computed from, so a re-done output is audited again) and one row
            // per raised flag with its evidence.
            try db.execute(sql: """
                CREATE TABLE audit_sample (
                    record_key TEXT PRIMARY KEY REFERENCES record(key),
                    stamp TEXT NOT NULL,
                    words INTEGER NOT NULL,
                    statements INTEGER NOT NULL,
                    coverage REAL NOT NULL,
                    missing TEXT NOT NULL,
                    questions_answered INTEGER,
                    questions_asked INTEGER,
                    signature BLOB NOT NULL,
                    audited_at REAL NOT NULL
                );
                CREATE TABLE audit_flag (
                    record_key TEXT NOT NULL REFERENCES record(key),
                    flag TEXT NOT NULL,
                    evidence TEXT NOT NULL,
                    PRIMARY KEY (record_key, flag)
                );
                CREATE INDEX audit_flag_by_flag ON audit_flag(flag);
                """)
        }
        migrator.registerMigration("v4: teacher attempts") { db in
            // HTTP attempts behind a done task (retries after 429/5xx/timeouts), next to `attempts`,
            // which counts how often the task was claimed.
            try db.execute(sql: "ALTER TABLE task ADD COLUMN teacher_attempts INTEGER")
        }
        migrator.registerMigration("v5: task texts in their own table") { db in
            // Claims, commits and promotions rewrite task rows; with the request and output (KBs)
            // inside them a page held ~3 tasks, so each transaction dirtied ~35 pages of WAL. Task
            // rows now keep state, times and usage (~150 bytes done, less before) and point at their
            // texts, appended once (rowids in commit order) and never rewritten: a transaction
            // touches a few task pages and the tail of task_output, and `status` reads task alone.
            // No foreign key on output_id: deleting an output would scan task for children.
            try db.execute(sql: """
                CREATE TABLE task_output (
                    id INTEGER PRIMARY KEY,
                    request TEXT,
                    output TEXT,
                    parsed TEXT
                );
                CREATE TABLE task_v5 (
                    id INTEGER PRIMARY KEY,
                    record_key TEXT NOT NULL REFERENCES record(key),
                    stage TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('waiting', 'pending', 'running', 'done', 'failed', 'skipped')),
                    attempts INTEGER NOT NULL DEFAULT 0,
                    lease_until REAL,
                    last_error TEXT,
                    started_at REAL,
                    finished_at REAL,
                    output_id INTEGER,
                    note TEXT,
                    finish_reason TEXT,
                    prompt_tokens INTEGER,
                    completion_tokens INTEGER,
                    model TEXT,
                    endpoint TEXT,
                    mock INTEGER,
                    teacher_attempts INTEGER,
                    UNIQUE (record_key, stage)
                );
                INSERT INTO task_output (id, request, output, parsed)
                SELECT rowid, request, output, parsed FROM task WHERE request IS NOT NULL OR output IS NOT NULL OR parsed IS NOT NULL;
                INSERT INTO task_v5 (id, record_key, stage, state, attempts, lease_until, last_error, started_at, finished_at, output_id,
                                     note, finish_reason, prompt_tokens, completion_tokens, model, endpoint, mock, teacher_attempts)
                SELECT rowid, record_key, stage, state, attempts, lease_until, last_error, started_at, finished_at,
                       CASE WHEN request IS NOT NULL OR output IS NOT NULL OR parsed IS NOT NULL THEN rowid END,
                       note, finish_reason, prompt_tokens, completion_tokens, model, endpoint, mock, teacher_attempts
                FROM task ORDER BY rowid;
                DROP TABLE task;
                ALTER TABLE task_v5 RENAME TO task;
                CREATE INDEX task_by_state ON task(stage, state);
                """)
        }
        migrator.registerMigration("v6: failure kinds") { db in
            // Failures grouped, listed and retried by cause, not by message text (which holds paths
            // and record ids: 624,610 missing images were 624,610 groups of one). Stores from before
            // get kinds read off their messages, as well as the messages allow.
            try db.execute(sql: """
                ALTER TABLE task ADD COLUMN failure_kind TEXT;
                ALTER TABLE task ADD COLUMN failure_status INTEGER;
                ALTER TABLE task ADD COLUMN failure_endpoint TEXT;
                UPDATE task SET failure_kind = CASE
                    WHEN last_error LIKE 'input: image file not found%' THEN 'image_missing'
                    WHEN last_error LIKE 'input: image path % refused%' THEN 'image_refused'
                    WHEN last_error LIKE 'input: %image %' THEN 'image_unreadable'
                    WHEN last_error LIKE 'input:%' THEN 'input_invalid'
                    WHEN last_error LIKE 'needs %' THEN 'upstream_failed'
                    WHEN last_error LIKE 'HTTP %' THEN 'http_status'
                    WHEN last_error LIKE 'transport error (curl 28)%' THEN 'timeout'
                    WHEN last_error LIKE 'transport error%' THEN 'teacher_unreachable'
                    WHEN last_error LIKE 'statements:%' THEN 'statements_unusable'
                    ELSE 'other' END
                WHERE state = 'failed';
                CREATE INDEX task_failure ON task(failure_kind, stage) WHERE state = 'failed';
                """)
        }
        migrator.registerMigration("v7: input probe") { db in
            // The input's identity before its full hash exists (ingest incomplete).
            try db.execute(sql: "ALTER TABLE run ADD COLUMN input_probe TEXT")
        }
        return migrator
    }

    // MARK: Run configuration

    /// The pipeline the run was made with, as stored when it began: audit, export and retry work
    /// from it, not from whatever the pipeline file says now.
    public func storedPipeline() throws -> PipelineDefinition {
        guard let configuration = try configuration() else { throw StoreError.noStore(workDirectory: path) }
        return try PipelineDefinition.stored(configuration.pipelineJSON)
    }

    public func configuration() throws -> RunConfiguration? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM run WHERE id = 1") else { return nil }
            return RunConfiguration(
                pipelineName: row["pipeline_name"], pipelineHash: row["pipeline_hash"], pipelineJSON: row["pipeline_json"],
                inputPath: row["input_path"], inputSize: row["input_size"], inputModified: row["input_mtime"],
                inputSHA256: row["input_sha256"], imagesRoot: row["images_root"], teacherURL: row["teacher_url"],
                teacherModel: row["teacher_model"], vxtVersion: row["vxt_version"], createdAt: row["created_at"],
                ingestComplete: row["ingest_complete"], recordCount: row["record_count"], problemCount: row["problem_count"],
                shard: (row["shard_index"] as Int?).flatMap { i in (row["shard_count"] as Int?).map { Shard(index: i, count: $0) } },
                inputProbe: row["input_probe"])
        }
    }

    public func saveConfiguration(_ c: RunConfiguration) throws {
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO run (id, pipeline_name, pipeline_hash, pipeline_json, input_path, input_size, input_mtime,
                    input_sha256, images_root, teacher_url, teacher_model, vxt_version, created_at, ingest_complete,
                    record_count, problem_count)
                VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET pipeline_name = excluded.pipeline_name, pipeline_hash = excluded.pipeline_hash,
                    pipeline_json = excluded.pipeline_json, input_path = excluded.input_path, input_size = excluded.input_size,
                    input_mtime = excluded.input_mtime, input_sha256 = excluded.input_sha256, images_root = excluded.images_root,
                    teacher_url = excluded.teacher_url, teacher_model = excluded.teacher_model, vxt_version = excluded.vxt_version,
                    ingest_complete = excluded.ingest_complete, record_count = excluded.record_count,
                    problem_count = excluded.problem_count
                """, arguments: [c.pipelineName, c.pipelineHash, c.pipelineJSON, c.inputPath, c.inputSize, c.inputModified,
                                 c.inputSHA256, c.imagesRoot, c.teacherURL, c.teacherModel, c.vxtVersion, c.createdAt,
                                 c.ingestComplete, c.recordCount, c.problemCount])
            try db.execute(sql: "UPDATE run SET shard_index = ?, shard_count = ?, input_probe = ? WHERE id = 1",
                           arguments: [c.shard?.index, c.shard?.count, c.inputProbe])
        }
    }

    // MARK: Ingest

    /// A record as it enters the store: usable, skipped, or a problem to report.
    public enum IngestItem: Sendable {
        case record(CorpusRecord, problem: String?, kind: FailureKind = .inputInvalid)
        case problem(position: Int, byteOffset: Int64, line: Int, recordID: String?, reason: String)
    }

    /// The file position after the last stored record: ingest writes in file order, so on resume
    /// every record before it is known and can be passed over (with or without sharding).
    public func ingestResumePosition() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(position) + 1, 0) FROM record") ?? 0 }
    }

    /// Inserts a record under its id or, when that key is taken (a duplicate id, or a real id that
    /// equals another record's fallback such as "x#2"), the first free of `id#position`,
    /// `id#position#2`, …: deterministic for one input order, so merged shards get the keys an
    /// unsharded run gives. `insert` must do nothing on a key conflict (`ON CONFLICT(key) DO NOTHING`).
    static func insertWithFreeKey(_ db: Database, id: String, position: Int, insert: (String) throws -> Void) throws -> String {
        try insert(id)
        if db.changesCount == 1 { return id }
        var candidate = "\(id)#\(position)"
        for n in 2...10_000 {
            try insert(candidate)
            if db.changesCount == 1 { return candidate }
            candidate = "\(id)#\(position)#\(n)"
        }
        throw DatabaseError(message: "no free key for record \(id) at position \(position)")
    }

    /// Records a change accepted with `--allow-changed`, so the store says why it mixes two settings.
    public func recordChange(what: String, before: String, after: String, reason: String) throws {
        try pool.write { db in
            try db.execute(sql: "INSERT INTO run_change (changed_at, what, before, after, reason) VALUES (?, ?, ?, ?, ?)",
                           arguments: [Date().timeIntervalSince1970, what, before, after, reason])
        }
    }

    public func changes() throws -> [(what: String, before: String, after: String, reason: String)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM run_change ORDER BY id").map { ($0["what"], $0["before"], $0["after"], $0["reason"]) }
        }
    }

    /// Inserts records and their tasks in one transaction. Duplicate ids get a key of
    /// `id#position`, deterministically, so nothing is merged or dropped.
    public func ingest(_ items: [IngestItem], stages: [Stage]) throws {
        try pool.write { db in
            for item in items {
                let record: CorpusRecord
                let problem: String?
                var kind = FailureKind.inputInvalid
                var offset: Int64?
                var line: Int?
                switch item {
                case let .record(r, p, k):
                    record = r
                    problem = p
                    kind = k
                case let .problem(position, byteOffset, l, recordID, reason):
                    record = CorpusRecord(position: position, sourceID: recordID, images: [], pairs: [])
                    problem = reason
                    offset = byteOffset
                    line = l
                }
                let images = JSONValue.array(record.images.map { .string($0) }).jsonText
                let pairs = JSONValue.array(record.pairs.map { .object([("question", .string($0.question)), ("answer", .string($0.answer))]) }).jsonText
                var key = record.sourceID ?? "#\(record.position)"
                let insert = try db.cachedStatement(sql: """
                    INSERT INTO record (key, position, source_id, source, images, pairs, metadata, skip_reason, problem, byte_offset, line)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING
                    """)
                let arguments: (String) -> StatementArguments = { key in
                    [key, record.position, record.sourceID, record.source, images, pairs, record.metadata,
                     record.skipReason, problem, offset, line]
                }
                key = try JobStore.insertWithFreeKey(db, id: key, position: record.position) { try insert.execute(arguments: arguments($0)) }
                let insertTask = try db.cachedStatement(sql: """
                    INSERT INTO task (record_key, stage, state, last_error, failure_kind) VALUES (?, ?, ?, ?, ?)
                    """)
                for stage in stages {
                    let state: TaskState
                    var reason: String?
                    if let problem {
                        state = .failed
                        reason = "input: \(problem)"
                    } else if let skip = record.skipReason {
                        state = .skipped
                        reason = skip
                    } else {
                        state = stage.needs.isEmpty ? .pending : .waiting
                    }
                    try insertTask.execute(arguments: [key, stage.name, state.rawValue, reason,
                                                       state == .failed ? kind.rawValue : nil])
                }
            }
        }
    }

    // MARK: Claiming and committing

    /// Returns work whose owner died (the process holding the work directory's lock is gone).
    @discardableResult
    public func releaseAbandoned() throws -> Int {
        try pool.write { db in
            try db.execute(sql: "UPDATE task SET state = 'pending', lease_until = NULL WHERE state = 'running'")
            return db.changesCount
        }
    }

    /// Marks up to `limit` ready tasks of `stage` as running and returns them, in input order,
    /// with their records and the outputs of the stages they need. A handful of statements per
    /// batch, not per task: claiming is on every task's path.
    public func claim(stage: Stage, limit: Int, leaseSeconds: Double = 3600) async throws -> [ClaimedTask] {
        let now = Date().timeIntervalSince1970
        let needs = stage.needs
        let name = stage.name
        return try await pool.write { db in
            let marked = try Row.fetchAll(db.cachedStatement(sql: """
                UPDATE task SET state = 'running', lease_until = ?, started_at = ?, attempts = attempts + 1
                WHERE rowid IN (SELECT rowid FROM task WHERE stage = ? AND state = 'pending' ORDER BY rowid LIMIT ?)
                RETURNING record_key, attempts, id
                """), arguments: [now + leaseSeconds, now, name, limit])
            guard !marked.isEmpty else { return [] }
            var attempts: [String: (attempt: Int, id: Int64)] = [:]
            for row in marked { attempts[row[0]] = (row[1], row[2]) }
            let keys = JobStore.jsonArray(marked.map { $0[0] as String })
            var upstream: [String: [String: String]] = [:]
            for need in needs {
                for row in try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT t.record_key, o.output FROM task t JOIN task_output o ON o.id = t.output_id
                    WHERE t.stage = ? AND t.record_key IN (SELECT value FROM json_each(?))
                    """), arguments: [need, keys]) {
                    upstream[row[0], default: [:]][need] = row[1]
                }
            }
            return try Row.fetchAll(db.cachedStatement(sql: """
                SELECT \(JobStore.recordColumns) FROM record WHERE key IN (SELECT value FROM json_each(?)) ORDER BY position
                """), arguments: [keys]).map { row in
                let key: String = row[0]
                guard let claimed = attempts[key] else { throw DatabaseError(message: "record \(key) was read for a claim it is not part of") }
                return ClaimedTask(taskID: claimed.id, recordKey: key, stage: name, attempt: claimed.attempt,
                                   record: try JobStore.decodeRecord(row), upstream: upstream[key] ?? [:])
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
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM task WHERE stage = ? AND state = 'pending')", arguments: [stage]) ?? false
        }
    }

    static func fetchRecord(_ db: Database, key: String) throws -> CorpusRecord? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT \(recordColumns) FROM record WHERE key = ?"), arguments: [key]) else { return nil }
        return try decodeRecord(row)
    }

    /// Rebuilds a record from its row. The JSON columns are read with vxt's own parser: claiming
    /// work does this for every task, and Foundation's decoder would dominate the job store's cost.
    static func decodeRecord(_ row: Row) throws -> CorpusRecord {
        let imagesText: String = row[3]
        let pairsText: String = row[4]
        guard case let .array(imageValues) = try JSONParser.parse(imagesText),
              case let .array(pairValues) = try JSONParser.parse(pairsText) else {
            throw DatabaseError(message: "record row has malformed images or pairs JSON")
        }
        let images = imageValues.compactMap(\.stringValue)
        let pairs = pairValues.compactMap { value -> QAPair? in
            guard let question = value["question"]?.stringValue, let answer = value["answer"]?.stringValue else { return nil }
            return QAPair(question: question, answer: answer)
        }
        return CorpusRecord(position: row[1], sourceID: row[2], images: images, pairs: pairs,
                            source: row[5], skipReason: row[6], metadata: row[7])
    }

    /// Commits finished tasks in one transaction and moves their dependents along: a done task
    /// makes dependents whose needs are all done pending; a failed one fails its dependents.
    public func commit(_ results: [TaskResult], pipeline: Pipeline) async throws {
        let promotions = JobStore.promotions(pipeline)
        try await pool.write { db in
            // Records whose task of a stage became done here; their dependents move after the loop,
            // one statement per dependent stage for the whole batch.
            var doneKeys: [String: [String]] = [:]
            let done = "UPDATE task SET state = 'done', lease_until = NULL, last_error = NULL, output_id = ?, started_at = ?, finished_at = ?, "
                + "note = ?, finish_reason = ?, prompt_tokens = ?, completion_tokens = ?, model = ?, endpoint = ?, mock = ?, teacher_attempts = ? "
            let doneByID = try db.cachedStatement(sql: done + "WHERE id = ? AND state = 'running'")
            let doneByKey = try db.cachedStatement(sql: done + "WHERE record_key = ? AND stage = ? AND state = 'running'")
            for result in results {
                switch result.outcome {
                case let .done(c):
                    let output = try JobStore.appendOutput(db, request: result.request, output: c.output, parsed: c.parsed)
                    let values: StatementArguments = [output, result.startedAt, result.finishedAt, c.note, c.finishReason, c.promptTokens,
                                                      c.completionTokens, c.model, c.endpoint, c.mock, c.attempts]
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
                    try db.execute(sql: """
                        UPDATE task
                        SET state = 'failed', lease_until = NULL, last_error = ?, failure_kind = ?, failure_status = ?,
                            failure_endpoint = ?, output_id = ?, started_at = ?, finished_at = ?
                        WHERE record_key = ? AND stage = ? AND state = 'running'
                        """, arguments: [reason, kind.rawValue, result.failureStatus, result.failureEndpoint, output,
                                         result.startedAt, result.finishedAt, result.recordKey, result.stage])
                    guard db.changesCount == 1 else {
                        if let output { try JobStore.removeOutput(db, id: output) }
                        continue
                    }
                    var frontier = [result.stage]
                    while let stage = frontier.popLast() {
                        for dependent in pipeline.dependents(of: stage) {
                            try db.execute(sql: """
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
                let keys = JobStore.jsonArray(keys)
                for sql in promotions[stage] ?? [] {
                    try db.cachedStatement(sql: sql).execute(arguments: [keys])
                }
            }
        }
    }

    /// The task columns a merge copies as they are (besides the key, which may change, and the
    /// output id, which points into the merged store).
    static let copiedTaskColumns = """
        stage, state, attempts, lease_until, last_error, started_at, finished_at, note, finish_reason, prompt_tokens,
        completion_tokens, model, endpoint, mock, teacher_attempts, failure_kind, failure_status, failure_endpoint
        """

    /// Appends a task's texts (a failure keeps only its request) and returns the row's id.
    static func appendOutput(_ db: Database, request: String?, output: String?, parsed: String?) throws -> Int64 {
        try db.cachedStatement(sql: "INSERT INTO task_output (request, output, parsed) VALUES (?, ?, ?)")
            .execute(arguments: [request, output, parsed])
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
    static func promotions(_ pipeline: Pipeline) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for stage in pipeline.stages {
            result[stage.name] = pipeline.dependents(of: stage.name).map { dependent in
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
    public func retry(stage: String?, kinds: [FailureKind]? = nil, reasonContaining: String? = nil,
                      pipeline: Pipeline) throws -> RetrySummary {
        try pool.write { db in
            var filter = "state = 'failed'"
            var arguments: StatementArguments = []
            if let stage { filter += " AND stage = ?"; arguments += [stage] }
            if let kinds {
                filter += " AND failure_kind IN (SELECT value FROM json_each(?))"
                arguments += [JobStore.jsonArray(kinds.map(\.rawValue))]
            }
            if let reasonContaining { filter += " AND instr(last_error, ?) > 0"; arguments += [reasonContaining] }
            let notRetried = JobStore.jsonArray(FailureKind.allCases.filter { $0.isInputProblem || $0 == .upstreamFailed }.map(\.rawValue))
            var leftAlone: [FailureKind: Int] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT failure_kind, COUNT(*) FROM task WHERE \(filter) AND failure_kind IN (SELECT value FROM json_each(?))
                GROUP BY failure_kind
                """, arguments: arguments + [notRetried]) {
                if let kind = FailureKind(rawValue: row[0] ?? "") { leftAlone[kind] = row[1] }
            }
            let rows = try Row.fetchAll(db, sql: """
                SELECT record_key, stage, output_id FROM task
                WHERE \(filter) AND COALESCE(failure_kind, 'other') NOT IN (SELECT value FROM json_each(?))
                """, arguments: arguments + [notRetried])
            var changed = 0
            for row in rows {
                let key: String = row["record_key"]
                let name: String = row["stage"]
                guard let stage = pipeline.stage(named: name) else { continue }
                let notDone = try Int.fetchOne(db, sql: """
                    SELECT COUNT(*) FROM task WHERE record_key = ? AND stage IN (SELECT value FROM json_each(?)) AND state != 'done'
                    """, arguments: [key, JobStore.jsonArray(stage.needs)]) ?? 0
                try db.execute(sql: """
                    UPDATE task SET state = ?, last_error = NULL, failure_kind = NULL, failure_status = NULL, failure_endpoint = NULL,
                        output_id = NULL
                    WHERE record_key = ? AND stage = ?
                    """, arguments: [notDone == 0 ? "pending" : "waiting", key, name])
                if let output: Int64 = row["output_id"] { try JobStore.removeOutput(db, id: output) }
                changed += 1
                var frontier = [name]
                while let upstream = frontier.popLast() {
                    for dependent in pipeline.dependents(of: upstream) {
                        try db.execute(sql: """
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

    /// Records whose tasks failed because an image was missing at ingest, with their image paths:
    /// what a rerun with another `--images` (or `vxt retry --kind image_missing`) checks again.
    public func recordsWithMissingImages() throws -> [(key: String, images: [String])] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT r.key, r.images FROM record r
                WHERE r.key IN (SELECT record_key FROM task WHERE state = 'failed' AND failure_kind = 'image_missing')
                ORDER BY r.position
                """).map { row in
                var images: [String] = []
                if case let .array(values)? = try? JSONParser.parse(row[1] as String) { images = values.compactMap(\.stringValue) }
                return (row[0], images)
            }
        }
    }

    /// Puts records whose input problem is gone (their images found now) back to work: the record
    /// loses its problem and each task waits for its needs again, or is pending when it has none.
    @discardableResult
    public func revive(recordKeys keys: [String], stages: [Stage]) throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try pool.write { db in
            let list = JobStore.jsonArray(keys)
            try db.execute(sql: "UPDATE record SET problem = NULL WHERE key IN (SELECT value FROM json_each(?))", arguments: [list])
            var changed = 0
            for stage in stages {
                try db.execute(sql: """
                    UPDATE task SET state = ?, last_error = NULL, failure_kind = NULL, failure_status = NULL, failure_endpoint = NULL,
                        output_id = NULL
                    WHERE record_key IN (SELECT value FROM json_each(?)) AND stage = ? AND state = 'failed'
                    """, arguments: [stage.needs.isEmpty ? "pending" : "waiting", list, stage.name])
                changed += db.changesCount
            }
            try JobStore.refreshProblemCount(db)
            return changed
        }
    }

    static func refreshProblemCount(_ db: Database) throws {
        try db.execute(sql: "UPDATE run SET problem_count = (SELECT COUNT(*) FROM record WHERE problem IS NOT NULL) WHERE id = 1")
    }

    /// Copies everything in the write-ahead log into the database file and empties the log, so
    /// that `vxt.sqlite` alone holds the run (a copy of it without its `-wal` is complete).
    public func checkpoint() throws {
        try pool.writeWithoutTransaction { db in
            _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    static func jsonArray(_ items: [String]) -> String {
        JSONValue.array(items.map { .string($0) }).jsonText
    }
}
