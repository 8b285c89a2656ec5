import Foundation
import GRDB
import Testing
@testable import VisualExtraction

/// `vxt audit` as a user runs it: a clean run has no flags; after a teacher's bad outputs (written
/// into the store the way a real run would have stored them) each is flagged, the export can
/// leave them out, and the HTML report renders in a real browser with one card per sample.
// A hang fails the suite instead of holding CI: generous, since no test bounds real time otherwise.
@Suite(.serialized, .timeLimit(.minutes(15))) struct AuditEndToEndTests {
    /// Realistic bad outputs of a VLM teacher, by the flag each must raise.
    static let badOutputs: [(key: String, flag: AuditFlag, text: String, finish: String)] = [
        (
            "astronaut-0001", .truncated,
            "The image shows a smiling astronaut in a bright orange spacesuit posing in front of an American flag. She holds a white helmet with a dark visor in her left arm. In the background on the right stands a model of the Space Shuttle with its white body and black nose, and the flag of the United States hangs behind her. Mission patches are visible on the suit's chest and the",
            "length"
        ),
        ("camera-0002", .refusal, "I'm sorry, but I can't help with identifying the person in this photo.", "stop"),
        (
            "chelsea-0003", .metaLeak,
            "A tabby cat with green eyes looks into the camera. As mentioned in the statement, the animal shown in the picture is a tabby cat, and its eyes are green.",
            "stop"
        ),
        (
            "hubble-0006", .repetition,
            "The image shows hundreds of distant galaxies scattered across a black sky, a deep field. "
                + String(repeating: "There are many galaxies of different shapes and colors in the sky. ", count: 8), "stop"
        ),
        ("retina-0007", .wrongLanguage, "这是一张眼底照片。明亮的视盘位于图像的左侧，血管从视盘向外分支，背景呈橙红色。", "stop"),
        (
            "rocket-0008", .missingStatements,
            "A tall structure stands on a concrete pad under a clear sky; gantries and cables surround it.", "stop"
        )
    ]

    /// Stores `badOutputs` as a run stores a description (its text plain, which readers take as
    /// well as a packed frame); `finishedLater` makes them newer than their audit.
    static func storeBadOutputs(_ db: Database, finishedLater: Bool = false) throws {
        for bad in badOutputs {
            try db.execute(
                sql: """
                    UPDATE task_output SET output = ?, packed = NULL WHERE id = (SELECT output_id FROM task WHERE record_key = ? AND stage = 'extraction')
                    """, arguments: [bad.text, bad.key])
            try db.execute(
                sql: "UPDATE task SET finish_reason = ?, finished_at = finished_at + ? WHERE record_key = ? AND stage = 'extraction'",
                arguments: [bad.finish, finishedLater ? 1 : 0, bad.key])
        }
    }

    static func chromium() -> String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// The audit hands windows of input positions to the cores; the findings are the same
    /// whether each window holds one record (ten windows checked side by side, saved in
    /// whatever order they finish) or all of them, bad outputs and flags included.
    @Test func findingsDoNotDependOnTheAuditsWindows() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = dir.appendingPathComponent("one")
        let run = try await TestSupport.runVXT([
            "run", "pipelines/clean.yaml", "--input", "samples/llava_sample.json", "--images", "samples/images", "--work", work.path
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let queue = try DatabaseQueue(path: work.appendingPathComponent("vxt.sqlite").path)
        try await queue.write { db in try Self.storeBadOutputs(db) }
        try queue.close()
        let copy = dir.appendingPathComponent("all")
        try FileManager.default.copyItem(at: work, to: copy)

        func audited(_ folder: URL, batchSize: Int) throws -> [String] {
            let store = try JobStore.open(workDirectory: folder.path, readOnly: false)
            let outcome = try Auditor(store: store).run(batchSize: batchSize)
            #expect(outcome.audited == 10)
            return try store.pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT record_key, stamp, words, statements, coverage, missing, questions_answered, questions_asked, hex(signature)
                        FROM audit_sample ORDER BY record_key
                        """
                ).map { "\($0)" }
                    + Row.fetchAll(db, sql: "SELECT record_key, flag, evidence FROM audit_flag ORDER BY record_key, flag").map { "\($0)" }
            }
        }
        let oneByOne = try audited(work, batchSize: 1)
        let together = try audited(copy, batchSize: 5000)
        #expect(oneByOne.count > 10 && oneByOne.contains { $0.contains("repetition") }, "\(oneByOne)")
        #expect(oneByOne == together)

        // A window reads its own records by position; walking every done task of the stage for
        // each window made the audit of a 665k-record store cost windows × tasks.
        for sql in [JobStore.samplesToAuditSQL(), JobStore.auditStampsSQL] {
            let plan = try await JobStore.open(workDirectory: work.path).pool.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: ["extraction", "statements", "", 0, 5])
                    .map { $0["detail"] as String }
            }
            #expect(
                plan.first?.hasPrefix("SEARCH r USING INDEX") == true && plan.first?.contains("position>? AND position<?") == true,
                "\(plan)")
            #expect(!plan.contains { $0.contains("task_by_state") || $0.contains("TEMP B-TREE") }, "\(plan)")
        }
    }

    @Test func cleanRunHasNoFlagsThenBadOutputsAreCaughtFilteredAndReported() async throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let run = try await TestSupport.runVXT([
            "run", "pipelines/clean.yaml", "--input", "samples/llava_sample.json", "--images", "samples/images", "--work", work.path
        ])
        #expect(run.status == 0, "\(run.stderr)")

        // A clean run: every sample audited, none flagged, every question answerable from its description.
        let first = try await TestSupport.runVXT(["audit", "--work", work.path, "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let clean = try JSONDecoder().decode(AuditSummary.self, from: Data(first.stdout.utf8))
        #expect(clean.samples == 10)
        #expect(clean.flagged == 0, "\(clean.flags)")
        #expect(clean.sources.allSatisfy { $0.answerableShare == 1 })

        // The teacher's bad answers, stored as a run stores them (a newer finish time: audited again).
        let queue = try DatabaseQueue(path: work.appendingPathComponent("vxt.sqlite").path)
        try await queue.write { db in
            try Self.storeBadOutputs(db, finishedLater: true)
            // A second copy of the china description: a near-duplicate of the first.
            let extraction = "(SELECT output_id FROM task WHERE record_key = ? AND stage = 'extraction')"
            try db.execute(
                sql:
                    "UPDATE task_output SET (output, packed) = (SELECT output, packed FROM task_output WHERE id = \(extraction)) WHERE id = \(extraction)",
                arguments: ["china-0009", "flower-0010"])
            try db.execute(sql: "UPDATE task SET finished_at = finished_at + 1 WHERE record_key = 'flower-0010' AND stage = 'extraction'")
        }
        let html = work.appendingPathComponent("report.html")
        let second = try await TestSupport.runVXT(["audit", "--work", work.path, "--json", "--html", html.path])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("report: \(html.path)"))
        let summary = try JSONDecoder().decode(AuditSummary.self, from: Data(second.stdout.utf8))
        let store = try JobStore.open(workDirectory: work.path)
        let flags = try await store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT record_key, flag FROM audit_flag").map {
                "\($0["record_key"] as String) \($0["flag"] as String)"
            }
        }
        for bad in Self.badOutputs {
            #expect(flags.contains("\(bad.key) \(bad.flag.rawValue)"), "\(bad.key) should be \(bad.flag): \(flags)")
        }
        #expect(flags.contains("flower-0010 near_duplicate"))
        #expect(
            !flags.contains { $0.hasPrefix("coffee-0004 ") || $0.hasPrefix("china-0009 ") || $0.hasPrefix("5 ") },
            "untouched samples stay clean: \(flags)")
        #expect(summary.flagged == 7)

        // Incremental: nothing changed, nothing re-checked.
        let third = try await TestSupport.runVXT(["audit", "--work", work.path])
        #expect(third.stderr.contains("audited 0 new or changed samples"), "\(third.stderr)")

        // Export leaves flagged samples out on request and carries the flags in JSONL.
        let jsonl = work.appendingPathComponent("all.jsonl")
        #expect(try await TestSupport.runVXT(["export", "--work", work.path, "--format", "jsonl", "--out", jsonl.path]).status == 0)
        let rows = try TestSupport.jsonLines(jsonl)
        #expect(rows.count == 10)
        let refusal = rows.first { $0["id"]?.stringValue == "camera-0002" }
        #expect(
            refusal?["audit"]?["flags"] == .array([.string("refusal")]) || refusal?["audit"]?["flags"]?.jsonText.contains("refusal") == true
        )
        let filtered = work.appendingPathComponent("kept.json")
        let export = try await TestSupport.runVXT([
            "export", "--work", work.path, "--format", "llava", "--out", filtered.path,
            "--exclude-flags", "truncated,refusal,meta_leak,repetition,wrong_language,near_duplicate", "--min-coverage", "0.9"
        ])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stderr.contains("7 left out by the audit filter"), "\(export.stderr)")
        guard case let .array(kept) = try JSONParser.parse(String(contentsOf: filtered, encoding: .utf8)) else {
            Issue.record("llava export is not an array"); return
        }
        #expect(kept.compactMap { $0["id"]?.stringValue }.sorted() == ["5", "china-0009", "coffee-0004"])
        let badFlag = try await TestSupport.runVXT([
            "export", "--work", work.path, "--format", "llava", "--out", filtered.path, "--exclude-flags", "trunc"
        ])
        #expect(badFlag.status != 0 && badFlag.stderr.contains("unknown audit flag \"trunc\""))

        // The report in a real browser: loads without script errors, one card per sample.
        let page = try String(contentsOf: html, encoding: .utf8)
        #expect(page.components(separatedBy: "<article class=\"card\"").count - 1 == 10)
        #expect(!page.contains("src=\"http"), "self-contained: no external assets")
        guard let chromium = Self.chromium() else {
            Issue.record("chromium is not installed: .ci/run installs it (apt-get install chromium)")
            return
        }
        let screenshot = work.appendingPathComponent("report.png")
        let dom = try await Self.runBrowser(chromium, ["--dump-dom", html.absoluteString], in: work)
        #expect(dom.contains("data-status=\"ready\""), "the page's script ran without errors")
        #expect(dom.contains("data-cards=\"10\""))
        #expect(dom.contains("<div id=\"errors\"></div>"))
        let filteredDOM = try await Self.runBrowser(chromium, ["--dump-dom", html.absoluteString + "#flag=refusal"], in: work)
        #expect(filteredDOM.contains("data-shown=\"1\""), "filtering by flag shows only its cards")
        _ = try await Self.runBrowser(
            chromium, ["--screenshot=\(screenshot.path)", "--window-size=1200,2000", html.absoluteString], in: work)
        let size = (try? FileManager.default.attributesOfItem(atPath: screenshot.path)[.size] as? Int) ?? 0
        #expect(size > 10_000, "screenshot written")
        // Kept where a person can look at it after the run.
        let output = TestSupport.packageRoot.appendingPathComponent(".build/test-output")
        try? FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: output.appendingPathComponent("audit-report.png"))
        try? FileManager.default.copyItem(at: screenshot, to: output.appendingPathComponent("audit-report.png"))
    }

    /// Awaited, not waited for: a cooperative thread held while Chromium runs starves the suite.
    static func runBrowser(_ chromium: String, _ arguments: [String], in directory: URL) async throws -> String {
        try await TestSupport.run(
            executable: chromium,
            ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=\(directory.path)/chromium-profile"]
                + arguments
        ).stdout
    }
}
