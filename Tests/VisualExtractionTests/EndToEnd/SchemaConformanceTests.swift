import Foundation
import Testing
@testable import VisualExtraction

/// Every file vxt writes or reads conforms to its schema in schemas/, checked by an
/// independent validator (Python's jsonschema) on the files of a real run.
// A hang fails the suite instead of holding CI: generous, since no test bounds real time otherwise.
@Suite(.serialized, .timeLimit(.minutes(15))) struct SchemaConformanceTests {
    /// Whether python3 can import these modules (the tests that need them skip visibly otherwise).
    static func python(imports modules: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import \(modules)"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    static var validatorAvailable: Bool { python(imports: "jsonschema, yaml") }

    /// Awaited, not waited for: a cooperative thread held for a validator's run starved the
    /// rest of the suite (trivial tests started 109 s late, a sequential one ran past its limit).
    func validate(_ schema: String, _ files: [URL]) async throws -> (Int32, String) {
        let result = try await TestSupport.run(
            executable: "/usr/bin/env",
            [
                "python3", TestSupport.packageRoot.appendingPathComponent("scripts/validate-schemas.py").path,
                TestSupport.packageRoot.appendingPathComponent("schemas/\(schema).schema.json").path
            ] + files.map(\.path))
        return (result.status, result.stderr)
    }

    @Test(.enabled(if: validatorAvailable, "python3 with jsonschema and PyYAML is not available"))
    func outputsOfASampleRunConform() async throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        // The teacher is the mock as a local process, with both directions of its pipe copied to files.
        let requests = work.appendingPathComponent("requests.jsonl"), answers = work.appendingPathComponent("answers.jsonl")
        let teacher = "cmd:tee '\(requests.path)' | '\(TestSupport.vxtBinary.path)' mock-teacher --stdio | tee '\(answers.path)'"
        let run = try await TestSupport.runVXT([
            "run", "pipelines/paper.yaml", "--input", "samples/llava_sample.json", "--images", "samples/images",
            "--work", work.path, "--teacher", teacher
        ])
        #expect(run.status == 0, "\(run.stderr)")
        for copy in [requests, answers] {
            #expect(
                try String(contentsOf: copy, encoding: .utf8).split(separator: "\n").count >= 20,
                "\(copy.lastPathComponent) holds the run's calls")
        }
        var files: [String: URL] = ["local-teacher-request": requests, "local-teacher-response": answers]
        let audit = try await TestSupport.runVXT(["audit", "--work", work.path, "--json"])
        #expect(audit.status == 0, "\(audit.stderr)")
        files["audit-summary"] = work.appendingPathComponent("audit.json")
        try Data(audit.stdout.utf8).write(to: work.appendingPathComponent("audit.json"))
        for format in ExportFormat.allCases.map(\.rawValue) {
            let url = work.appendingPathComponent("out.\(format)")
            #expect(try await TestSupport.runVXT(["export", "--work", work.path, "--format", format, "--out", url.path]).status == 0)
            files["export-\(format)"] = url
        }
        files["llamafactory-dataset-info"] = work.appendingPathComponent("dataset_info.json")
        // The paper format with records left out by the audit filter: lines with a null caption.
        let filtered = work.appendingPathComponent("filtered.paper")
        let filteredExport = try await TestSupport.runVXT([
            "export", "--work", work.path, "--format", "paper", "--min-coverage", "1", "--out", filtered.path
        ])
        #expect(filteredExport.status == 0, "\(filteredExport.stderr)")
        #expect(try TestSupport.jsonLines(filtered).count == 12, "one line per input record")
        #expect(try await validate("export-paper", [filtered]).0 == 0)
        let status = try await TestSupport.runVXT(["status", "--work", work.path, "--json"])
        files["status"] = work.appendingPathComponent("status.json")
        try Data(status.stdout.utf8).write(to: work.appendingPathComponent("status.json"))
        // The snapshot the run left beside its store, and the status inside it.
        let snapshot = work.appendingPathComponent("vxt.status.json")
        files["status-snapshot"] = snapshot
        let inside = try JSONSerialization.jsonObject(with: Data(contentsOf: snapshot)) as? [String: Any]
        let insideSummary = work.appendingPathComponent("snapshot-summary.json")
        try JSONSerialization.data(withJSONObject: inside?["summary"] ?? [:]).write(to: insideSummary)
        #expect(try await validate("status", [insideSummary]).0 == 0, "the snapshot's summary is what `vxt status --json` prints")
        let prompts = try await TestSupport.runVXT([
            "prompts", "pipelines/paper.yaml", "--input", "samples/llava_sample.json", "--stage", "statements"
        ])
        files["prompts"] = work.appendingPathComponent("prompts.jsonl")
        try Data(prompts.stdout.utf8).write(to: work.appendingPathComponent("prompts.jsonl"))
        // A batch export of the same input, and the mock's batch output for it.
        let batchWork = work.appendingPathComponent("batch"), batches = work.appendingPathComponent("batches")
        let batchExport = try await TestSupport.runVXT([
            "batch", "export", "paper", "--input", "samples/llava_sample.json", "--images", "samples/images", "--work", batchWork.path,
            "--out", batches.path
        ])
        #expect(batchExport.status == 0, "\(batchExport.stderr)")
        files["batch-request"] = batches.appendingPathComponent("vxt-statements-0001.jsonl")
        files["batch-output"] = work.appendingPathComponent("batch-output.jsonl")
        let batchRun = try await TestSupport.runVXT([
            "mock-teacher", "--run-batch", batches.appendingPathComponent("vxt-statements-0001.jsonl").path, "--output",
            work.appendingPathComponent("batch-output.jsonl").path, "--fail-rate", "0.3"
        ])
        #expect(batchRun.status == 0, "\(batchRun.stderr)")
        files["pipeline"] = TestSupport.paperPipeline
        files["llava-input-record"] = TestSupport.sampleCorpus
        for (schema, file) in files.sorted(by: { $0.key < $1.key }) {
            let (code, errors) = try await validate(schema, [file])
            #expect(code == 0, "\(file.lastPathComponent) does not conform to \(schema): \(errors)")
        }
        // The content-parts layouts vxt reads are the input schema's too.
        for layout in ContentPartsLayoutTests.Layout.allCases {
            let file = work.appendingPathComponent("samples-\(layout.rawValue).jsonl")
            try Data(try ContentPartsLayoutTests.rewrite(layout).utf8).write(to: file)
            let (code, errors) = try await validate("llava-input-record", [file])
            #expect(code == 0, "the \(layout) layout does not conform to llava-input-record: \(errors)")
        }
        let clean = TestSupport.packageRoot.appendingPathComponent("pipelines/clean.yaml")
        #expect(try await validate("pipeline", [clean]).0 == 0, "pipelines/clean.yaml conforms")
        let fleet = try TestSupport.fleetPipeline(in: work)
        #expect(try await validate("pipeline", [fleet]).0 == 0, "a pipeline with teacher.endpoints and prices conforms")
        // The validator is not a rubber stamp: a paper line with a missing caption fails.
        let broken = work.appendingPathComponent("broken.paper")
        try Data("{\"index\": 0}\n".utf8).write(to: broken)
        #expect(try await validate("export-paper", [broken]).0 != 0)
        try Data("{\"index\": 0, \"caption\": null}\n".utf8).write(to: broken)
        #expect(try await validate("export-paper", [broken]).0 != 0, "a null caption says why")
    }

    static var datasetsAvailable: Bool { python(imports: "datasets") }

    /// What a trainer does first with an export: Hugging Face `datasets` loads it as JSON.
    @Test(.enabled(if: datasetsAvailable, "SKIPPED: python3 cannot import `datasets` (pip install datasets to run this test)"))
    func everyExportLoadsWithHuggingFaceDatasets() async throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let run = try await TestSupport.runVXT([
            "run", "paper", "--input", "samples/llava_sample.json", "--images", "samples/images", "--work", work.path
        ])
        #expect(run.status == 0, "\(run.stderr)")
        for format in ["llava", "jsonl", "llamafactory", "swift"] {
            let url = work.appendingPathComponent("out.\(format).json")
            #expect(try await TestSupport.runVXT(["export", "--work", work.path, "--format", format, "--out", url.path]).status == 0)
            let load = try await TestSupport.run(
                executable: "/usr/bin/env",
                [
                    "python3", "-c",
                    "import sys, datasets; d = datasets.load_dataset('json', data_files=sys.argv[1], split='train', cache_dir=sys.argv[2]); print(len(d))",
                    url.path, work.appendingPathComponent("hf-cache").path
                ], environment: ["HF_DATASETS_OFFLINE": "1"])
            let printed = load.stdout
            #expect(load.status == 0 && printed.trimmingCharacters(in: .whitespacesAndNewlines) == "10", "\(format): \(printed)")
        }
    }
}
