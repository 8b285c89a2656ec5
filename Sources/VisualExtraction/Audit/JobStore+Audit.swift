import Foundation
import GRDB

/// A finished sample as the audit reads it.
struct AuditInput: Sendable {
    var key: String
    var record: CorpusRecord
    var description: String
    var finishReason: String?
    var statements: [String]?
    var answers: [String]?
    /// Finish times of the outputs read; unchanged stamp, unchanged audit.
    var stamp: String
}

/// What the audit measured for one sample.
struct SampleAudit: Sendable {
    var key: String
    var stamp: String
    var words: Int
    var statements: Int
    var coverage: StatementCoverage
    var questionsAnswered: Int?
    var questionsAsked: Int?
    var signature: [UInt8]
    var findings: [AuditFinding]
}

/// What the corpus-wide checks read of every audited sample, in input order, column by column
/// (~100 MB at 625k samples): a row, then a value with its own array, per sample were most of the
/// audit's 594 MB peak there (367 MB now).
struct AuditedSamples {
    var keys: [String] = []
    var words: [Int] = []
    var signatures = NearDuplicates.SignatureTable()
}

extension JobStore {
    /// Whether any sample has been audited in this store.
    func hasAudits() throws -> Bool {
        try pool.read { db in try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM audit_sample)") ?? false }
    }

