import Foundation
import GRDB

/// Records and their tasks enter the store here, in batches, resumable from the last one.
extension JobStore {
    /// A record as it enters the store: usable, skipped, or a problem to report.
    public enum IngestItem: Sendable {
        /// A decoded record as its row; with a `problem`, its tasks fail as `kind`.
        case row(RecordRow, problem: String?, kind: FailureKind)
        case problem(position: Int, byteOffset: Int64, line: Int, recordID: String?, reason: String)

        /// Whether the record fails as it is stored (unreadable, or with a problem such as a missing image).
        public var isProblem: Bool {
            switch self {
            case .problem: return true
            case let .row(_, problem, _): return problem != nil
            }
        }

        /// Whether its tasks are to be done (neither failed nor skipped).
        var isUsable: Bool {
            if case let .row(row, problem, _) = self { return row.isUsable(problem: problem) }
            return false
        }

        /// A decoded record, its row made here.
        public static func record(_ record: CorpusRecord, problem: String?, kind: FailureKind = .inputInvalid) -> IngestItem {
            .row(RecordRow(record), problem: problem, kind: kind)
        }
    }

    /// A record as the `record` table holds it: images as JSON text, pairs as `StoredTexts.Pairs`.
    /// Made on the ingest's worker threads, so that the one writing thread only binds bytes, and
    /// the decoded record (dozens of small allocations) is freed on the thread that made it:
    /// freeing them on the writer contended for the workers' malloc arenas.
    public struct RecordRow: Sendable {
        let position: Int
        let sourceID: String?
        let source: String?
        let metadata: String?
        let skipReason: String?
        let images: String
        let pairs: StoredTexts.Pairs

        public init(_ record: CorpusRecord) {
            position = record.position
            sourceID = record.sourceID
            source = record.source
            metadata = record.metadata
            skipReason = record.skipReason
            images = JSONValue.arrayText(record.images)
            pairs = StoredTexts.Pairs(record.pairs)
        }

        /// The row of a record that could not be read: where it was, and its id when known.
        init(unreadableAt position: Int, recordID: String?) {
            self.init(CorpusRecord(position: position, sourceID: recordID, images: [], pairs: []))
        }

        /// Whether its tasks are to be done: neither skipped nor failed by `problem`.
        func isUsable(problem: String?) -> Bool { problem == nil && skipReason == nil }
    }

    /// The file position after the last stored record: ingest writes in file order, so on resume
    /// every record before it is known and can be passed over (with or without sharding).
    public func ingestResumePosition() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(position) + 1, 0) FROM record") ?? 0 }
    }

    /// The statement that stores a record row, for `insertWithFreeKey`.
    ///
    /// `OR IGNORE` rather than `ON CONFLICT(key) DO NOTHING`, though both leave a taken key alone:
    /// the counting trigger makes every insert a write of several rows, and such a statement, when
    /// it may abort half way, copies the pages it changes to a statement journal, so that it alone
    /// can be undone. A statement that cannot abort needs no such journal; at 665k
    /// records the journal was 13.5 GB written to a temporary file and 6 of the ingest's 51 CPU seconds.
    static func insertRecordSQL(columns: String, values: Int) -> String {
        "INSERT OR IGNORE INTO record (\(columns)) VALUES (\(Array(repeating: "?", count: values).joined(separator: ", ")))"
    }

    /// Inserts a record under its id or, when that key is taken (a duplicate id, or a real id that
    /// equals another record's fallback such as "x#2"), the first free of `id#position`,
    /// `id#position#2`, …: deterministic for one input order, so merged shards get the keys an
    /// unsharded run gives. `insert` runs `insertRecordSQL`, which stores nothing on any conflict:
    /// a refusal that is not a taken key (a position stored twice) is an error here.
    static func insertWithFreeKey(_ db: Database, id: String, position: Int, insert: (String) throws -> Void) throws -> String {
        try insert(id)
        if db.changesCount == 1 { return id }
        if let stored = try String.fetchOne(db, sql: "SELECT key FROM record WHERE position = ?", arguments: [position]) {
            throw DatabaseError(message: "record at position \(position) is stored already, as \(stored)")
        }
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM record WHERE key = ?)", arguments: [id]) == true else {
            throw DatabaseError(message: "record at position \(position) (id \(id)) was refused by the store")
        }
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
            try db.execute(
                sql: "INSERT INTO run_change (changed_at, what, before, after, reason) VALUES (?, ?, ?, ?, ?)",
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
    public func ingest(_ items: [IngestItem], stages: [StageGraph.Node]) throws {
        try pool.write { db in
            let insert = try RawStatement(
                db,
                sql: JobStore.insertRecordSQL(
                    columns: "key, position, source_id, source, images, pairs, metadata, skip_reason, problem, byte_offset, line",
                    values: 11))
            // `OR IGNORE` for the reason `insertRecordSQL` gives; a task that is not stored is an error.
            let insertTask = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO task (record_key, stage, state, last_error, failure_kind) VALUES (?, ?, ?, ?, ?)")
            // The tasks of usable records (nearly all) go in one statement per stage after the
            // loop: 1.3 million single-row inserts from Swift took a sixth of a 665k ingest's CPU.
            var usable: [String] = []
            usable.reserveCapacity(items.count)
            for item in items {
                let row: RecordRow
                let problem: String?
                var kind = FailureKind.inputInvalid
                var offset: Int64?
                var line: Int?
                switch item {
                case let .row(r, p, k):
                    row = r
                    problem = p
                    kind = k
                case let .problem(position, byteOffset, l, recordID, reason):
                    row = RecordRow(unreadableAt: position, recordID: recordID)
                    problem = reason
                    offset = byteOffset
                    line = l
                }
                // Parameter 1, the key, is bound per attempt by `insertWithFreeKey`.
                insert.bind(2, row.position)
                insert.bind(3, row.sourceID)
                insert.bind(4, row.source)
                insert.bind(5, row.images)
                insert.bind(6, bytes: row.pairs.bytes, asBlob: row.pairs.isFrame)
                insert.bind(7, row.metadata)
                insert.bind(8, row.skipReason)
                insert.bind(9, problem)
                insert.bind(10, offset)
                insert.bind(11, line)
                let key = try JobStore.insertWithFreeKey(db, id: row.sourceID ?? "#\(row.position)", position: row.position) {
                    insert.bind(1, $0)
                    try insert.execute()
                }
                if row.isUsable(problem: problem) {
                    usable.append(key)
                    continue
                }
                // A record with a problem fails each of its tasks; a skipped one (no image, a video) skips them.
                for stage in stages {
                    let (state, reason): (TaskState, String) =
                        if let problem { (.failed, "input: \(problem)") } else { (.skipped, row.skipReason ?? "") }
                    try insertTask.execute(arguments: [
                        key, stage.name, state.rawValue, reason,
                        state == .failed ? kind.rawValue : nil
                    ])
                    if db.changesCount != 1 {
                        throw DatabaseError(message: "task \(stage.name) of record \(key) was refused by the store")
                    }
                }
            }
            guard !usable.isEmpty else { return }
            let keys = JSONValue.arrayText(usable)
            let insertTasks = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO task (record_key, stage, state) SELECT value, ?, ? FROM json_each(?) ORDER BY key")
            for stage in stages {
                let state: TaskState = stage.needs.isEmpty ? .pending : .waiting
                try insertTasks.execute(arguments: [stage.name, state.rawValue, keys])
                if db.changesCount != usable.count {
                    throw DatabaseError(
                        message: "\(usable.count - db.changesCount) of \(usable.count) \(stage.name) tasks were refused by the store")
                }
            }
        }
    }
}
