import Foundation
import GRDB

/// What a run was made with (pipeline, input, options), kept so that audit, export and retry
/// work from the run, not from whatever the files say now.
extension JobStore {
    /// The pipeline the run was made with, as stored when it began: audit, export and retry work
    /// from it, not from whatever the pipeline file says now.
    public func storedPipeline() throws -> PipelineDefinition {
        guard let configuration = try configuration() else { throw StoreError.noStore(workDirectory: path) }
        return try PipelineDefinition.stored(configuration.pipelineJSON)
    }

    public func configuration() throws -> RunConfiguration? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM run WHERE id = 1") else { return nil }
            var configuration = RunConfiguration(
                pipelineName: row["pipeline_name"], pipelineHash: row["pipeline_hash"], pipelineJSON: row["pipeline_json"],
                inputPath: row["input_path"], inputSize: row["input_size"], inputModified: row["input_mtime"],
                inputSHA256: row["input_sha256"], imagesRoot: row["images_root"], teacherURL: row["teacher_url"],
                teacherModel: row["teacher_model"], vxtVersion: row["vxt_version"], createdAt: row["created_at"],
                ingestComplete: row["ingest_complete"], recordCount: row["record_count"], problemCount: row["problem_count"],
                shard: (row["shard_index"] as Int?).flatMap { i in (row["shard_count"] as Int?).map { Shard(index: i, count: $0) } },
                inputProbe: row["input_probe"])
            configuration.followSymlinks = row["follow_symlinks"] ?? false
            return configuration
        }
    }

    public func saveConfiguration(_ c: RunConfiguration) throws {
        try pool.write { db in
            try db.execute(
                sql: """
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
                    """,
                arguments: [
                    c.pipelineName, c.pipelineHash, c.pipelineJSON, c.inputPath, c.inputSize, c.inputModified,
                    c.inputSHA256, c.imagesRoot, c.teacherURL, c.teacherModel, c.vxtVersion, c.createdAt,
                    c.ingestComplete, c.recordCount, c.problemCount
                ])
            try db.execute(
                sql: "UPDATE run SET shard_index = ?, shard_count = ?, input_probe = ?, follow_symlinks = ? WHERE id = 1",
                arguments: [c.shard?.index, c.shard?.count, c.inputProbe, c.followSymlinks])
        }
    }
}
