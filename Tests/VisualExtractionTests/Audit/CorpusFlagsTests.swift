import Foundation
import GRDB
import Testing

@testable import VisualExtraction

/// The corpus-wide flags (length outliers, near-duplicates, image problems) are found again by
/// every audit; the store keeps exactly the last audit's set, and writes only what changed.
@Suite final class CorpusFlagsTests {
    let dir: URL
    let store: JobStore

    init() throws {
        dir = try TestSupport.temporaryDirectory()
        store = try JobStore(path: dir.appendingPathComponent("vxt.sqlite").path)
        let pipeline = try Pipeline.load(path: TestSupport.paperPipeline.path)
        var records = ["a", "b", "c", "d"].map { TestSupport.record($0, pairs: [("What is it?", "A cup")]) }
        for i in records.indices { records[i].position = i }
        try store.ingest(records.map { .record($0, problem: nil) }, stages: pipeline.graph.stages)
    }

    deinit { try? FileManager.default.removeItem(at: dir) }

    func flags() throws -> [String: (rowid: Int64, evidence: String)] {
        try store.pool.read { db in
            var flags: [String: (rowid: Int64, evidence: String)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT rowid, record_key, flag, evidence FROM audit_flag") {
                flags["\(row[1] as String) \(row[2] as String)"] = (row[0], row[3])
            }
            return flags
        }
    }

    @Test func theLastAuditsSetIsKeptAndWhatDidNotChangeIsNotRewritten() throws {
        try store.pool.write { db in
            try db.execute(sql: "INSERT INTO audit_flag (record_key, flag, evidence) VALUES ('a', 'refusal', 'I cannot help')")
        }
        try store.replaceCorpusFlags { flag in
            try flag("a", AuditFinding(.nearDuplicate, "like x"))
            try flag("b", AuditFinding(.lengthOutlier, "5 words"))
            try flag("c", AuditFinding(.imageProblem, "image file not found"))
        }
        let first = try flags()
        #expect(first.count == 4)

        try store.replaceCorpusFlags { flag in
            try flag("a", AuditFinding(.nearDuplicate, "like y"))
            try flag("b", AuditFinding(.lengthOutlier, "5 words"))
            try flag("d", AuditFinding(.nearDuplicate, "like a"))
            try flag("d", AuditFinding(.nearDuplicate, "like b"))
        }
        let second = try flags()
        #expect(
            second.mapValues(\.evidence) == [
                "a refusal": "I cannot help", "a near_duplicate": "like y", "b length_outlier": "5 words", "d near_duplicate": "like b"
            ])
        #expect(second["b length_outlier"]?.rowid == first["b length_outlier"]?.rowid, "an unchanged flag stays where it was")
        #expect(second["a refusal"]?.rowid == first["a refusal"]?.rowid, "a sample's own flags are not the corpus's")

        // Nothing found any more: every corpus-level flag goes, the sample's own stays.
        try store.replaceCorpusFlags { _ in }
        #expect(try flags().mapValues(\.evidence) == ["a refusal": "I cannot help"])
    }
}
