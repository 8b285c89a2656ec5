import Foundation
import GRDB
import Testing
@testable import VisualExtraction

/// The job store's state machine, step by step, on a real SQLite file.
/// A class, so that each test's store folder is removed when the test ends (Swift Testing makes
/// one instance per test).
@Suite final class JobStoreTests {
    let pipeline: Pipeline
    let dir: URL
    let store: JobStore

    init() throws {
        pipeline = try Pipeline.load(path: TestSupport.paperPipeline.path)
        dir = try TestSupport.temporaryDirectory()
        store = try JobStore(path: dir.appendingPathComponent("vxt.sqlite").path)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    /// A done result for a claimed task, found by its row id as the runner's are; `byKey` leaves the
    /// id out, as a result made by hand does, so the commit finds the task by record and stage.
    func done(_ task: ClaimedTask, _ output: String, byKey: Bool = false) -> TaskResult {
        var result = TaskResult(
            recordKey: task.recordKey, stage: task.stage,
            outcome: .done(
                .init(
                    output: output, parsed: nil, note: nil, finishReason: "stop", promptTokens: 1,
                    completionTokens: 2, model: "m", endpoint: "e", mock: false, attempts: 1)),
            request: "{}", startedAt: 0, finishedAt: 1)
        result.taskID = byKey ? nil : task.taskID
        return result
    }

    /// A store file as a vxt of an older schema left it: migrated up to `migration`, then `rows`.
    func oldStore(_ name: String, upTo migration: String, rows: String) async throws -> String {
        let path = dir.appendingPathComponent(name).path
        let old = try DatabaseQueue(path: path)
        try JobStore.migrator.migrate(old, upTo: migration)
        try await old.write { db in try db.execute(sql: rows) }
        try old.close()
        return path
    }

    /// A failed result for a claimed task, as the runner commits one.
    func failed(_ task: ClaimedTask, _ reason: String, kind: FailureKind) -> TaskResult {
        var result = TaskResult(
            recordKey: task.recordKey, stage: task.stage, outcome: .failed(reason: reason, kind: kind),
            request: "{}", startedAt: 0, finishedAt: 1)
        result.taskID = task.taskID
        return result
    }

    /// The writer keeps 64 MB of pages while records stream in and 16 MB once they are in; the
    /// readers keep SQLite's default.
    @Test func theWritersPageCacheShrinksOnceIngestIsOver() throws {
        func writerCache() throws -> Int? { try store.pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA cache_size") } }
        #expect(try writerCache() == -65536)
        try store.useRunCacheSize()
        #expect(try writerCache() == -16384)
        #expect(try store.pool.read { try Int.fetchOne($0, sql: "PRAGMA cache_size") } == -2000)
    }

    /// A disk that fills mid-run: SQLite's own SQLITE_FULL (the store capped at its current size
    /// with `max_page_count`, as a full disk caps it), told as where space is missing and that the
    /// same command continues; the batch is not half stored, and once space is back it goes in.
    @Test func aFullDiskIsNamedWithTheWorkDirectoryAndTheBatchGoesInOnceThereIsSpace() throws {
        let records = (0..<200).map { i in
            TestSupport.record("r\(i)", pairs: [(String(repeating: "What is written on sign \(i)? ", count: 20), "Sign \(i)")])
        }
        let items = records.enumerated().map { i, record -> JobStore.IngestItem in
            var record = record
            record.position = i
            return .record(record, problem: nil)
        }
        let pages = try store.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0 }
        try store.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = \(pages + 2)") }
        var caught: (any Error)?
        do { try store.ingest(items, stages: pipeline.graph.stages) } catch { caught = error }
        let error = try #require(caught)
        #expect((error as? DatabaseError)?.resultCode == .SQLITE_FULL)
        let work = dir.path
        let text = try #require(StoreTrouble.explanation(of: error, workDirectory: work))
        #expect(text.hasPrefix("the disk holding \(work) is full ("))
        #expect(text.contains("run the same command again"))
        #expect(try store.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM record") } == 0)

        try store.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
        try store.ingest(items, stages: pipeline.graph.stages)
        #expect(try store.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM record") } == 200)
        #expect(try store.countersDisagreement() == [])
        // Errors that are not the store's own stay as they are.
        #expect(StoreTrouble.explanation(of: CocoaError(.fileNoSuchFile), workDirectory: work) == nil)
        #expect(StoreTrouble.bytesForPeople(0) == "0 bytes")
        #expect(StoreTrouble.bytesForPeople(1_234_567_890) == "1.2 GB")
    }

    @Test func anIDEqualToAnotherRecordsFallbackKeyStillIngests() throws {
        // "x#2" is a real id, then "x" twice: the second "x" would fall back to "x#2".
        var records = ["x#2", "x", "x"].map { TestSupport.record($0, pairs: [("What is it?", "A cup")]) }
        for i in records.indices { records[i].position = i }
        try store.ingest(records.map { .record($0, problem: nil) }, stages: pipeline.graph.stages)
        let keys = try ["x#2", "x", "x#2#2"].map { try store.detail(id: $0).key }
        #expect(keys == ["x#2", "x", "x#2#2"])
        #expect(try store.details(id: "x").map(\.key) == ["x", "x#2#2"], "the record whose own id is x#2 is not an x")
        #expect(try store.status().records == 3)
    }

    @Test func tasksMoveThroughStagesAndDependentsWait() async throws {
        var a = TestSupport.record("a", pairs: [("q", "x")])
        a.position = 0
        var b = TestSupport.record("b", pairs: [("q", "y")])
        b.position = 1
        var text = TestSupport.record("t", pairs: [("q", "z")], image: nil)
        text.position = 2
        text.skipReason = "no image"
        try store.ingest(
            [
                .record(a, problem: nil), .record(b, problem: nil), .record(text, problem: nil),
                .problem(position: 3, byteOffset: 99, line: 4, recordID: nil, reason: "bad JSON")
            ], stages: pipeline.graph.stages)
        #expect(try store.counts(stage: "statements") == [.pending: 2, .skipped: 1, .failed: 1])
        #expect(try store.counts(stage: "extraction") == [.waiting: 2, .skipped: 1, .failed: 1])

        let extraction = try #require(pipeline.stage(named: "extraction"))
        let statements = try #require(pipeline.stage(named: "statements"))
        #expect(try await store.claim(stage: extraction.node, limit: 10).isEmpty, "extraction waits for statements")
        let claimed = try await store.claim(stage: statements.node, limit: 10)
        #expect(claimed.map(\.recordKey) == ["a", "b"])
        #expect(try store.counts(stage: "statements")[.running] == 2)

        try await store.commit([done(claimed[0], "A is x.")], graph: pipeline.graph)
        try await store.commit(
            [
                TaskResult(
                    recordKey: "b", stage: "statements", outcome: .failed(reason: "HTTP 400: bad"), request: nil, startedAt: 0,
                    finishedAt: 1)
            ], graph: pipeline.graph)
        #expect(try store.counts(stage: "extraction") == [.pending: 1, .failed: 2, .skipped: 1])

        let next = try await store.claim(stage: extraction.node, limit: 10)
        #expect(next.map(\.recordKey) == ["a"])
        #expect(next.first?.upstream == ["statements": "A is x."])

        // A committed result is final: committing it again changes nothing, by id or by key.
        try await store.commit([done(next[0], "desc")], graph: pipeline.graph)
        try await store.commit([done(next[0], "other")], graph: pipeline.graph)
        try await store.commit([done(next[0], "by key", byKey: true)], graph: pipeline.graph)
        #expect(try store.detail(id: "a").tasks.last?.output == "desc")

        let status = try store.status()
        #expect(
            status.failures.contains {
                $0.kind == .upstreamFailed
                    && $0.examples.contains { $0.contains("needs statements, which failed: HTTP 400: bad") }
            })
        #expect(status.inputProblems == 1)
    }

