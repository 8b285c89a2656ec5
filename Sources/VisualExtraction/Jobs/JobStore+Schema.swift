import Foundation
import GRDB

/// The store's tables, as named migrations: a store written by any earlier vxt is brought to the
/// current schema when it is opened.
extension JobStore {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: run, record, task") { db in
            try db.execute(
                sql: """
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
            try db.execute(
                sql: """
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
            try db.execute(
                sql: """
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
            try db.execute(
                sql: """
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
            try db.execute(
                sql: """
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
        migrator.registerMigration("v8: no lease column") { db in
            // Written on every claim, never read: the work directory's lock, not a lease, says
            // whether the process that claimed a task is alive.
            try db.execute(sql: "ALTER TABLE task DROP COLUMN lease_until")
        }
        migrator.registerMigration("v9: counters kept by triggers") { db in
            // `vxt status` reads these small tables instead of grouping 1.3 million task rows
            // (3.5 s at 665k records). Triggers keep them in the transaction of every change, so
            // a kill -9 can never leave them apart from the rows they count.
            try db.execute(sql: JobStore.countersSchema)
            try db.execute(sql: JobStore.countersRecount)
        }
        migrator.registerMigration("v10: batch files") { db in
            // A task whose request is in a batch file (`vxt batch export`) is `batched`: an online
            // run does not send it, and `vxt batch import` finds it by the custom_id it awaits.
            // Widening the state CHECK in place is the procedure SQLite documents for loosening a
            // constraint (every row already satisfies the wider one): no copy of 1.3M task rows,
            // their triggers and indexes.
            let version = try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
            try db.execute(sql: "PRAGMA writable_schema = ON")
            try db.execute(
                sql: "UPDATE sqlite_schema SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'task'",
                arguments: ["'failed', 'skipped'))", "'failed', 'skipped', 'batched'))"])
            try db.execute(sql: "PRAGMA schema_version = \(version + 1)")
            try db.execute(sql: "PRAGMA writable_schema = OFF")
            try db.execute(
                sql: """
                    ALTER TABLE task ADD COLUMN batch_id TEXT;
                    CREATE INDEX task_batched ON task(stage, batch_id) WHERE state = 'batched';
                    CREATE TABLE batch_request (
                        custom_id TEXT PRIMARY KEY,
                        task_id INTEGER NOT NULL,
                        file TEXT NOT NULL,
                        exported_at REAL NOT NULL,
                        request TEXT
                    ) WITHOUT ROWID;
                    CREATE TABLE batch_result (
                        custom_id TEXT PRIMARY KEY,
                        status INTEGER,
                        body TEXT,
                        error TEXT,
                        file TEXT NOT NULL,
                        imported_at REAL NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v11: following image symlinks") { db in
            // Whether the run follows symlinks out of --images: later commands read images as it did.
            try db.execute(sql: "ALTER TABLE run ADD COLUMN follow_symlinks INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v12: texts kept compressed") { db in
            // A task's request, output and parsed output as one zstd frame (`StoredTexts`); rows
            // written before keep their plain columns and are read as they are.
            try db.execute(sql: "ALTER TABLE task_output ADD COLUMN packed BLOB")
        }
        migrator.registerMigration("v13: records found by id through their key") { db in
            // A record's key is its id, or `id#position…` when the id repeats (`insertWithFreeKey`),
            // so the key's own index finds every record of an id (`details(id:)`). A second index
            // on the id cost each ingested record one more insert at a random place (15 MB at 665k).
            try db.execute(sql: "DROP INDEX IF EXISTS record_source_id")
        }
        migrator.registerMigration("v14: failures counted by kind and folder") { db in
            // `vxt status` grouped the failed tasks to list their kinds and folders: 2.3 s on a
            // 665k-record store whose --images was wrong (1.25 million failures), against 0.1 s
            // for a healthy one. Counted by triggers, as the tasks are (v9), it reads a few rows.
            try db.execute(sql: JobStore.failureCountersSchema)
            try db.execute(sql: JobStore.failureCountersRecount)
        }
        return migrator
    }

    /// Tables of counts, the triggers that keep them, and indexes for the groupings `status` lists.
    static let countersSchema = """
        CREATE TABLE task_count (
            stage TEXT NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL, first INTEGER NOT NULL,
            PRIMARY KEY (stage, state)
        ) WITHOUT ROWID;
        CREATE TABLE task_usage (
            stage TEXT NOT NULL, endpoint TEXT NOT NULL, model TEXT NOT NULL, n INTEGER NOT NULL, attempts INTEGER NOT NULL,
            prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, mock INTEGER NOT NULL, first INTEGER NOT NULL,
            PRIMARY KEY (stage, endpoint, model)
        ) WITHOUT ROWID;
        CREATE TABLE task_done_minute (
            stage TEXT NOT NULL, minute INTEGER NOT NULL, n INTEGER NOT NULL, first REAL NOT NULL, last REAL NOT NULL,
            PRIMARY KEY (stage, minute)
        ) WITHOUT ROWID;
        CREATE TABLE record_count (id INTEGER PRIMARY KEY CHECK (id = 1), records INTEGER NOT NULL, problems INTEGER NOT NULL);
        INSERT INTO record_count VALUES (1, 0, 0);

        CREATE TRIGGER record_counted AFTER INSERT ON record BEGIN
            UPDATE record_count SET records = records + 1, problems = problems + (NEW.problem IS NOT NULL);
        END;
        CREATE TRIGGER record_uncounted AFTER DELETE ON record BEGIN
            UPDATE record_count SET records = records - 1, problems = problems - (OLD.problem IS NOT NULL);
        END;
        CREATE TRIGGER record_problem_changed AFTER UPDATE OF problem ON record
        WHEN (OLD.problem IS NULL) IS NOT (NEW.problem IS NULL) BEGIN
            UPDATE record_count SET problems = problems - (OLD.problem IS NOT NULL) + (NEW.problem IS NOT NULL);
        END;

        \(taskCounted(failures: false))

        CREATE TRIGGER task_uncounted AFTER DELETE ON task BEGIN
            UPDATE task_count SET n = n - 1 WHERE stage = OLD.stage AND state = OLD.state;
        \(removeDone(when: "OLD.state = 'done'"))
        END;

        CREATE TRIGGER task_count_moved AFTER UPDATE OF state, stage ON task
        WHEN OLD.state IS NOT NEW.state OR OLD.stage IS NOT NEW.stage BEGIN
            UPDATE task_count SET n = n - 1 WHERE stage = OLD.stage AND state = OLD.state;
            INSERT INTO task_count (stage, state, n, first) VALUES (NEW.stage, NEW.state, 1, NEW.id)
                ON CONFLICT (stage, state) DO UPDATE SET n = n + 1, first = MIN(first, excluded.first);
        END;

        -- The common path, a task finishing: two upserts.
        CREATE TRIGGER task_done AFTER UPDATE OF state ON task
        WHEN NEW.state = 'done' AND OLD.state IS NOT 'done' BEGIN
        \(addDone(when: "true"))
        END;

        -- A done task that changes (returned to work, or its usage rewritten): out with the old.
        CREATE TRIGGER task_done_changed
        AFTER UPDATE OF state, stage, endpoint, model, teacher_attempts, prompt_tokens, completion_tokens, mock, finished_at ON task
        WHEN OLD.state = 'done' BEGIN
        \(removeDone(when: "true"))
        \(addDone(when: "NEW.state = 'done'"))
        END;

        CREATE INDEX task_skipped ON task(stage, last_error) WHERE state = 'skipped';
        CREATE INDEX task_noted ON task(stage, note) WHERE state = 'done' AND note IS NOT NULL;
        """

    /// The trigger that counts an inserted task: by stage and state, as done work, and (from v14)
    /// as a failure. One trigger, not one per table: each trigger runs as a program of its own
    /// for every row, and ingest inserts 1.3 million tasks at 665k records.
    static func taskCounted(failures: Bool) -> String {
        """
        CREATE TRIGGER task_counted AFTER INSERT ON task BEGIN
            INSERT INTO task_count (stage, state, n, first) VALUES (NEW.stage, NEW.state, 1, NEW.id)
                ON CONFLICT (stage, state) DO UPDATE SET n = n + 1, first = MIN(first, excluded.first);
        \(addDone(when: "NEW.state = 'done'"))
        \(failures ? addFailure(when: "NEW.state = 'failed'") : "")
        END;
        """
    }

    /// Trigger statements that count NEW as a done task (its usage and its minute) when `condition` holds.
    private static func addDone(when condition: String) -> String {
        """
            INSERT INTO task_usage
                SELECT NEW.stage, COALESCE(NEW.endpoint, ''), COALESCE(NEW.model, ''), 1, COALESCE(NEW.teacher_attempts, 0),
                       COALESCE(NEW.prompt_tokens, 0), COALESCE(NEW.completion_tokens, 0), COALESCE(NEW.mock, 0), NEW.id
                WHERE \(condition)
                ON CONFLICT (stage, endpoint, model) DO UPDATE SET
                    n = n + 1, attempts = attempts + excluded.attempts, prompt_tokens = prompt_tokens + excluded.prompt_tokens,
                    completion_tokens = completion_tokens + excluded.completion_tokens, mock = mock + excluded.mock,
                    first = MIN(first, excluded.first);
            INSERT INTO task_done_minute
                SELECT NEW.stage, CAST(NEW.finished_at / 60 AS INTEGER), 1, NEW.finished_at, NEW.finished_at
                WHERE \(condition) AND NEW.finished_at IS NOT NULL
                ON CONFLICT (stage, minute) DO UPDATE SET
                    n = n + 1, first = MIN(first, excluded.first), last = MAX(last, excluded.last);
        """
    }

    /// Trigger statements that take OLD out of the done counts when `condition` holds.
    private static func removeDone(when condition: String) -> String {
        """
            UPDATE task_usage SET
                n = n - 1, attempts = attempts - COALESCE(OLD.teacher_attempts, 0),
                prompt_tokens = prompt_tokens - COALESCE(OLD.prompt_tokens, 0),
                completion_tokens = completion_tokens - COALESCE(OLD.completion_tokens, 0), mock = mock - COALESCE(OLD.mock, 0)
            WHERE \(condition) AND stage = OLD.stage AND endpoint = COALESCE(OLD.endpoint, '') AND model = COALESCE(OLD.model, '');
            UPDATE task_done_minute SET n = n - 1
            WHERE \(condition) AND OLD.finished_at IS NOT NULL AND stage = OLD.stage
                AND minute = CAST(OLD.finished_at / 60 AS INTEGER);
        """
    }

    /// Failed tasks counted by stage, kind and the dataset folder of their record (`record.source`,
    /// '' when it has none), kept by triggers like `task_count` (an inserted one by `task_counted`).
    /// A record's folder never changes and records are stored before their tasks (ingest, merge),
    /// so a task finds it when counted. A failure without a kind counts as 'other', as
    /// `FailureKind` reads it.
    static let failureCountersSchema = """
        CREATE TABLE task_failure_count (
            stage TEXT NOT NULL, kind TEXT NOT NULL, folder TEXT NOT NULL, n INTEGER NOT NULL,
            PRIMARY KEY (stage, kind, folder)
        ) WITHOUT ROWID;

        DROP TRIGGER task_counted;
        \(taskCounted(failures: true))

        CREATE TRIGGER task_failure_uncounted AFTER DELETE ON task WHEN OLD.state = 'failed' BEGIN
        \(removeFailure(when: "true"))
        END;

        CREATE TRIGGER task_failure_moved AFTER UPDATE OF state, stage, failure_kind, record_key ON task
        WHEN (OLD.state = 'failed' OR NEW.state = 'failed')
            AND (OLD.state IS NOT NEW.state OR OLD.stage IS NOT NEW.stage
                 OR OLD.failure_kind IS NOT NEW.failure_kind OR OLD.record_key IS NOT NEW.record_key) BEGIN
        \(removeFailure(when: "OLD.state = 'failed'"))
        \(addFailure(when: "NEW.state = 'failed'"))
        END;
        """

    /// Trigger statement that counts NEW as a failure when `condition` holds.
    private static func addFailure(when condition: String) -> String {
        """
            INSERT INTO task_failure_count (stage, kind, folder, n)
                SELECT NEW.stage, COALESCE(NEW.failure_kind, 'other'),
                       COALESCE((SELECT source FROM record WHERE key = NEW.record_key), ''), 1
                WHERE \(condition)
                ON CONFLICT (stage, kind, folder) DO UPDATE SET n = n + 1;
        """
    }

    /// Trigger statement that takes OLD out of the failure counts when `condition` holds.
    private static func removeFailure(when condition: String) -> String {
        """
            UPDATE task_failure_count SET n = n - 1
            WHERE \(condition) AND stage = OLD.stage AND kind = COALESCE(OLD.failure_kind, 'other')
                AND folder = COALESCE((SELECT source FROM record WHERE key = OLD.record_key), '');
        """
    }

    /// The failures counted from the rows: a store's migration, and `countersDisagreement`.
    static let failureCountsFromRows = """
        SELECT t.stage, COALESCE(t.failure_kind, 'other') AS kind, COALESCE(r.source, '') AS folder, COUNT(*) AS n
        FROM task t LEFT JOIN record r ON r.key = t.record_key
        WHERE t.state = 'failed' GROUP BY 1, 2, 3
        """

    static let failureCountersRecount = """
        DELETE FROM task_failure_count;
        INSERT INTO task_failure_count (stage, kind, folder, n) \(failureCountsFromRows);
        """

    /// Fills the counters from the rows (the migration of a store made before them).
    static let countersRecount = """
        DELETE FROM task_count;
        DELETE FROM task_usage;
        DELETE FROM task_done_minute;
        INSERT INTO task_count SELECT stage, state, COUNT(*), MIN(id) FROM task GROUP BY stage, state;
        INSERT INTO task_usage
            SELECT stage, COALESCE(endpoint, ''), COALESCE(model, ''), COUNT(*), SUM(COALESCE(teacher_attempts, 0)),
                   SUM(COALESCE(prompt_tokens, 0)), SUM(COALESCE(completion_tokens, 0)), SUM(COALESCE(mock, 0)), MIN(id)
            FROM task WHERE state = 'done' GROUP BY 1, 2, 3;
        INSERT INTO task_done_minute
            SELECT stage, CAST(finished_at / 60 AS INTEGER), COUNT(*), MIN(finished_at), MAX(finished_at)
            FROM task WHERE state = 'done' AND finished_at IS NOT NULL GROUP BY 1, 2;
        UPDATE record_count SET records = (SELECT COUNT(*) FROM record), problems = (SELECT COUNT(*) FROM record WHERE problem IS NOT NULL);
        """
}
