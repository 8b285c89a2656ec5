import Foundation
import GRDB
import Testing
@testable import VisualExtraction

/// Opening a work directory: what is refused, what is looked at again.
@Suite struct ExtractionJobTests {
    @Test func anInputReplacedDuringIngestIsRefused() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("corpus.json")
        try FileManager.default.copyItem(at: TestSupport.sampleCorpus, to: input)
        let pipeline = try Pipeline.load(path: TestSupport.paperPipeline.path)
        let work = dir.appendingPathComponent("work").path
        let job = ExtractionJob(
            pipeline: pipeline, inputPath: input.path, imagesRoot: TestSupport.sampleImages.path,
            workDirectory: work, teacherURL: "mock")
        // The lock is released when the opened job goes (deinit), as at the end of a process.
        _ = try job.open()
        // As a kill during ingest leaves it: part of the records stored, no full hash yet. The
        // job's store may still be closing (its last connection checkpoints the WAL under an
        // exclusive lock), so this connection waits for the lock as vxt's own do.
        var configuration = Configuration()
        configuration.busyMode = .timeout(60)
        try DatabaseQueue(path: work + "/vxt.sqlite", configuration: configuration).write { db in
            try db.execute(sql: "UPDATE run SET ingest_complete = 0, input_sha256 = NULL")
            try db.execute(sql: "DELETE FROM task WHERE record_key IN (SELECT key FROM record WHERE position >= 6)")
            try db.execute(sql: "DELETE FROM record WHERE position >= 6")
        }
        let other = try String(contentsOf: input, encoding: .utf8).replacingOccurrences(of: "astronaut", with: "cosmonaut")
        try other.write(to: input, atomically: true, encoding: .utf8)
        #expect {
            _ = try job.open()
        } throws: { error in
            "\(error)".contains("is not the file \(work) began to ingest")
        }
    }
}