    /// How many records the store holds and the last input position (-1 when empty).
    func recordSpan() throws -> (records: Int, lastPosition: Int) {
        try pool.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT COUNT(*), COALESCE(MAX(position), -1) FROM record")
            return (row?[0] ?? 0, row?[1] ?? -1)
        }
    }

    /// Samples whose description is done and whose audit is missing or older than its outputs,
    /// in input order, with positions in `after + 1 ... through`.
    /// - Parameter anyAudited: false when the store holds no audit yet: every sample is then to
    ///   audit, and the stamps need no first look.
    func samplesToAudit(
        after position: Int, through last: Int, descriptionStage: String, statementsStage: String?,
        answersStage: String?, anyAudited: Bool = true
    ) throws -> [AuditInput] {
        try pool.read { db in
            let stages: StatementArguments = [descriptionStage, statementsStage ?? "", answersStage ?? ""]
            // First the stamps alone: an audit run again after a few new outputs reads only those
            // samples' texts, not every text of the store.
            var stale: [Int] = []
            var current = 0
            if anyAudited {
                let stamps = try Row.fetchCursor(db, sql: JobStore.auditStampsSQL, arguments: stages + [position, last])
                while let row = try stamps.next() {
                    if (row[2] as String?) == (row[1] as String) { current += 1 } else { stale.append(row[0]) }
                }
                if stale.isEmpty { return [] }
            }
            // A cursor: each row's columns are read where SQLite holds them, not copied first.
            let rows =
                current == 0
                ? try Row.fetchCursor(db, sql: JobStore.samplesToAuditSQL(), arguments: stages + [position, last])
                : try Row.fetchCursor(
                    db, sql: JobStore.samplesToAuditSQL(JobStore.positionsClause),
                    arguments: stages + [JSONValue.array(stale.map { .number(String($0)) }).jsonText])
            var inputs: [AuditInput] = []
            while let row = try rows.next() {
                let stamp: String = row["stamp"]
                if (row["audited_stamp"] as String?) == stamp { continue }
                let answersDone = (row["q_state"] as String?) == TaskState.done.rawValue
                inputs.append(
                    AuditInput(
                        key: row["key"], record: try JobStore.decodeRecord(row),
                        description: try JobStore.packedTexts(row, prefix: "d_").output ?? "",
                        finishReason: row["d_finish"], statements: JobStore.stringArray(try JobStore.packedTexts(row, prefix: "s_").parsed),
                        answers: answersDone ? JobStore.stringArray(try JobStore.packedTexts(row, prefix: "q_").parsed) : nil, stamp: stamp)
                )
            }
            return inputs
        }
    }

    /// `samplesToAuditSQL`'s position, stamp and audited stamp alone (no text is read).
    static let auditStampsSQL = """
        SELECT r.position, d.finished_at || '/' || COALESCE(s.finished_at, '') || '/' || COALESCE(q.finished_at, ''), a.stamp
        FROM record r
        CROSS JOIN task d ON d.record_key = r.key AND d.stage = ? AND d.state = 'done'
        LEFT JOIN task s ON s.record_key = r.key AND s.stage = ?
        LEFT JOIN task q ON q.record_key = r.key AND q.stage = ?
        LEFT JOIN audit_sample a ON a.record_key = r.key
        \(windowClause)
        """
    static let windowClause = "WHERE r.position > ? AND r.position <= ?"
    /// In place of `windowClause`: the window's stale positions alone, as a JSON array.
    static let positionsClause = "WHERE r.position IN (SELECT value FROM json_each(?))"

    /// Arguments: description, statements and answers stage, then the filter's: positions after
    /// and through for `windowClause`, a JSON array of positions for `positionsClause`.
    /// CROSS JOIN keeps SQLite reading records by position first: left to itself it walked every
    /// done task of the stage (by `task_by_state`) for each window, so an audit cost windows × tasks.
    static func samplesToAuditSQL(_ filter: String = windowClause) -> String {
        """
        SELECT \(JobStore.qualifiedRecordColumns("r")), dout.output AS d_output, dout.packed AS d_packed, d.finish_reason AS d_finish,
            sout.parsed AS s_parsed, sout.packed AS s_packed, qout.parsed AS q_parsed, qout.packed AS q_packed, q.state AS q_state,
            d.finished_at || '/' || COALESCE(s.finished_at, '') || '/' || COALESCE(q.finished_at, '') AS stamp,
            a.stamp AS audited_stamp
        FROM record r
        CROSS JOIN task d ON d.record_key = r.key AND d.stage = ? AND d.state = 'done'
        LEFT JOIN task_output dout ON dout.id = d.output_id
        LEFT JOIN task s ON s.record_key = r.key AND s.stage = ?
        LEFT JOIN task_output sout ON sout.id = s.output_id
        LEFT JOIN task q ON q.record_key = r.key AND q.stage = ?
        LEFT JOIN task_output qout ON qout.id = q.output_id
        LEFT JOIN audit_sample a ON a.record_key = r.key
        \(filter)
        ORDER BY r.position
        """
    }

    static func stringArray(_ text: String?) -> [String]? {
        guard let text, case let .array(items)? = try? JSONParser.parse(text) else { return nil }
        return items.compactMap(\.stringValue)
    }

    /// Stores sample audits in one transaction, replacing their per-sample flags.
    func saveAudits(_ audits: [SampleAudit]) throws {
        let now = Date().timeIntervalSince1970
        try pool.write { db in
            let corpusFlags = JSONValue.arrayText(AuditFlag.corpusLevel.map(\.rawValue))
            for audit in audits {
                try db.cachedStatement(
                    sql: """
                        INSERT OR REPLACE INTO audit_sample (record_key, stamp, words, statements, coverage, missing,
                            questions_answered, questions_asked, signature, audited_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """
                ).execute(arguments: [
                    audit.key, audit.stamp, audit.words, audit.statements, audit.coverage.score,
                    JSONValue.array(audit.coverage.missing.map { .number(String($0)) }).jsonText,
                    audit.questionsAnswered, audit.questionsAsked, Data(audit.signature), now
                ])
                try db.cachedStatement(
                    sql: """
                        DELETE FROM audit_flag WHERE record_key = ? AND flag NOT IN (SELECT value FROM json_each(?))
                        """
                ).execute(arguments: [audit.key, corpusFlags])
                for finding in audit.findings {
                    try db.cachedStatement(sql: "INSERT OR REPLACE INTO audit_flag (record_key, flag, evidence) VALUES (?, ?, ?)")
                        .execute(arguments: [audit.key, finding.flag.rawValue, finding.evidence])
                }
            }
        }
    }

    /// Every audited sample whose description is still done, in input order; drops audits of
    /// samples that are no longer done (a retried record).
    func auditedSamples(descriptionStage: String) throws -> AuditedSamples {
        try pool.write { db in
            try db.execute(
                sql: """
                    DELETE FROM audit_sample WHERE record_key NOT IN (SELECT record_key FROM task WHERE stage = ? AND state = 'done')
                    """, arguments: [descriptionStage])
            try db.execute(sql: "DELETE FROM audit_flag WHERE record_key NOT IN (SELECT record_key FROM audit_sample)")
            var samples = AuditedSamples()
            // Row by row: all rows at once were the audit's peak of memory at full scale.
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT a.record_key, a.words, a.signature FROM audit_sample a JOIN record r ON r.key = a.record_key ORDER BY r.position
                    """)
            while let row = try rows.next() {
                samples.keys.append(row[0])
                samples.words.append(row[1])
                try row.withUnsafeData(atIndex: 2) { data in
                    (data ?? Data()).withUnsafeBytes { samples.signatures.append($0) }
                }
            }
            return samples
        }
    }

    /// Records whose image could not be used: an input problem or a failed task naming an image.
    func imageProblems() throws -> [(key: String, reason: String)] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT key, problem AS reason FROM record WHERE problem LIKE '%image%'
                    UNION ALL
                    SELECT t.record_key, MIN(t.last_error) FROM task t JOIN record r ON r.key = t.record_key
                    WHERE r.problem IS NULL AND t.state = 'failed' AND (t.last_error LIKE 'image %' OR t.last_error LIKE 'cannot read image %')
                    GROUP BY t.record_key
                    """
            ).map { ($0[0], $0[1]) }
        }
    }

    /// Replaces the corpus-level flags with those `produce` passes to its argument (a later one
    /// for the same record and flag wins), in one transaction. Only what changed is written: the
    /// new flags go to a temporary table and are compared there, because an audit with nothing
    /// new finds the same flags again, 587k of them in a 625k-sample corpus of near-copies, and
    /// rewrote them all (8.9 s) while holding them in memory.
    func replaceCorpusFlags(_ produce: ((String, AuditFinding) throws -> Void) throws -> Void) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    CREATE TEMP TABLE IF NOT EXISTS corpus_flag (
                        record_key TEXT NOT NULL, flag TEXT NOT NULL, evidence TEXT NOT NULL, PRIMARY KEY (record_key, flag)
                    ) WITHOUT ROWID;
                    DELETE FROM temp.corpus_flag;
                    """)
            let add = try db.cachedStatement(sql: "INSERT OR REPLACE INTO temp.corpus_flag (record_key, flag, evidence) VALUES (?, ?, ?)")
            try produce { key, finding in try add.execute(arguments: [key, finding.flag.rawValue, finding.evidence]) }
            try db.execute(
                sql: """
                    DELETE FROM audit_flag WHERE flag IN (SELECT value FROM json_each(?)) AND NOT EXISTS (
                        SELECT 1 FROM temp.corpus_flag n
                        WHERE n.record_key = audit_flag.record_key AND n.flag = audit_flag.flag AND n.evidence = audit_flag.evidence);
                    INSERT OR REPLACE INTO audit_flag (record_key, flag, evidence)
                        SELECT record_key, flag, evidence FROM temp.corpus_flag n
                        WHERE NOT EXISTS (SELECT 1 FROM audit_flag f WHERE f.record_key = n.record_key AND f.flag = n.flag);
                    DELETE FROM temp.corpus_flag;
                    """, arguments: [JSONValue.arrayText(AuditFlag.corpusLevel.map(\.rawValue))])
        }
    }

    /// Whether this store has been audited (older stores have no audit tables until `vxt audit` runs).
    func hasAuditTables(_ db: Database) throws -> Bool {
        try db.tableExists("audit_flag")
    }
}

/// The audit's numbers: per flag and per source dataset, for the terminal table, `--json` and the report.
public struct AuditSummary: Sendable, Codable, Equatable {
    public struct SourceRow: Sendable, Codable, Equatable {
        public var source: String
        public var samples: Int
        public var flagged: Int
        public var meanCoverage: Double
        /// Questions whose gold answer a text-only model reproduced from the description, when an answerability stage ran.
        public var questionsAnswered: Int?
        public var questionsAsked: Int?
        public var flags: [String: Int]
        public var answerableShare: Double? {
            guard let asked = questionsAsked, asked > 0, let answered = questionsAnswered else { return nil }
            return Double(answered) / Double(asked)
        }
    }

    public var samples: Int
    public var flagged: Int
    public var flags: [String: Int]
    public var sources: [SourceRow]
    public var meanCoverage: Double
    /// Samples per coverage decile, [0, 0.1) ... [0.9, 1.0], 1.0 in the last.
    public var coverageHistogram: [Int]
    /// Description word counts: samples per bin of `wordBinWidth` words.
    public var wordHistogram: [Int]
    public var wordBinWidth: Int
    public var medianWords: Int
    /// Records with an image problem (no sample).
    public var imageProblems: Int

    public enum CodingKeys: String, CodingKey {
        case samples, flagged, flags, sources
        case meanCoverage = "mean_coverage"
        case coverageHistogram = "coverage_histogram"
        case wordHistogram = "word_histogram"
        case wordBinWidth = "word_bin_width"
        case medianWords = "median_words"
        case imageProblems = "image_problems"
    }
}

extension AuditSummary.SourceRow {
    public enum CodingKeys: String, CodingKey {
        case source, samples, flagged, flags
        case meanCoverage = "mean_coverage"
        case questionsAnswered = "questions_answered"
        case questionsAsked = "questions_asked"
    }
}

extension JobStore {
    public func auditSummary() throws -> AuditSummary {
        try pool.read { db in
            var summary = AuditSummary(
                samples: 0, flagged: 0, flags: [:], sources: [], meanCoverage: 1, coverageHistogram: Array(repeating: 0, count: 10),
                wordHistogram: [], wordBinWidth: 1, medianWords: 0, imageProblems: 0)
            guard try hasAuditTables(db) else { return summary }
            summary.samples = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_sample") ?? 0
            summary.flagged =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(DISTINCT a.record_key) FROM audit_flag f JOIN audit_sample a ON a.record_key = f.record_key")
                ?? 0
            summary.imageProblems = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_flag WHERE flag = 'image_problem'") ?? 0
            for row in try Row.fetchAll(db, sql: "SELECT flag, COUNT(*) AS n FROM audit_flag GROUP BY flag") {
                summary.flags[row["flag"]] = row["n"]
            }
            summary.meanCoverage = try Double.fetchOne(db, sql: "SELECT AVG(coverage) FROM audit_sample") ?? 1
            for row in try Row.fetchAll(
                db, sql: "SELECT MIN(CAST(coverage * 10 AS INTEGER), 9) AS bin, COUNT(*) AS n FROM audit_sample GROUP BY bin")
            {
                let bin: Int = row["bin"]
                summary.coverageHistogram[max(0, min(9, bin))] = row["n"]
            }
            let words = try Int.fetchAll(db, sql: "SELECT words FROM audit_sample ORDER BY words")
            if !words.isEmpty {
                summary.medianWords = words[words.count / 2]
                let top = words[words.count - 1]
                let width = max(1, Int((Double(top + 1) / 20).rounded(.up)))
                var bins = [Int](repeating: 0, count: top / width + 1)
                for w in words { bins[w / width] += 1 }
                summary.wordHistogram = bins
                summary.wordBinWidth = width
            }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT COALESCE(r.source, '(none)') AS source, COUNT(*) AS n, AVG(a.coverage) AS coverage,
                           SUM(a.questions_answered) AS answered, SUM(a.questions_asked) AS asked,
                           SUM(EXISTS (SELECT 1 FROM audit_flag f WHERE f.record_key = a.record_key)) AS flagged
                    FROM audit_sample a JOIN record r ON r.key = a.record_key GROUP BY source ORDER BY n DESC, source
                    """)
            {
                summary.sources.append(
                    AuditSummary.SourceRow(
                        source: row["source"], samples: row["n"], flagged: row["flagged"], meanCoverage: row["coverage"] ?? 1,
                        questionsAnswered: row["answered"], questionsAsked: row["asked"], flags: [:]))
            }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT COALESCE(r.source, '(none)') AS source, f.flag, COUNT(*) AS n
                    FROM audit_flag f JOIN audit_sample a ON a.record_key = f.record_key JOIN record r ON r.key = f.record_key GROUP BY source, f.flag
                    """)
            {
                let source: String = row["source"]
                if let index = summary.sources.firstIndex(where: { $0.source == source }) {
                    summary.sources[index].flags[row["flag"]] = row["n"]
                }
            }
            return summary
        }
    }
}

/// One sample (or image-problem record) as the HTML report shows it.
struct ReportSample: Sendable {
    var key: String
    var record: CorpusRecord
    var description: String?
    var statements: [String]
    var answers: [String]?
    var coverage: Double?
    var missing: Set<Int>
    var findings: [AuditFinding]
}

extension JobStore {
    /// Flagged samples first (up to `flagged`), then clean ones (up to `clean`), each in input order,
    /// with the totals of each kind.
    func reportSamples(
        flagged: Int, clean: Int, descriptionStage: String, statementsStage: String?,
        answersStage: String?
    ) throws -> (samples: [ReportSample], totalFlagged: Int, totalClean: Int) {
        try pool.read { db in
            guard try hasAuditTables(db) else { return ([], 0, 0) }
            let flaggedKeys = "SELECT DISTINCT record_key FROM audit_flag"
            let totalFlagged = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (\(flaggedKeys))") ?? 0
            let totalClean = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_sample WHERE record_key NOT IN (\(flaggedKeys))") ?? 0
            let select = """
                SELECT \(JobStore.qualifiedRecordColumns("r")), dout.output AS d_output, dout.packed AS d_packed,
                       sout.parsed AS s_parsed, sout.packed AS s_packed, qout.parsed AS q_parsed, qout.packed AS q_packed, a.coverage AS coverage, a.missing AS missing
                FROM record r
                LEFT JOIN audit_sample a ON a.record_key = r.key
                LEFT JOIN task d ON d.record_key = r.key AND d.stage = ? AND d.state = 'done'
                LEFT JOIN task_output dout ON dout.id = d.output_id
                LEFT JOIN task s ON s.record_key = r.key AND s.stage = ?
                LEFT JOIN task_output sout ON sout.id = s.output_id
                LEFT JOIN task q ON q.record_key = r.key AND q.stage = ? AND q.state = 'done'
                LEFT JOIN task_output qout ON qout.id = q.output_id
                """
            let stages: StatementArguments = [descriptionStage, statementsStage ?? "", answersStage ?? ""]
            // The first flagged positions alone, then their rows: a LIMIT after the joins would
            // read every flagged sample's outputs to sort them.
            var rows = try Row.fetchAll(
                db,
                sql: select
                    + " WHERE r.position IN (SELECT position FROM record WHERE +key IN (\(flaggedKeys)) ORDER BY position LIMIT ?) ORDER BY r.position",
                arguments: stages + [flagged])
            rows += try Row.fetchAll(
                db, sql: select + " WHERE a.record_key IS NOT NULL AND r.key NOT IN (\(flaggedKeys)) ORDER BY r.position LIMIT ?",
                arguments: stages + [clean])
            var samples: [ReportSample] = []
            for row in rows {
                let key: String = row["key"]
                let findings = try Row.fetchAll(db, sql: "SELECT flag, evidence FROM audit_flag WHERE record_key = ?", arguments: [key])
                    .compactMap { row in AuditFlag(rawValue: row["flag"]).map { AuditFinding($0, row["evidence"]) } }.sorted {
                        $0.flag < $1.flag
                    }
                var missingIndices = Set<Int>()
                if let text: String = row["missing"], case let .array(items)? = try? JSONParser.parse(text) {
                    for item in items { if case let .number(n) = item, let i = Int(n) { missingIndices.insert(i) } }
                }
                samples.append(
                    ReportSample(
                        key: key, record: try JobStore.decodeRecord(row), description: try JobStore.packedTexts(row, prefix: "d_").output,
                        statements: JobStore.stringArray(try JobStore.packedTexts(row, prefix: "s_").parsed) ?? [],
                        answers: JobStore.stringArray(try JobStore.packedTexts(row, prefix: "q_").parsed),
                        coverage: row["coverage"], missing: missingIndices, findings: findings))
            }
            return (samples, totalFlagged, totalClean)
        }
    }
}