    /// A stage that needs two others becomes pending only when both are done, whichever finishes
    /// last; a stage that needs one becomes pending as soon as that one is done.
    @Test func aStageWithTwoNeedsWaitsForBoth() async throws {
        let fan = try Pipeline.parse(
            yaml: """
                name: fan-in
                teacher: {model: m}
                image: {mode: exact, width: 512, height: 512}
                export: {instruction: Describe., description_stage: extraction, statements_stage: statements}
                stages:
                  - {name: caption, image: true, max_tokens: 64, output: text, template: "Caption."}
                  - {name: statements, image: false, max_tokens: 64, output: statements, template: "{{#each pairs}}{{question}} {{answer}}{{/each}}"}
                  - {name: extraction, needs: [caption, statements], image: true, max_tokens: 64, output: text, template: "{{statements}}"}
                  - {name: hint, needs: [statements], image: false, max_tokens: 64, output: text, template: "{{statements}}"}
                """)
        var a = TestSupport.record("a", pairs: [("q", "x")])
        a.position = 0
        try store.ingest([.record(a, problem: nil)], stages: fan.graph.stages)
        func stage(_ name: String) throws -> Stage { try #require(fan.stage(named: name)) }
        #expect(try store.counts(stage: "extraction") == [.waiting: 1])

        let statements = try await store.claim(stage: try stage("statements").node, limit: 1)
        try await store.commit([done(statements[0], "A is x.", byKey: true)], graph: fan.graph)
        #expect(try store.counts(stage: "hint") == [.pending: 1], "one need, done")
        #expect(try store.counts(stage: "extraction") == [.waiting: 1], "caption is not done yet")

        let caption = try await store.claim(stage: try stage("caption").node, limit: 1)
        try await store.commit([done(caption[0], "A photo.")], graph: fan.graph)
        #expect(try store.counts(stage: "extraction") == [.pending: 1])
        let extraction = try await store.claim(stage: try stage("extraction").node, limit: 1)
        #expect(extraction.first?.upstream == ["caption": "A photo.", "statements": "A is x."])
    }

    /// Outputs are written once, in their own table: a failed request stays readable until the task
    /// is retried, a late commit for a task that is no longer running leaves nothing behind, and
    /// every output row belongs to exactly one task.
    @Test func outputsAreWrittenOnceAndNeverOrphaned() async throws {
        var a = TestSupport.record("a", pairs: [("q", "x")])
        a.position = 0
        try store.ingest([.record(a, problem: nil)], stages: pipeline.graph.stages)
        let statements = try #require(pipeline.stage(named: "statements"))
        func outputRows() async throws -> (rows: Int, pointedAt: Int) {
            try await store.pool.read { db in
                (
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM task_output") ?? -1,
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM task t JOIN task_output o ON o.id = t.output_id") ?? -1
                )
            }
        }

        let first = try await store.claim(stage: statements.node, limit: 1)
        try await store.commit(
            [
                TaskResult(
                    recordKey: "a", stage: "statements", outcome: .failed(reason: "HTTP 400: no"),
                    request: "{\"try\": 1}", startedAt: 0, finishedAt: 1)
            ], graph: pipeline.graph)
        #expect(try store.detail(id: "a").tasks.first?.request == "{\"try\": 1}", "the failed request is kept")
        #expect(try await outputRows() == (1, 1))

        #expect(try store.retry(stage: nil, graph: pipeline.graph).returned == 2, "statements, and extraction that failed with it")
        #expect(try store.detail(id: "a").tasks.first?.request == nil)
        #expect(try await outputRows() == (0, 0), "a retried failure's request goes with it")

        // The first claim's result arrives after the task was released and claimed again.
        #expect(try store.releaseAbandoned() == 0)
        let second = try await store.claim(stage: statements.node, limit: 1)
        #expect(second.count == 1)
        #expect(try store.detail(id: "a").tasks.first?.attempts == 2, "each claim counts an attempt")
        try await store.commit([done(second[0], "A is x.")], graph: pipeline.graph)
        try await store.commit([done(first[0], "late")], graph: pipeline.graph)
        #expect(try store.detail(id: "a").tasks.first?.output == "A is x.")
        #expect(try await outputRows() == (1, 1), "the late result left no row")
        #expect(try store.status().stages.first?.promptTokens == 1)
    }

    /// Long texts are stored compressed (record pairs, and a task's request, output and parsed
    /// output in one frame) and read back exactly by every reader; short ones stay plain text.
    /// A record's row is written from bytes made on the ingest's workers; what it holds is the
    /// JSON the general JSON writer makes of the same record, whatever its strings hold.
    @Test func aRecordRowHoldsTheJSONOfItsImagesAndPairs() throws {
        let hostile = "Say \"hi\" \\ back\n\t\u{1}\u{7F} — Café 日本語 🙂 <image>"
        let long = String(repeating: "What is on the second shelf from the top, left of the clock? ", count: 8)
        let records = [
            CorpusRecord(
                position: 0, sourceID: "quotes", images: ["a \"b\".jpg", "日本/c.png"], pairs: [QAPair(question: hostile, answer: hostile)]),
            CorpusRecord(
                position: 1, sourceID: "empty strings", images: [""], pairs: [QAPair(question: "", answer: "")], source: "", metadata: ""),
            CorpusRecord(
                position: 2, sourceID: "long", images: ["x.jpg"],
                pairs: [QAPair(question: long, answer: "Jars"), QAPair(question: "Why?", answer: long)]),
            CorpusRecord(position: 3, sourceID: "text only", images: [], pairs: [], skipReason: "no image")
        ]
        try store.ingest(records.map { .record($0, problem: nil) }, stages: pipeline.graph.stages)
        let rows = try store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT images, pairs, typeof(pairs) AS form, source, metadata FROM record ORDER BY position")
        }
        for (record, row) in zip(records, rows) {
            let pairs = JSONValue.array(
                record.pairs.map { .object([("question", .string($0.question)), ("answer", .string($0.answer))]) })
            #expect(try StoredTexts.pairsText(row["pairs"]) == pairs.jsonText, "\(record.displayID)")
            #expect(row["images"] as String == JSONValue.array(record.images.map { .string($0) }).jsonText, "\(record.displayID)")
            #expect(row["source"] as String? == record.source && row["metadata"] as String? == record.metadata, "\(record.displayID)")
        }
        #expect(
            rows.map { $0["form"] as String } == ["blob", "text", "blob", "text"],
            "pairs that repeat themselves are worth a frame, short ones not")
        #expect(rows[1]["source"] as String? == "", "an empty string stays a string, not NULL")
    }

    @Test func longTextsAreStoredCompressedAndReadBackExactly() async throws {
        let answer = """
            The menu board above the counter lists "Flat white — 3,80 €" and "Café crème", \
            and a handwritten note says: closed on Mondays.\nA second line\twith a tab and 日本語.
            """
        var a = TestSupport.record("a", pairs: [("What does the board say?", answer), ("Is it open?", "No")])
        a.position = 0
        var b = TestSupport.record("b", pairs: [("q", "x")])
        b.position = 1
        try store.ingest([.record(a, problem: nil), .record(b, problem: nil)], stages: pipeline.graph.stages)
        let statements = try #require(pipeline.stage(named: "statements"))
        let extraction = try #require(pipeline.stage(named: "extraction"))

        let claimed = try await store.claim(stage: statements.node, limit: 2)
        #expect(claimed.map(\.record.pairs) == [a.pairs, b.pairs], "pairs read back from either form")
        let statementLines = ["The board lists \"Flat white — 3,80 €\" and \"Café crème\".", "It is closed on Mondays; 日本語."]
        let long = statementLines.joined(separator: "\n")
        var results = [done(claimed[0], long), done(claimed[1], "B is x.")]
        if case var .done(completion) = results[0].outcome {
            completion.parsed = JSONValue.arrayText(statementLines)
            results[0].outcome = .done(completion)
        }
        try await store.commit(results, graph: pipeline.graph)

        let stored = try await store.pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT r.key, typeof(r.pairs) AS pairs, o.request IS NULL AND o.output IS NULL AND o.parsed IS NULL AS plain_empty,
                           typeof(o.packed) AS packed
                    FROM record r JOIN task t ON t.record_key = r.key AND t.stage = 'statements' JOIN task_output o ON o.id = t.output_id
                    ORDER BY r.position
                    """
            ).map {
                "\($0["key"] as String) pairs:\($0["pairs"] as String) plain-empty:\($0["plain_empty"] as Bool) packed:\($0["packed"] as String)"
            }
        }
        #expect(stored == ["a pairs:blob plain-empty:true packed:blob", "b pairs:text plain-empty:false packed:null"])

        let detail = try store.detail(id: "a").tasks[0]
        #expect(detail.output == long && detail.parsed == JSONValue.arrayText(statementLines))
        #expect(detail.request == nil, "a done task's request is rendered again when shown, not stored")
        #expect(try store.detail(id: "b").tasks[0].output == "B is x.")
        let downstream = try await store.claim(stage: extraction.node, limit: 2)
        #expect(downstream.map { $0.upstream["statements"] } == [long, "B is x."], "the next stage's prompt sees the texts as written")

        // A damaged frame is an error that names the column, not a wrong text.
        try await store.pool.write { db in
            try db.execute(sql: "UPDATE task_output SET packed = x'28b52ffd0000' WHERE packed IS NOT NULL")
        }
        #expect(throws: DatabaseError.self) { try store.detail(id: "a") }
        do {
            _ = try store.detail(id: "a")
        } catch {
            #expect("\(error)".contains("task_output.packed"))
        }
    }

    /// A store written before outputs had their own table (schema v4) is upgraded when any command
    /// opens it, read-only ones included, and keeps every output, request and usage figure.
    @Test func aStoreFromBeforeTheOutputTableIsUpgradedWithItsOutputs() async throws {
        let path = try await oldStore(
            "v4.sqlite", upTo: "v4: teacher attempts",
            rows: """
                INSERT INTO run (id, pipeline_name, pipeline_hash, pipeline_json, input_path, input_size, input_mtime, images_root,
                                 teacher_url, teacher_model, vxt_version, created_at, ingest_complete, record_count)
                VALUES (1, 'paper', 'h', '{}', 'in.json', 1, 0, '.', 'mock', 'm', 'old', 0, 1, 2);
                INSERT INTO record (key, position, images, pairs) VALUES ('a', 0, '["a.jpg"]', '[{"question": "q", "answer": "x"}]'),
                                                                         ('b', 1, '["b.jpg"]', '[{"question": "q", "answer": "y"}]');
                INSERT INTO task (record_key, stage, state, attempts, request, output, parsed, note, finish_reason, prompt_tokens,
                                  completion_tokens, model, endpoint, mock, started_at, finished_at, teacher_attempts)
                VALUES ('a', 'statements', 'done', 1, '{"r": 1}', 'A is x.', '["A is x."]', 'by rule', 'stop', 10, 5, 'm', 'e', 0, 1, 2, 3),
                       ('a', 'extraction', 'pending', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
                INSERT INTO task (record_key, stage, state, attempts, last_error, request) VALUES ('b', 'statements', 'failed', 1, 'HTTP 400: no', '{"r": 2}');
                INSERT INTO task (record_key, stage, state, last_error) VALUES ('b', 'extraction', 'failed', 'needs statements, which failed');
                """)

        let upgraded = try JobStore(path: path, readOnly: true)
        let a = try upgraded.detail(id: "a")
        #expect(a.tasks.map(\.stage) == ["statements", "extraction"])
        #expect(a.tasks[0].output == "A is x." && a.tasks[0].parsed == "[\"A is x.\"]" && a.tasks[0].request == "{\"r\": 1}")
        #expect(a.tasks[0].promptTokens == 10 && a.tasks[0].completionTokens == 5 && a.tasks[0].finishReason == "stop")
        #expect(a.tasks[1].state == .pending && a.tasks[1].output == nil)
        #expect(try upgraded.detail(id: "b").tasks.first?.request == "{\"r\": 2}")
        let status = try upgraded.status()
        #expect(status.endpoints.first?.attempts == 3)
        #expect(status.stages.first { $0.stage == "statements" }?.completionTokens == 5)
        #expect(status.notes.map(\.reason) == ["by rule"])

        // Work goes on in the upgraded store: the pending extraction sees its upstream output.
        let store = try JobStore(path: path)
        let claimed = try await store.claim(stage: try #require(pipeline.stage(named: "extraction")).node, limit: 5)
        #expect(claimed.map(\.recordKey) == ["a"])
        #expect(claimed.first?.upstream == ["statements": "A is x."])
    }

    /// v10 widens the task state CHECK in place (no table copy): an older store's tasks can be
    /// batched afterwards, other states are still refused, and the file passes integrity_check.
    @Test func aStoreFromBeforeBatchFilesTakesTheBatchedState() async throws {
        let path = try await oldStore(
            "v9.sqlite", upTo: "v9: counters kept by triggers",
            rows: """
                INSERT INTO record (key, position, images, pairs) VALUES ('a', 0, '["a.jpg"]', '[{"question": "q", "answer": "x"}]');
                INSERT INTO task (record_key, stage, state) VALUES ('a', 'statements', 'pending');
                """)
        let old = try DatabaseQueue(path: path)
        try await old.write { db in
            #expect(throws: DatabaseError.self) { try db.execute(sql: "UPDATE task SET state = 'batched'") }
        }
        try old.close()
        let store = try JobStore(path: path)
        let claimed = try await store.claim(stage: try #require(pipeline.stage(named: "statements")).node, limit: 5)
        let row = BatchRequestRow(taskID: try #require(claimed.first).taskID, customID: "a|statements|0123456789abcdef", logged: "{}")
        try await store.markBatched([row], file: "f.jsonl")
        #expect(try store.counts(stage: "statements") == [.batched: 1])
        #expect(try store.countersDisagreement() == [])
        try await store.pool.write { db in
            #expect(throws: DatabaseError.self) { try db.execute(sql: "UPDATE task SET state = 'lost'") }
            let check = try String.fetchOne(db, sql: "PRAGMA integrity_check")
            #expect(check == "ok")
        }
    }

    /// v14 counts failures by stage, kind and folder from the rows an older store holds; from then
    /// on triggers keep the counts as failures are committed, retried and fail again, and `status`
    /// lists the same groups a count of the rows gives, unknown kinds under their own name.
    @Test func failuresAreCountedByKindAndFolderFromAnOlderStoreOn() async throws {
        let path = try await oldStore(
            "v13.sqlite", upTo: "v13: records found by id through their key",
            rows: """
                INSERT INTO record (key, position, source, images, pairs) VALUES
                    ('a', 0, 'coco', '["coco/a.jpg"]', '[]'), ('b', 1, 'coco', '["coco/b.jpg"]', '[]'),
                    ('c', 2, 'gqa', '["gqa/c.jpg"]', '[]'), ('d', 3, NULL, '["d.jpg"]', '[]');
                INSERT INTO task (record_key, stage, state, last_error, failure_kind) VALUES
                    ('a', 'statements', 'failed', 'input: image file not found: coco/a.jpg', 'image_missing'),
                    ('b', 'statements', 'failed', 'input: image file not found: coco/b.jpg', 'image_missing'),
                    ('c', 'statements', 'failed', 'input: image file not found: gqa/c.jpg', 'image_missing'),
                    ('d', 'statements', 'failed', 'HTTP 400: context too long', 'http_status'),
                    ('a', 'extraction', 'failed', 'something new', 'a_kind_from_a_newer_vxt'),
                    ('b', 'extraction', 'failed', 'before kinds', NULL),
                    ('c', 'extraction', 'pending', NULL, NULL),
                    ('d', 'extraction', 'waiting', NULL, NULL);
                """)

        let store = try JobStore(path: path)
        #expect(try store.countersDisagreement() == [])
        var groups = try store.status().failures
        #expect(
            groups.map { "\($0.stage) \($0.kind.rawValue) \($0.count)" } == [
                "statements image_missing 3", "extraction other 1", "extraction other 1", "statements http_status 1"
            ])
        #expect(groups[0].folders.map { "\($0.folder) \($0.count)" } == ["coco 2", "gqa 1"])
        #expect(groups[0].examples.first == "a: input: image file not found: coco/a.jpg")
        #expect(Set(groups[1...2].flatMap(\.examples)) == ["a: something new", "b: before kinds"], "each kind finds its own examples")
        #expect(groups[3].folders.isEmpty, "a record without a folder counts, under no folder")

        // A pending task fails, a failure is retried, the retried task fails with another kind and
        // fails the task waiting on it.
        let graph = pipeline.graph
        let claimed = try await store.claim(stage: try #require(pipeline.stage(named: "extraction")).node, limit: 5)
        #expect(claimed.map(\.recordKey) == ["c"])
        try await store.commit([failed(claimed[0], "transport error (curl 28)", kind: .timeout)], graph: graph)
        #expect(try store.countersDisagreement() == [])
        _ = try store.retry(stage: "statements", kinds: [.httpStatus], graph: graph)
        #expect(try store.countersDisagreement() == [])
        let again = try await store.claim(stage: try #require(pipeline.stage(named: "statements")).node, limit: 5)
        #expect(again.map(\.recordKey) == ["d"])
        try await store.commit([failed(again[0], "statements: 0 lines for 1 question", kind: .statementsUnusable)], graph: graph)
        #expect(try store.countersDisagreement() == [])
        groups = try store.status().failures
        #expect(
            groups.map { "\($0.stage) \($0.kind.rawValue) \($0.count)" } == [
                "statements image_missing 3", "extraction other 1", "extraction other 1", "extraction timeout 1",
                "extraction upstream_failed 1", "statements statements_unusable 1"
            ])
        #expect(groups[3].folders.map(\.folder) == ["gqa"])
    }

    @Test func abandonedRunningTasksReturnToPending() async throws {
        var a = TestSupport.record("a", pairs: [("q", "x")])
        a.position = 0
        try store.ingest([.record(a, problem: nil)], stages: pipeline.graph.stages)
        _ = try await store.claim(stage: try #require(pipeline.stage(named: "statements")).node, limit: 1)
        #expect(try store.counts(stage: "statements")[.running] == 1)
        #expect(try store.releaseAbandoned() == 1)
        #expect(try store.counts(stage: "statements") == [.pending: 1])
    }

    @Test func duplicateIdsAreKeptApartDeterministically() throws {
        var first = TestSupport.record("dup", pairs: [("q", "1")])
        first.position = 0
        var second = TestSupport.record("dup", pairs: [("q", "2")])
        second.position = 1
        try store.ingest([.record(first, problem: nil), .record(second, problem: nil)], stages: pipeline.graph.stages)
        #expect(try store.detail(id: "dup").record.pairs[0].answer == "1")
        #expect(try store.detail(id: "dup#1").record.pairs[0].answer == "2")
        #expect(try store.details(id: "dup").map(\.key) == ["dup", "dup#1"])
        // Found through the key's index, not by reading every record.
        let plan = try store.pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT key FROM record WHERE \(JobStore.recordsOfID)", arguments: ["dup"])
                .map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("USING INDEX sqlite_autoindex_record_1 (key>? AND key<?)") }, "\(plan)")
    }

    /// Inserts ignore conflicts (so that SQLite needs no statement journal): a record stored twice
    /// at one position must still fail its batch, loudly, and leave the batch before it whole.
    @Test func aPositionIngestedTwiceFailsItsBatchAndSaysWhich() throws {
        var first = TestSupport.record("a", pairs: [("q", "1")])
        first.position = 0
        try store.ingest([.record(first, problem: nil)], stages: pipeline.graph.stages)
        var again = TestSupport.record("b", pairs: [("q", "2")])
        again.position = 0
        var next = TestSupport.record("c", pairs: [("q", "3")])
        next.position = 1
        do {
            try store.ingest([.record(next, problem: nil), .record(again, problem: nil)], stages: pipeline.graph.stages)
            Issue.record("a second record at position 0 was accepted")
        } catch {
            #expect("\(error)".contains("record at position 0 is stored already, as a"), "\(error)")
        }
        let counts = try store.pool.read { db in
            try (Int.fetchOne(db, sql: "SELECT COUNT(*) FROM record") ?? -1, Int.fetchOne(db, sql: "SELECT COUNT(*) FROM task") ?? -1)
        }
        #expect(counts == (1, pipeline.graph.stages.count), "the failed batch is rolled back whole")
        #expect(try store.status().records == 1)
    }

    /// The rate is counted up to the moment the status is read: three tasks done ten seconds apart
    /// read as 0.1 per second half a minute later, and as none an hour later, when the run that did
    /// them has long stopped; when the last was done is kept either way.
    @Test func theRateIsCountedUpToNowSoAStoppedRunHasNone() async throws {
        var records: [JobStore.IngestItem] = []
        for (i, id) in ["a", "b", "c"].enumerated() {
            var record = TestSupport.record(id, pairs: [("q", "x")])
            record.position = i
            records.append(.record(record, problem: nil))
        }
        try store.ingest(records, stages: pipeline.graph.stages)
        let statements = try #require(pipeline.stage(named: "statements"))
        let start = 1_800_000_000.0
        for (i, task) in try await store.claim(stage: statements.node, limit: 10).enumerated() {
            var result = done(task, "A is x.")
            result.startedAt = start + Double(i) * 10 - 5
            result.finishedAt = start + Double(i) * 10
            try await store.commit([result], graph: pipeline.graph)
        }
        let soon = try #require(try store.status(now: start + 30).stages.first { $0.stage == "statements" })
        #expect(abs(soon.recentRate - 0.1) < 1e-9)
        #expect(soon.lastDoneAt == start + 20)
        let later = try #require(try store.status(now: start + 3_600).stages.first { $0.stage == "statements" })
        #expect(later.recentRate == 0)
        #expect(later.lastDoneAt == start + 20)
    }

    /// `vxt status` asks whether a run holds the directory by taking a shared lock for a moment; a
    /// lock held by a run reads as held, a released one as free, and a run that starts during the
    /// moment of a probe still gets its lock.
    @Test func aHeldLockIsSeenWithoutBeingTaken() throws {
        #expect(!WorkDirectoryLock.isHeld(workDirectory: dir.path), "no lock file yet")
        var lock: WorkDirectoryLock? = try WorkDirectoryLock(workDirectory: dir.path, stem: "shard-0001-of-0004")
        #expect(WorkDirectoryLock.isHeld(workDirectory: dir.path), "a shard's lock counts")
        lock = nil
        #expect(!WorkDirectoryLock.isHeld(workDirectory: dir.path))
        // A probe's shared lock, held as a run starts: the run waits it out instead of failing.
        let probe = open(dir.appendingPathComponent("vxt.lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        defer { close(probe) }
        #expect(flock(probe, LOCK_SH | LOCK_NB) == 0)
        let release = Thread {
            usleep(50_000)
            flock(probe, LOCK_UN)
        }
        release.start()
        let run = try WorkDirectoryLock(workDirectory: dir.path)
        #expect(WorkDirectoryLock.isHeld(workDirectory: dir.path))
        _ = run
        _ = lock
    }

    @Test func aSecondRunOnTheSameWorkDirectoryIsRefused() throws {
        let lock = try WorkDirectoryLock(workDirectory: dir.path)
        #expect(throws: WorkDirectoryLock.Busy.self) { try WorkDirectoryLock(workDirectory: dir.path) }
        _ = lock
    }

    /// A refused lock closes its descriptor once. Closed twice, the number may already belong to
    /// a file another thread just opened (a store, a socket), which is then closed under it: a
    /// shard worker trying locks in turn lost its store's file that way.
    @Test func aRefusedLockClosesOnlyItsOwnDescriptor() throws {
        let lock = try WorkDirectoryLock(workDirectory: dir.path)
        let witness = dir.appendingPathComponent("witness").path
        try Data("witness".utf8).write(to: URL(fileURLWithPath: witness))
        final class Shared: @unchecked Sendable {
            let lock = NSLock()
            var stop = false
            var damaged = 0
        }
        let shared = Shared()
        // Another thread opens and reads a file all the while, so that descriptor numbers freed
        // by the refused attempts are taken again at once.
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 16)
            while !shared.lock.withLock({ shared.stop }) {
                let fd = open(witness, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { continue }
                for _ in 0..<8 where pread(fd, &buffer, buffer.count, 0) != 7 {
                    shared.lock.withLock { shared.damaged += 1 }
                }
                close(fd)
            }
        }
        reader.start()
        for _ in 0..<5_000 {
            #expect(throws: WorkDirectoryLock.Busy.self) { try WorkDirectoryLock(workDirectory: dir.path, retries: 0) }
        }
        shared.lock.withLock { shared.stop = true }
        while !reader.isFinished { usleep(1_000) }
        #expect(shared.lock.withLock { shared.damaged } == 0, "another thread's file was closed or swapped under it")
        _ = lock
    }
}
