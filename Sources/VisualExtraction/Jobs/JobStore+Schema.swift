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
        return migrator
    }
}
