import Foundation
import GRDB
import Testing
@testable import VisualExtraction

/// A run must never finish "green" with a corpus that is quietly wrong or empty. Each test plays
/// a real user's mistake or a real model's habit against the `vxt` binary, on 127.0.0.1.
// A hang fails the suite instead of holding CI: generous, since no test bounds real time otherwise.
@Suite(.timeLimit(.minutes(15))) struct SilentFailureTests {
    func run(_ arguments: [String]) async throws -> TestSupport.ProcessResult { try await TestSupport.runVXT(arguments) }
    let sample = ["--input", "samples/llava_sample.json"]

    /// `chatty_teacher.py` on a free port: answers like a chat model, logs every request.
    final class ChattyTeacher {
        let process: Process
        let baseURL: String
        let log: URL

        /// `mode`: one of the script's answer modes (`thinking`, `thinking-cut`, `reasoning-field`).
        init(in directory: URL, model: String = "chatty-8b", huge: Bool = false, tls: Bool = false, mode: String = "") async throws {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let portFile = directory.appendingPathComponent("port")
            log = directory.appendingPathComponent("requests.log")
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments =
                [
                    "python3",
                    TestSupport.packageRoot.appendingPathComponent("Tests/VisualExtractionTests/Fixtures/servers/chatty_teacher.py").path,
                    portFile.path, log.path, model
                ] + (huge ? ["huge"] : tls ? ["tls"] : mode.isEmpty ? [] : [mode])
            // Neither output may hold the test runner's pipes open after the test.
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            var port: String?
            while port == nil, process.isRunning {
                try await Task.sleep(nanoseconds: 50_000_000)
                port = try? String(contentsOf: portFile, encoding: .utf8)
            }
            baseURL = "\(tls ? "https" : "http")://127.0.0.1:\(port ?? "1")/v1"
        }

        var chatRequests: Int { logged("POST") }
        /// Requests of vxt's sight check (a plain colour to name), logged apart.
        var sightChecks: Int { logged("SIGHT") }

        private func logged(_ kind: String) -> Int {
            ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.hasPrefix(kind + " ") }.count
        }

        /// Ends the server; each test calls it in a `defer` (the script also stops by itself when
        /// the test process is gone).
        func stop() {
            if process.isRunning { process.terminate() }
        }
    }

    /// The paper pipeline with lines added after lines it holds (a stage's settings after its
    /// `- name:` line), written to `file`; a line the pipeline no longer holds is an error here,
    /// not a test that quietly runs the unedited pipeline.
    static func paper(adding additions: [(after: String, text: String)], to file: URL) throws -> URL {
        var text = try String(contentsOf: TestSupport.paperPipeline, encoding: .utf8)
        for addition in additions {
            guard text.contains(addition.after) else {
                throw CocoaError(
                    .fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "pipelines/paper.yaml has no line \(addition.after)"])
            }
            text = text.replacingOccurrences(of: addition.after, with: addition.after + addition.text)
        }
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// `--input` given a folder, or a name one letter off, stops every command that reads it
    /// before anything is made, and names the corpus files that are there.
    @Test func aFolderOrAMistypedInputIsAnsweredWithTheCorpusFilesThere() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = dir.appendingPathComponent("work").path
        let folder = try await run(["run", "paper", "--input", "samples", "--work", work])
        #expect(folder.status == 1, "\(folder.stderr)")
        #expect(
            folder.stderr.contains(
                "samples is a folder, not a corpus file; its corpus files: llava_sample.json; pass one, e.g. samples/llava_sample.json"),
            "\(folder.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work), "no work directory, store or mock teacher was made")
        let typo = try await run(["batch", "export", "paper", "--input", "samples/llava_sampel.json", "--work", work, "--out", dir.path])
        #expect(
            typo.status == 1
                && typo.stderr.contains("samples/llava_sampel.json does not exist; the corpus files in samples: samples/llava_sample.json"),
            "\(typo.stderr)")
        let inspect = try await run(["inspect", "samples/images"])
        #expect(
            inspect.status == 1
                && inspect.stderr.contains("samples/images is a folder, not a corpus file, and holds no .json or .jsonl file"),
            "\(inspect.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work))
    }

    /// Image paths that are URLs or inline `data:` are named as such, never as files missing
    /// under --images: a corpus of URLs stops at the preflight with what to do, and in a corpus of
    /// files the few URL records fail as image_missing with the same advice, grouped by host.
    @Test func imagesNamedByURLAreSaidToBeURLs() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let records = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "samples/llava_sample.json"))) as? [[String: Any]])
        let urls = dir.appendingPathComponent("urls.json")
        try JSONSerialization.data(
            withJSONObject: records.map { record in
                var record = record
                if let image = record["image"] as? String { record["image"] = "https://cdn.example.org/\(image)" }
                return record
            }
        ).write(to: urls)
        let refused = try await run(["run", "paper", "--input", urls.path, "--work", dir.appendingPathComponent("w1").path])
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(
            refused.stderr.contains("the first: image https://cdn.example.org/skimage/astronaut.png is a URL, not a file"),
            "\(refused.stderr)")
        #expect(refused.stderr.contains("download them first"), "\(refused.stderr)")

        var mixed = records
        mixed[3]["image"] = "https://cdn.example.org/coffee.png"
        mixed[4]["image"] = "data:image/png;base64,iVBORw0KGgo="
        let some = dir.appendingPathComponent("some.json")
        try JSONSerialization.data(withJSONObject: mixed).write(to: some)
        let work = dir.appendingPathComponent("w2").path
        let partial = try await run(["run", "paper", "--input", some.path, "--images", "samples/images", "--work", work])
        #expect(partial.status == 2, "\(partial.stderr)")
        #expect(partial.stderr.contains("image https://cdn.example.org/coffee.png is a URL, not a file"), "\(partial.stderr)")
        #expect(partial.stderr.contains("is inline data, not a file"), "\(partial.stderr)")
        #expect(partial.stderr.contains("by folder: cdn.example.org/ 1 · elsewhere 1"), "\(partial.stderr)")
        #expect(try JobStore.open(workDirectory: work).counts(stage: "extraction") == [.done: 8, .failed: 2, .skipped: 2])
    }

    @Test func anHTTPSTeacherIsVerifiedAndACAFileMakesItTrusted() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = try await ChattyTeacher(in: dir, tls: true)
        defer { teacher.stop() }
        let arguments =
            ["run", "pipelines/paper.yaml"] + sample + [
                "--images", "samples/images", "--teacher", teacher.baseURL, "--model", "chatty-8b"
            ]
        // A self-signed certificate is refused before anything is sent.
        let refused = try await run(arguments + ["--work", dir.appendingPathComponent("refused").path])
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("certificate"), "\(refused.stderr)")
        #expect(teacher.chatRequests == 0)
        // Trusted with --ca-file: the run goes through over HTTPS.
        let pem = TestSupport.packageRoot.appendingPathComponent("Tests/VisualExtractionTests/Fixtures/tls/server.pem").path
        let trusted = try await run(arguments + ["--work", dir.appendingPathComponent("trusted").path, "--ca-file", pem])
        #expect(trusted.status == 0, "\(trusted.stderr)")
        #expect(teacher.chatRequests == 20)
    }

    @Test func aServerThatNeverStopsWritingFailsTheTaskNotTheRun() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = try await ChattyTeacher(in: dir, huge: true)
        defer { teacher.stop() }
        let work = dir.appendingPathComponent("work").path
        let result = try await run(
            ["run", "pipelines/paper.yaml"] + sample + [
                "--images", "samples/images", "--work", work, "--teacher", teacher.baseURL, "--model", "chatty-8b",
                "--concurrency", "2"
            ])
        #expect(result.status == 2, "the run goes on, and ends saying records failed: \(result.stderr)")
        // Each 40 MB description fails as a bad answer at the cap, asked once (not retried).
        let status = try JSONParser.parse(try await run(["status", "--work", work, "--json"]).stdout)
        guard case let .array(failures)? = status["failures"] else { Issue.record("no failures"); return }
        #expect(failures.map { $0["kind"]?.stringValue } == ["bad_answer"])
        #expect(failures.first?["examples"]?.jsonText.contains("stopped reading") == true)
        #expect(teacher.chatRequests == 20, "10 statements + 10 descriptions, none asked again")
        // Nothing of the answers was kept.
        let size = try FileManager.default.attributesOfItem(atPath: work + "/vxt.sqlite")[.size] as? Int ?? 0
        #expect(size < 4 << 20, "store is \(size) bytes")
    }

    /// `vxt run` of the sample corpus against `teacher`.
    func runSample(on teacher: ChattyTeacher, work: String, pipeline: String = "pipelines/paper.yaml") async throws
        -> TestSupport.ProcessResult
    {
        try await run(
            ["run", pipeline] + sample + [
                "--images", "samples/images", "--work", work, "--teacher", teacher.baseURL, "--model", "chatty-8b"
            ])
    }

    /// The sample corpus run against a chatty teacher answering in `mode`, in a fresh directory
    /// that `check` may write in (removed after).
    func runSample(
        mode: String, name: String = #function,
        _ check: (_ result: TestSupport.ProcessResult, _ teacher: ChattyTeacher, _ dir: URL, _ work: String) async throws -> Void
    ) async throws {
        let dir = try TestSupport.temporaryDirectory(name)
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = try await ChattyTeacher(in: dir, mode: mode)
        defer { teacher.stop() }
        let work = dir.appendingPathComponent("work").path
        try await check(try await runSample(on: teacher, work: work), teacher, dir, work)
    }

    /// "thinking": a thinking model (Qwen3 on vLLM without a reasoning parser) writes
    /// `<think>…</think>` before each answer, its lines shaped like statements.
    @Test(arguments: ["", "thinking"])
    func aChattyModelsPreamblesNeverBecomeStatements(mode: String) async throws {
        try await runSample(mode: mode) { result, _, dir, work in
            #expect(result.status == 0, "\(result.stderr)")
            let out = dir.appendingPathComponent("out.jsonl")
            #expect(try await run(["export", "--work", work, "--format", "jsonl", "--out", out.path]).status == 0)
            let lines = try TestSupport.jsonLines(out)
            #expect(lines.count == 10)
            for line in lines {
                guard case let .array(pairs)? = line["qa_pairs"], case let .array(statements)? = line["statements"],
                    let description = line["description"]?.stringValue
                else { Issue.record("fields"); continue }
                #expect(pairs.count == statements.count)
                for statement in statements.compactMap(\.stringValue) {
                    #expect(statement.hasPrefix("Regarding"), "\(statement)")
                }
                #expect(
                    !description.contains("Here are") && !description.contains("Let me know"),
                    "the extraction prompt carried chatter: \(description)")
                #expect(description.hasPrefix("The image shows"), "the description is the answer, no reasoning: \(description)")
                #expect(!description.contains("think>") && !description.contains("The question asks"), "\(description)")
                #expect(line["mock"] == .bool(false))
            }
            // Where reasoning was taken out, the summary says so, on one line per stage.
            let noted = result.stderr.contains("10  statements: a thinking model's reasoning was taken out before its answer")
            #expect(noted == (mode == "thinking"), "\(result.stderr)")
        }
    }

    /// `extra_body` reaches the server in each request of the stage it is set for, and only
    /// there: the statements stage's model is told not to think, the extraction stage's is not.
    @Test func aStagesExtraBodyTurnsItsModelsThinkingOff() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = try await ChattyTeacher(in: dir, mode: "thinking")
        defer { teacher.stop() }
        let statements = "  - name: statements\n"
        let pipeline = try Self.paper(
            adding: [(statements, "    teacher: {extra_body: {chat_template_kwargs: {enable_thinking: false}}}\n")],
            to: dir.appendingPathComponent("no-thinking.yaml"))
        let work = dir.appendingPathComponent("work").path
        let result = try await runSample(on: teacher, work: work, pipeline: pipeline.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("statements: a thinking model's reasoning"), "\(result.stderr)")
        #expect(result.stderr.contains("10  extraction: a thinking model's reasoning was taken out"), "\(result.stderr)")
        // The stored request is the body as sent, the field in it.
        let shown = try await run(["show", "--work", work, "--id", "astronaut-0001"])
        #expect(shown.stdout.contains(#""chat_template_kwargs":{"enable_thinking":false}"#), "\(shown.stdout)")
        // A field vxt writes itself is refused when the file is read, with where it is.
        let clash = try Self.paper(
            adding: [(statements, "    teacher: {extra_body: {max_tokens: 9}}\n")], to: dir.appendingPathComponent("clash.yaml"))
        let refused = try await run(["run", clash.path] + sample + ["--work", dir.appendingPathComponent("clash").path])
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("stage statements: teacher.extra_body sets `max_tokens`"), "\(refused.stderr)")
    }

    /// A server that drops images ("blind": TGI in front of a text-only model) would let the model
    /// describe from the statements alone, fluently and wrongly; one that refuses them
    /// ("text-only") would fail every record. Both are stopped by the preflight, before ingest.
    @Test(arguments: ["blind", "text-only"])
    func aTeacherThatCannotSeeIsStoppedBeforeAnythingIsSent(mode: String) async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = try await ChattyTeacher(in: dir, mode: mode)
        defer { teacher.stop() }
        // In a fleet beside a server that sees: the one that does not is named.
        let seeing = try await ChattyTeacher(in: dir.appendingPathComponent("seeing"))
        defer { seeing.stop() }
        let work = dir.appendingPathComponent("work")
        let result = try await run(
            ["run", "pipelines/paper.yaml"] + sample + [
                "--images", "samples/images", "--work", work.path, "--model", "chatty-8b",
                "--teacher", seeing.baseURL, "--teacher", teacher.baseURL
            ])
        #expect(result.status == 3, "\(result.stderr)")
        let expected =
            mode == "blind" ? "does not seem to see images: shown a plain " : "refused a request with an image for chatty-8b (HTTP 400"
        #expect(result.stderr.contains("the teacher at \(teacher.baseURL) " + expected), "\(result.stderr)")
        #expect(!result.stderr.contains("the teacher at \(seeing.baseURL)"), "\(result.stderr)")
        #expect(seeing.sightChecks == 2 && teacher.sightChecks >= 1)
        #expect(teacher.chatRequests + seeing.chatRequests == 0, "no record was sent")
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("vxt.sqlite").path), "nothing was ingested")
    }

    /// `--teacher http://host:8000` without `/v1`: vLLM answers 404 to `/models` and to
    /// `/chat/completions` there. The preflight finds the server one level down and says so.
    @Test func aBaseURLWithoutV1IsCorrectedBeforeAnythingIsSent() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = try await ChattyTeacher(in: dir)
        defer { teacher.stop() }
        let root = String(teacher.baseURL.dropLast("/v1".count))
        let work = dir.appendingPathComponent("work")
        let result = try await run(
            ["run", "pipelines/paper.yaml"] + sample + [
                "--images", "samples/images", "--work", work.path, "--model", "chatty-8b", "--teacher", root
            ])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("the teacher at \(root) has no /models (HTTP 404)"), "\(result.stderr)")
        #expect(result.stderr.contains("pass --teacher \(root)/v1 "), "\(result.stderr)")
        #expect(teacher.chatRequests + teacher.sightChecks == 0, "nothing was sent")
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("vxt.sqlite").path), "nothing was ingested")
    }

    /// A base URL with a path the server does not have (`/openai/v1` for a vLLM at `/v1`): no
    /// model list to check the name against, and every chat request would be a 404. The sight
    /// check's first request finds it, and the run stops before ingest, naming the URL and the fix.
    @Test func aBaseURLWithAPathTheServerDoesNotHaveStopsBeforeIngest() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = try await ChattyTeacher(in: dir)
        defer { teacher.stop() }
        let wrong = String(teacher.baseURL.dropLast("/v1".count)) + "/openai/v1"
        let work = dir.appendingPathComponent("work")
        let result = try await run(
            ["run", "pipelines/paper.yaml"] + sample + [
                "--images", "samples/images", "--work", work.path, "--model", "chatty-8b", "--teacher", wrong
            ])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "the teacher at \(wrong) has no chat completions for chatty-8b (HTTP 404: Not Found): "
                    + "check that the base URL goes up to /v1 and that the server serves this model; nothing was ingested or sent."),
            "\(result.stderr)")
        let posts = try String(contentsOf: teacher.log, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("POST ") }
        #expect(posts.count == 1 && posts.allSatisfy { $0.hasPrefix("POST /openai/v1/chat/completions ") }, "one sight check: \(posts)")
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("vxt.sqlite").path), "nothing was ingested")
    }

    /// vLLM started with `--max-model-len 2048` refuses every description (max_tokens 2048) with
    /// a 400, while the statements go through. The run stops after the stage's first failures
    /// instead of failing the whole corpus, says why, and the retry it names brings them back.
    @Test func aStageRefusedFromItsFirstTaskStopsTheRunWithTheRetryThatUndoesIt() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let short = try await ChattyTeacher(in: dir.appendingPathComponent("short"), mode: "short-context")
        defer { short.stop() }
        let work = dir.appendingPathComponent("work").path
        let arguments = ["run", "pipelines/paper.yaml"] + sample + ["--images", "samples/images", "--work", work, "--model", "chatty-8b"]
        let stopped = try await run(arguments + ["--teacher", short.baseURL, "--stop-after-first-failures", "5", "--concurrency", "2"])
        #expect(stopped.status == 3, "\(stopped.stderr)")
        #expect(
            stopped.stderr.contains("stopped: the first 5 extraction tasks failed and none succeeded (5 http_status, e.g. HTTP 400 from "))
        #expect(stopped.stderr.contains("This model's maximum context length is 2048 tokens."), "\(stopped.stderr)")
        #expect(!stopped.stderr.contains("not sent"), "a task cut off by the stop is handed back, not failed: \(stopped.stderr)")
        #expect(stopped.stderr.contains("`vxt retry --work \(work) --kind http_status`"), "\(stopped.stderr)")
        let failed = try JobStore.open(workDirectory: work).counts(stage: "extraction")[.failed] ?? 0
        #expect(failed >= 5 && failed < 10, "claims stopped at the fifth failure: \(failed) failed")
        let counts = try JobStore.open(workDirectory: work).counts(stage: "statements")
        #expect(counts[.failed] == nil && counts[.running] == nil, "\(counts)")

        // Served with room for the descriptions, the retry it named and the same command finish the corpus.
        let roomy = try await ChattyTeacher(in: dir.appendingPathComponent("roomy"))
        defer { roomy.stop() }
        let retry = try await run(["retry", "--work", work, "--kind", "http_status"])
        #expect(retry.status == 0, "\(retry.stderr)")
        let finished = try await run(arguments + ["--teacher", roomy.baseURL])
        #expect(finished.status == 0, "\(finished.stderr)")
        #expect(roomy.chatRequests == 10 + (counts[.pending] ?? 0), "the descriptions, and the statements handed back at the stop")
    }

    /// A local teacher (`--teacher cmd:…`, a model run in-process) is shown the colours too: one
    /// that cannot see is stopped before ingest, one that refuses images as well, one that sees runs.
    @Test(arguments: ["blind", "text-only", "seeing"])
    func aLocalTeacherIsShownTheColoursToo(mode: String) async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/VisualExtractionTests/Fixtures/servers/chatty_teacher.py")
        let log = dir.appendingPathComponent("requests.log")
        let work = dir.appendingPathComponent("work")
        let result = try await run(
            ["run", "pipelines/paper.yaml"] + sample + [
                "--images", "samples/images", "--work", work.path, "--model", "chatty-8b",
                "--teacher", "cmd:python3 '\(script.path)' --stdio '\(log.path)' chatty-8b \(mode == "seeing" ? "" : mode)"
            ])
        let requests = ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n")
        let sightChecks = requests.filter { $0.hasPrefix("SIGHT ") }.count
        let chatRequests = requests.filter { $0.hasPrefix("POST ") }.count
        if mode == "seeing" {
            #expect(result.status == 0, "\(result.stderr)")
            #expect(sightChecks == 2 && chatRequests == 20)
            return
        }
        #expect(result.status == 3, "\(result.stderr)")
        let expected = mode == "blind" ? "does not seem to see images: shown a plain " : "refused a request with an image for chatty-8b ("
        #expect(result.stderr.contains("the local teacher cmd:python3 ") && result.stderr.contains(expected), "\(result.stderr)")
        #expect(sightChecks >= 1 && chatRequests == 0, "no record was sent")
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("vxt.sqlite").path), "nothing was ingested")
    }

    /// Only teachers of stages that send images are shown one: a text-only model may write the
    /// statements while a vision model describes.
    @Test func aTextOnlyModelMayTakeTheStatementsStage() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try await ChattyTeacher(in: dir.appendingPathComponent("text"), mode: "text-only")
        defer { text.stop() }
        let vision = try await ChattyTeacher(in: dir.appendingPathComponent("vision"))
        defer { vision.stop() }
        let result = try await run(
            ["run", "pipelines/paper.yaml"] + sample + [
                "--images", "samples/images", "--work", dir.appendingPathComponent("work").path, "--model", "chatty-8b",
                "--teacher", vision.baseURL, "--stage-teacher", "statements=\(text.baseURL)"
            ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(text.chatRequests == 10 && vision.chatRequests == 10, "\(result.stderr)")
        #expect(text.sightChecks == 0 && vision.sightChecks == 2)
    }

    /// One server serving several models (LiteLLM, OpenRouter, a gateway): a text model at the
    /// pipeline level writes the statements, the extraction stage names a vision model. The
    /// preflight checks the model each stage asks for and shows the images to the one that will
    /// see them; showing them to the text model would stop a run that is set up right.
    @Test func aStageModelOnTheSameServerIsCheckedAndShownTheImages() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let router = try await ChattyTeacher(in: dir, mode: "router")
        defer { router.stop() }
        func pipeline(extractionModel: String) throws -> String {
            try Self.paper(
                adding: [("  - name: extraction\n", "    teacher: {model: \(extractionModel)}\n")],
                to: dir.appendingPathComponent("\(extractionModel).yaml")
            ).path
        }
        let arguments = sample + ["--images", "samples/images", "--teacher", router.baseURL, "--model", "chatty-8b"]
        let result = try await run(
            ["run", try pipeline(extractionModel: "chatty-8b-vl")] + arguments + ["--work", dir.appendingPathComponent("work").path])
        #expect(result.status == 0, "\(result.stderr)")
        let log = try String(contentsOf: router.log, encoding: .utf8).split(separator: "\n")
        #expect(log.filter { $0.hasPrefix("SIGHT ") }.map { $0.split(separator: " ").last ?? "" } == ["chatty-8b-vl", "chatty-8b-vl"])
        #expect(log.filter { $0.hasPrefix("POST ") && $0.hasSuffix(" chatty-8b") }.count == 10, "statements")
        #expect(log.filter { $0.hasPrefix("POST ") && $0.hasSuffix(" chatty-8b-vl") }.count == 10, "descriptions")
        // A stage's model the server does not serve stops the run before anything is sent.
        let before = router.chatRequests
        let missing = try await run(
            ["run", try pipeline(extractionModel: "chatty-70b-vl")] + arguments + ["--work", dir.appendingPathComponent("missing").path])
        #expect(missing.status == 3, "\(missing.stderr)")
        #expect(missing.stderr.contains("not chatty-70b-vl"), "\(missing.stderr)")
        #expect(router.chatRequests == before, "no record was sent")
    }

    /// Every stage that sends images is checked as it asks, not only the first: a second image
    /// stage on a model that drops images (a gateway's text model under a similar name) would
    /// write its part of the corpus from the prompt alone.
    @Test func eachImageStageIsCheckedWithItsOwnModel() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let router = try await ChattyTeacher(in: dir, mode: "router")
        defer { router.stop() }
        // A second image stage after extraction (after its template's last line), a short
        // caption, asked of its own model.
        let caption = """

              - name: caption
                image: true
                max_tokens: 256
                output: text
                teacher: {model: chatty-8b-blind}
                template: |-
                  Write a one-sentence caption of the image.

            """
        let file = try Self.paper(
            adding: [("  - name: extraction\n", "    teacher: {model: chatty-8b-vl}\n"), ("      Description:\n", caption)],
            to: dir.appendingPathComponent("two-image-stages.yaml"))
        let work = dir.appendingPathComponent("work")
        let result = try await run(
            ["run", file.path] + sample + [
                "--images", "samples/images", "--teacher", router.baseURL, "--model", "chatty-8b", "--work", work.path
            ])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("does not seem to see images"), "\(result.stderr)")
        #expect(result.stderr.contains("its colour, chatty-8b-blind answered"), "\(result.stderr)")
        let log = try String(contentsOf: router.log, encoding: .utf8).split(separator: "\n")
        let checked = Set(log.filter { $0.hasPrefix("SIGHT ") }.map { String($0.split(separator: " ").last ?? "") })
        #expect(checked == ["chatty-8b-vl", "chatty-8b-blind"], "each image stage's model was shown the colours")
        #expect(router.chatRequests == 0, "no record was sent")
        #expect(!FileManager.default.fileExists(atPath: work.appendingPathComponent("vxt.sqlite").path), "nothing was ingested")
    }

    /// A thinking model that spends all of max_tokens thinking answers nothing: the block never
    /// closes, or (with a reasoning parser) the content is null beside `reasoning_content`. Each
    /// such task fails as bad_answer with what to do; none is taken for an answer.
    @Test(arguments: ["thinking-cut", "reasoning-field"])
    func reasoningWithoutAnAnswerFailsWithWhatToDo(mode: String) async throws {
        try await runSample(mode: mode) { result, teacher, dir, work in
            #expect(result.status == 2, "\(result.stderr)")
            #expect(result.stderr.contains("10  statements: bad_answer"), "\(result.stderr)")
            #expect(result.stderr.contains("the teacher's answer is only the model's reasoning"), "\(result.stderr)")
            #expect(teacher.chatRequests == 10, "nothing was sent for descriptions built on no statements")
            let out = dir.appendingPathComponent("out.jsonl")
            let export = try await run(["export", "--work", work, "--format", "jsonl", "--out", out.path])
            #expect(export.status == 1, "an empty corpus fails the export: \(export.stderr)")
            #expect(export.stderr.contains("no record has a description to export"), "\(export.stderr)")
            #expect(try TestSupport.jsonLines(out).isEmpty, "no record has a description")
        }
    }

    @Test func mockAnswersInACacheAreNeverServedToARealRun() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cache = dir.appendingPathComponent("cache").path
        let rehearsal = try await run(
            ["run", "pipelines/paper.yaml"] + sample + [
                "--images", "samples/images",
                "--work", dir.appendingPathComponent("mock").path, "--cache", cache
            ])
        #expect(rehearsal.status == 0, "\(rehearsal.stderr)")
        let teacher = try await ChattyTeacher(in: dir)
        defer { teacher.stop() }
        let real = dir.appendingPathComponent("real").path
        let result = try await run(
            ["run", "pipelines/paper.yaml"] + sample + [
                "--images", "samples/images", "--work", real,
                "--cache", cache, "--teacher", teacher.baseURL, "--model", "chatty-8b"
            ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(teacher.chatRequests == 20, "every task went to the server: statements and extraction of 10 records")
        let status = try JobStore.open(workDirectory: real).status()
        #expect(status.stages.allSatisfy { $0.mockOutputs == 0 })
    }

    @Test func aWrongImagesFolderIsFixedByARerunWithTheRightOne() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = dir.appendingPathComponent("work").path
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        // Past the preflight (as when only some images are missing): every record fails as image_missing.
        let wrong = try await run(["run", "pipelines/paper.yaml"] + sample + ["--images", empty.path, "--work", work, "--skip-preflight"])
        #expect(wrong.status == 2, "a run whose every record failed is not green: \(wrong.stderr)")
        let store = try JobStore.open(workDirectory: work)
        let failures = try store.status().failures
        #expect(
            failures.count == 2 && failures.allSatisfy { $0.kind == .imageMissing && $0.count == 10 && $0.examples.count == 3 },
            "grouped by stage and kind, not by message: \(failures.map { "\($0.stage) \($0.kind) \($0.count)" })")
        let ids = try await run(["status", "--work", work, "--failed", "--kind", "image_missing", "--ids"])
        #expect(ids.stdout.split(separator: "\n").count == 10)
        #expect(ids.stdout.split(separator: "\n").first == "astronaut-0001")
        let retryOther = try await run(["retry", "--work", work])
        #expect(retryOther.stderr.contains("0 tasks returned") && retryOther.stderr.contains("20 image_missing"), "\(retryOther.stderr)")

        let right = try await run(["run", "pipelines/paper.yaml"] + sample + ["--images", "samples/images", "--work", work])
        #expect(right.status == 0, "\(right.stderr)")
        #expect(right.stderr.contains("10 of 10 records that missed one are back to work"), "\(right.stderr)")
        #expect(try store.counts(stage: "extraction") == [.done: 10, .skipped: 2])
        #expect(try store.status().inputProblems == 0)
    }

    @Test func imagesAddedLaterComeBackWithRetry() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = dir.appendingPathComponent("work").path
        let images = dir.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        #expect(
            try await run(["run", "pipelines/paper.yaml"] + sample + ["--images", images.path, "--work", work, "--skip-preflight"]).status
                == 2, "every record failed as image_missing")
        try FileManager.default.removeItem(at: images)
        try FileManager.default.copyItem(at: TestSupport.sampleImages, to: images)
        let retry = try await run(["retry", "--work", work, "--kind", "image_missing"])
        #expect(retry.stderr.contains("10 of 10 records find their images"), "\(retry.stderr)")
        #expect(try await run(["run", "pipelines/paper.yaml"] + sample + ["--images", images.path, "--work", work]).status == 0)
        #expect(try JobStore.open(workDirectory: work).counts(stage: "extraction") == [.done: 10, .skipped: 2])
    }

    /// The common partial download: one dataset's folder is missing (mix665k's `ocr_vqa/` is a
    /// separate script). The preflight passes, since most records find their images; the
    /// summary names the folder the failures are under, and the files, added, come back.
    @Test func aFolderMissingFromTheDownloadIsNamedAndComesBackWithRetry() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = dir.appendingPathComponent("work").path
        let images = dir.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        for folder in ["skimage", "sklearn"] {
            #expect(FileManager.default.fileExists(atPath: TestSupport.sampleImages.appendingPathComponent(folder).path))
        }
        try FileManager.default.copyItem(
            at: TestSupport.sampleImages.appendingPathComponent("skimage"), to: images.appendingPathComponent("skimage"))
        let partial = try await run(["run", "pipelines/paper.yaml"] + sample + ["--images", images.path, "--work", work])
        #expect(partial.status == 2, "\(partial.stderr)")
        #expect(partial.stderr.contains("2  extraction: image_missing"), "\(partial.stderr)")
        #expect(partial.stderr.contains("            by folder: sklearn/ 2\n"), "\(partial.stderr)")
        let status = try await run(["status", "--work", work, "--json"])
        let failures = try JSONDecoder().decode(StatusSummary.self, from: Data(status.stdout.utf8)).failures
        #expect(failures.count == 2, "\(status.stdout)")
        #expect(failures.allSatisfy { $0.folders.map(\.folder) == ["sklearn"] && $0.folders.map(\.count) == [2] }, "\(status.stdout)")
        // Sharded, each shard holds one of the two: the status of the run adds their folders up.
        let sharded = dir.appendingPathComponent("sharded").path
        for shard in ["0/2", "1/2"] {
            let part = try await run(
                ["run", "pipelines/paper.yaml"] + sample + ["--images", images.path, "--work", sharded, "--shard", shard])
            #expect(part.status == 2, "\(part.stderr)")
        }
        let summed = try await run(["status", "--work", sharded, "--json"])
        let summedFailures = try JSONDecoder().decode(StatusSummary.self, from: Data(summed.stdout.utf8)).failures
        #expect(summedFailures.map(\.count) == [2, 2], "\(summed.stdout)")
        #expect(summedFailures.allSatisfy { $0.folders.map(\.count) == [2] }, "\(summed.stdout)")
        try FileManager.default.copyItem(
            at: TestSupport.sampleImages.appendingPathComponent("sklearn"), to: images.appendingPathComponent("sklearn"))
        let retry = try await run(["retry", "--work", work, "--kind", "image_missing"])
        #expect(retry.stderr.contains("2 of 2 records find their images"), "\(retry.stderr)")
        #expect(try await run(["run", "pipelines/paper.yaml"] + sample + ["--images", images.path, "--work", work]).status == 0)
        #expect(try JobStore.open(workDirectory: work).counts(stage: "extraction") == [.done: 10, .skipped: 2])
    }

    @Test func preflightStopsARunThatCannotWork() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func attempt(_ extra: [String], images: String = "samples/images") async throws -> TestSupport.ProcessResult {
            let work = dir.appendingPathComponent(UUID().uuidString).path
            let result = try await run(["run", "pipelines/paper.yaml"] + sample + ["--images", images, "--work", work] + extra)
            let records =
                FileManager.default.fileExists(atPath: work + "/vxt.sqlite")
                ? try JobStore(path: work + "/vxt.sqlite", readOnly: true).status().records : 0
            #expect(records == 0, "nothing ingested")
            return result
        }
        let missing = try await attempt([], images: dir.appendingPathComponent("nope").path)
        #expect(missing.status == 3 && missing.stderr.contains("does not exist"), "\(missing.stderr)")
        let upOne = try await attempt([], images: "samples")
        #expect(upOne.status == 3 && upOne.stderr.contains("none of the first 10 records with an image"), "\(upOne.stderr)")
        #expect(upOne.stderr.contains("try --images \(TestSupport.sampleImages.path)"), "a hint one folder down: \(upOne.stderr)")
        let refused = try await attempt(["--teacher", "http://127.0.0.1:9/v1"])
        #expect(refused.status == 3 && refused.stderr.contains("cannot reach the teacher at http://127.0.0.1:9/v1"), "\(refused.stderr)")
        let teacher = try await ChattyTeacher(in: dir)
        defer { teacher.stop() }
        let model = try await attempt(["--teacher", teacher.baseURL])
        #expect(
            model.status == 3 && model.stderr.contains("serves chatty-8b, not Qwen/Qwen3-VL-8B-Instruct: pass --model chatty-8b"),
            "\(model.stderr)")
        #expect(teacher.chatRequests == 0)
    }

    /// The sample corpus with each record's image path rewritten, written to `file`.
    static func sampleCorpus(to file: URL, imagePath: (String) -> String) throws -> URL {
        let records = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: TestSupport.sampleCorpus)) as? [[String: Any]])
        let rewritten = records.map { record in
            var record = record
            if let image = record["image"] as? String, !LLaVARecordDecoder.noImageValues.contains(image) {
                record["image"] = imagePath(image)
            }
            return record
        }
        try JSONSerialization.data(withJSONObject: rewritten, options: [.withoutEscapingSlashes]).write(to: file)
        return file
    }

    /// A corpus written where its images live names them by absolute path. Such a path is read
    /// when it lies inside --images; the preflight says which folder holds them when it does not.
    @Test func aCorpusOfAbsolutePathsRunsWithTheFolderThatHoldsThem() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try Self.sampleCorpus(to: dir.appendingPathComponent("absolute.json")) { TestSupport.sampleImages.path + "/" + $0 }
        let work = dir.appendingPathComponent("work").path
        // Without --images the input's folder is the root, and the images are elsewhere.
        let refused = try await run(["run", "paper", "--input", input.path, "--work", work])
        #expect(refused.status == 3 && refused.stderr.contains("the absolute path lies outside --images"), "\(refused.stderr)")
        #expect(
            refused.stderr.contains("try --images \(TestSupport.sampleImages.path)/skimage (or a folder above it)"),
            "the folder that holds the paths tried: \(refused.stderr)")
        let fixed = try await run(["run", "paper", "--input", input.path, "--images", TestSupport.sampleImages.path, "--work", work])
        #expect(fixed.status == 0, "\(fixed.stderr)")
        #expect(try JobStore.open(workDirectory: work).counts(stage: "extraction") == [.done: 10, .skipped: 2])
        // Trainers get the paths as the corpus gave them, or moved with --images to a training node's folder.
        for (folder, expected) in [
            (nil, TestSupport.sampleImages.path + "/skimage/astronaut.png"), ("/node/images", "/node/images/skimage/astronaut.png")
        ] {
            let export = try await run(
                ["export", "--work", work, "--format", "llamafactory", "--out", "-"] + (folder.map { ["--image-folder", $0] } ?? []))
            #expect(export.status == 0, "\(export.stderr)")
            let first = try JSONParser.parse(String(export.stdout.split(separator: "\n")[0]))
            #expect(first["images"] == .array([.string(expected)]), "\(export.stdout.prefix(400))")
        }
    }

    /// A corpus whose paths begin with a folder the download never made (`llava/skimage/x.png`
    /// where the files are `skimage/x.png`): no --images works. The preflight finds the files
    /// without that folder and gives the two commands that make one that does; they work.
    @Test func pathsWithAFolderTheFilesWereNeverUnderGetAFolderOfOneLink() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try Self.sampleCorpus(to: dir.appendingPathComponent("prefixed.json")) { "llava/" + $0 }
        let work = dir.appendingPathComponent("work").path
        let refused = try await run(["run", "paper", "--input", input.path, "--images", "samples/images", "--work", work])
        #expect(refused.status == 3, "\(refused.stderr)")
        let advice = "`mkdir -p vxt-images && ln -s \(TestSupport.sampleImages.path) vxt-images/llava`"
        #expect(refused.stderr.contains("They are there without the paths' first folder llava/: "), "\(refused.stderr)")
        #expect(refused.stderr.contains(advice + ", and pass --images vxt-images --follow-symlinks"), "\(refused.stderr)")
        // The advice, followed in the test's folder.
        let linked = dir.appendingPathComponent("vxt-images")
        try FileManager.default.createDirectory(at: linked, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: linked.appendingPathComponent("llava").path, withDestinationPath: TestSupport.sampleImages.path)
        let fixed = try await run(["run", "paper", "--input", input.path, "--images", linked.path, "--follow-symlinks", "--work", work])
        #expect(fixed.status == 0, "\(fixed.stderr)")
        #expect(try JobStore.open(workDirectory: work).counts(stage: "extraction") == [.done: 10, .skipped: 2])
    }

    /// A corpus written on Windows names `skimage\\astronaut.png`, one file of that name here: the
    /// preflight says so, and the command it gives, run on the file as printed, fixes it.
    @Test func windowsSeparatorsAreNamedAndTheRewriteGivenWorks() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = try Self.sampleCorpus(to: dir.appendingPathComponent("windows.json")) { $0.replacingOccurrences(of: "/", with: "\\") }
        let work = dir.appendingPathComponent("work").path
        let refused = try await run(["run", "paper", "--input", input.path, "--images", "samples/images", "--work", work])
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("The paths use Windows separators"), "\(refused.stderr)")
        #expect(refused.stderr.contains("then skimage/astronaut.png is found under --images"), "\(refused.stderr)")
        let command = try #require(refused.stderr.firstMatch(of: /`(sed [^`]+)`/)?.1)
        let sed = try await TestSupport.run(executable: "/bin/sh", ["-c", "\(command) \(input.path) > \(input.path).fixed"])
        #expect(sed.status == 0, "\(sed.stderr)")
        let fixed = try await run(["run", "paper", "--input", input.path + ".fixed", "--images", "samples/images", "--work", work])
        #expect(fixed.status == 0, "\(fixed.stderr)")
        #expect(try JobStore.open(workDirectory: work).counts(stage: "extraction") == [.done: 10, .skipped: 2])
    }

    /// Batch files are written for a service that answers hours later: a wrong --images found then
    /// costs a day. `vxt batch export` checks the input as `vxt run` does, before it ingests.
    @Test func batchExportChecksTheImagesFolderBeforeWritingAFile() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("batches")
        func export(images: String) async throws -> TestSupport.ProcessResult {
            try await run(
                ["batch", "export", "paper"] + sample + [
                    "--images", images, "--work", dir.appendingPathComponent("work").path, "--out", out.path
                ])
        }
        let wrong = try await export(images: "samples")
        #expect(wrong.status == 3 && wrong.stderr.contains("vxt batch export: preflight failed"), "\(wrong.stderr)")
        #expect(wrong.stderr.contains("try --images \(TestSupport.sampleImages.path)"), "\(wrong.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path), "no batch file")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("work/vxt.sqlite").path), "nothing ingested")
        let right = try await export(images: "samples/images")
        #expect(right.status == 0, "\(right.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).contains("vxt-statements-0001.jsonl"))
    }

    /// Exit status 1: nothing could start because of the configuration; 64: the command line itself.
    @Test func configurationErrorsExit1AndUsageErrors64() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = dir.appendingPathComponent("work").path
        let images = ["--images", "samples/images"]
        let noPipeline = try await run(["run", dir.appendingPathComponent("none.yaml").path] + sample + images + ["--work", work])
        #expect(noPipeline.status == 1 && noPipeline.stderr.contains("none.yaml: cannot read the file"), "\(noPipeline.stderr)")
        let noInput = try await run(["run", "paper", "--input", dir.appendingPathComponent("none.json").path] + images + ["--work", work])
        #expect(noInput.status == 1 && noInput.stderr.contains("none.json does not exist"), "\(noInput.stderr)")
        let blocker = dir.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        let badCache = try await run(["run", "paper"] + sample + images + ["--work", work, "--cache", blocker.path + "/cache"])
        #expect(badCache.status == 1 && badCache.stderr.contains("response cache"), "\(badCache.stderr)")
        let usage = try await run(["run", "paper"] + sample + ["--work", work, "--concurrency", "0"])
        #expect(usage.status == 64 && usage.stderr.contains("--concurrency must be at least 1"), "\(usage.stderr)")
    }

    /// LLaVA's layout on a cluster: `--images` holds links to folders on a shared data disk.
    @Test func symlinkedImageFoldersAreFollowedWhenAsked() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let shared = dir.appendingPathComponent("shared-disk"), images = dir.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: TestSupport.sampleImages, to: shared)
        for folder in ["skimage", "sklearn"] {
            try FileManager.default.createSymbolicLink(
                at: images.appendingPathComponent(folder), withDestinationURL: shared.appendingPathComponent(folder))
        }
        let work = dir.appendingPathComponent("work").path
        let refused = try await run(["run", "paper"] + sample + ["--images", images.path, "--work", work])
        #expect(refused.status == 3, "\(refused.stderr)")
        #expect(refused.stderr.contains("pass --follow-symlinks to follow links to other folders"), "\(refused.stderr)")
        let followed = try await run(["run", "paper"] + sample + ["--images", images.path, "--work", work, "--follow-symlinks"])
        #expect(followed.status == 0, "\(followed.stderr)")
        let store = try JobStore.open(workDirectory: work)
        #expect(try store.counts(stage: "extraction") == [.done: 10, .skipped: 2])
        #expect(try store.configuration()?.followSymlinks == true, "later commands read images as the run did")
        let html = dir.appendingPathComponent("report.html")
        #expect(try await run(["audit", "--work", work, "--html", html.path]).status == 0)
        #expect(try String(contentsOf: html, encoding: .utf8).contains("data:image/jpeg;base64,"), "thumbnails through the links")
        // A link out is still refused where it is not asked for, and `..` is refused either way.
        #expect(throws: ImageError.self) { try ImageRoot(path: images.path).resolve("skimage/coffee.png") }
        #expect(try ImageRoot(path: images.path, followSymlinks: true).resolve("skimage/coffee.png").hasPrefix(shared.path))
        #expect(throws: ImageError.self) { try ImageRoot(path: images.path, followSymlinks: true).resolve("skimage/../../etc/passwd") }
    }

    /// `--metrics-port`: a Prometheus scrape while the run goes on, in the exposition format.
    @Test func aRunServesPrometheusMetricsWhileItGoesOn() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let err = dir.appendingPathComponent("err")
        let process = try TestSupport.startVXT(
            ["run", "paper"] + sample + [
                "--images", "samples/images", "--work", dir.appendingPathComponent("work").path, "--metrics-port", "0",
                "--mock-latency-ms", "1000", "--concurrency", "1"
            ], stdout: dir.appendingPathComponent("out"), stderr: err)
        // Read leniently: a line caught half written must not hide the ones before it.
        func output() -> String { (try? Data(contentsOf: err)).map { String(decoding: $0, as: UTF8.self) } ?? "" }
        var address: String?
        while address == nil && process.isRunning {
            address = output().firstMatch(of: /metrics: (http:\/\/127\.0\.0\.1:[0-9]+\/metrics)/).map { String($0.1) }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        let url = try #require(address, "the run prints where its metrics are: \(output())")
        // Scrape until a result has landed, as Prometheus would, every 200 ms. One call a second,
        // one at a time, over 20 tasks: the run is at work for a long while after its first result.
        var page = ""
        while process.isRunning && !page.contains("vxt_task_results_total{stage=\"statements\",outcome=\"done\"}") {
            page = try await TestSupport.run(executable: "/usr/bin/curl", ["-sf", url]).stdout
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        #expect(page.contains("vxt_task_results_total{stage=\"statements\",outcome=\"done\"}"), "a scrape while it ran: \(page)")
        kill(process.processIdentifier, SIGTERM)
        #expect(await TestSupport.exitStatus(of: process) == 143, "stopped like a Slurm job")
        #expect(String(data: try Data(contentsOf: err), encoding: .utf8) != nil, "vxt writes UTF-8: \(output())")
        for family in [
            "vxt_tasks", "vxt_queue_depth", "vxt_tokens_total", "vxt_task_results_total", "vxt_task_duration_seconds",
            "vxt_requests_in_flight", "vxt_teacher_answers_total"
        ] {
            #expect(page.contains("# TYPE \(family) "), "\(family) is described")
        }
        #expect(page.contains("vxt_tasks{stage=\"statements\",state=\"done\"}"))
        #expect(page.contains("vxt_teacher_answers_total{endpoint=\"http://127.0.0.1:"), "\(page)")
        let sample = /^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$/
        for line in page.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.wholeMatch(of: sample) != nil, "not a Prometheus sample line: \(line)")
        }
    }

    @Test func aTeacherThatDiesMidRunStopsTheRunWithItsReason() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = dir.appendingPathComponent("work").path
        let result = try await run(
            ["run", "pipelines/paper.yaml"] + sample + [
                "--images", "samples/images", "--work", work,
                "--teacher", "http://127.0.0.1:9/v1", "--skip-preflight", "--give-up-after", "1",
                "--progress-interval", "0.2"
            ])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(
            result.stderr.contains("teacher_unreachable at http://127.0.0.1:9/v1"), "progress names the failing attempts: \(result.stderr)")
        #expect(result.stderr.contains("stopping: no teacher answer"), "\(result.stderr)")
        let store = try JobStore(path: work + "/vxt.sqlite", readOnly: true)
        #expect(try store.counts(stage: "statements")[.running] == nil, "nothing left running")
    }

    /// Both ways a process can start: signals unblocked, and blocked (a parent's thread can pass its
    /// mask on, and a handler must still be reached).
    @Test(arguments: [false, true])
    func sigtermStopsAtOnceAndTheRerunFinishesEveryRecordOnce(startedBlocked: Bool) async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // 2,000 records whose statements calls sit at the mock for two minutes, all in flight at once:
        // however late this test's task is scheduled on a loaded machine (a full suite starved it for
        // longer than a 5 s latency once, and the run finished before the signal), the signal finds
        // the run mid-flight.
        var records: [String] = []
        for i in 0..<2000 {
            records.append(
                "{\"id\": \"r\(i)\", \"image\": \"skimage/coffee.png\", \"conversations\": [{\"from\": \"human\", \"value\": \"<image>\\nWhat is this?\"}, {\"from\": \"gpt\", \"value\": \"Coffee number \(i)\"}]}"
            )
        }
        let input = dir.appendingPathComponent("big.jsonl")
        try records.joined(separator: "\n").write(to: input, atomically: true, encoding: .utf8)
        // No image in the requests: the test is about signals, not about 2,000 images in a debug build.
        let pipeline = dir.appendingPathComponent("textonly.yaml")
        try String(contentsOf: TestSupport.paperPipeline, encoding: .utf8).replacingOccurrences(of: "image: true", with: "image: false")
            .write(to: pipeline, atomically: true, encoding: .utf8)
        let work = dir.appendingPathComponent("work").path
        let args = [
            "run", pipeline.path, "--input", input.path, "--images", "samples/images", "--work", work,
            "--concurrency", "2000", "--progress-interval", "0.5"
        ]
        let err = dir.appendingPathComponent("stderr")
        // vxt runs under a small Python parent that sets the signal mask it inherits, writes vxt's pid
        // and, when vxt ends, its exit status: the test signals the pid vxt really has (Foundation's
        // Process reported a pid that was already gone in fresh-clone suites) and reads how it ended.
        let pidFile = dir.appendingPathComponent("vxt.pid"), statusFile = dir.appendingPathComponent("vxt.status")
        let parent = Process()
        parent.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let mask = startedBlocked ? "signal.SIG_BLOCK" : "signal.SIG_UNBLOCK"
        parent.arguments =
            [
                "python3", "-c",
                """
                import os, signal, subprocess, sys
                signal.pthread_sigmask(\(mask), {signal.SIGTERM, signal.SIGINT})
                pid_file, status_file, err = sys.argv[1:4]
                child = subprocess.Popen(sys.argv[4:], stdout=subprocess.DEVNULL, stderr=open(err, "w"))
                with open(pid_file + ".tmp", "w") as f: f.write(str(child.pid))
                os.replace(pid_file + ".tmp", pid_file)
                code = child.wait()
                with open(status_file + ".tmp", "w") as f: f.write(str(code))
                os.replace(status_file + ".tmp", status_file)
                """, pidFile.path, statusFile.path, err.path, TestSupport.vxtBinary.path
            ] + args + ["--mock-latency-ms", "120000"]
        parent.currentDirectoryURL = TestSupport.packageRoot
        parent.standardOutput = FileHandle.nullDevice
        parent.standardError = FileHandle.nullDevice
        try parent.run()
        func contents(_ url: URL) -> String { (try? String(contentsOf: url, encoding: .utf8)) ?? "" }
        // The first progress line: the run is past ingest, its runner claiming work.
        while !contents(err).contains("0/4000 tasks") && !FileManager.default.fileExists(atPath: statusFile.path) {
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        try await Task.sleep(nanoseconds: 1_500_000_000)
        let pid = try #require(Int32(contents(pidFile)))
        let sent = kill(pid, SIGTERM)  // as Slurm sends it
        let sendError = sent == 0 ? "" : String(cString: strerror(errno))
        while !FileManager.default.fileExists(atPath: statusFile.path) {
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        let status = Int32(contents(statusFile)) ?? -1
        let stderr = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        #expect(status == 143, "kill(\(pid), SIGTERM) = \(sent) \(sendError)\n\(stderr)")
        #expect(stderr.contains("handed back to pending"), "\(stderr)")
        let store = try JobStore(path: work + "/vxt.sqlite", readOnly: true)
        #expect(try store.counts(stage: "statements")[.running] == nil)
        let integrity = try await DatabaseQueue(path: work + "/vxt.sqlite").read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }
        #expect(integrity == "ok")

        let rerun = try await run(args)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try store.counts(stage: "extraction") == [.done: 2000])
        let out = dir.appendingPathComponent("out.jsonl")
        #expect(try await run(["export", "--work", work, "--format", "jsonl", "--out", out.path]).status == 0)
        let ids = try TestSupport.jsonLines(out).compactMap { $0["id"]?.stringValue }
        #expect(ids.count == 2000 && Set(ids).count == 2000)
    }

    @Test func aStoreCopiedAloneAfterARunHoldsEverything() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = dir.appendingPathComponent("work").path
        #expect(try await run(["run", "pipelines/paper.yaml"] + sample + ["--images", "samples/images", "--work", work]).status == 0)
        let copy = dir.appendingPathComponent("copy")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: work + "/vxt.sqlite", toPath: copy.path + "/vxt.sqlite")
        let status = try JobStore(path: copy.path + "/vxt.sqlite", readOnly: true).status()
        #expect(status.records == 12)
        #expect(status.stages.last?.counts[.done] == 10)
    }

    @Test func exportsGoToStdoutAndNeverReplaceWhatIsNotAFile() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = dir.appendingPathComponent("work").path
        #expect(try await run(["run", "pipelines/paper.yaml"] + sample + ["--images", "samples/images", "--work", work]).status == 0)
        let file = dir.appendingPathComponent("c.jsonl")
        #expect(try await run(["export", "--work", work, "--format", "jsonl", "--out", file.path]).status == 0)
        let toStdout = try await run(["export", "--work", work, "--format", "jsonl", "--out", "-"])
        #expect(toStdout.status == 0)
        let written = try String(contentsOf: file, encoding: .utf8)
        #expect(toStdout.stdout == written)
        #expect(!FileManager.default.fileExists(atPath: TestSupport.packageRoot.appendingPathComponent("-").path))
        // A link to a device stays a link; the device gets the bytes.
        let link = dir.appendingPathComponent("null-link")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "/dev/null")
        #expect(try await run(["export", "--work", work, "--format", "jsonl", "--out", link.path]).status == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link.path) == "/dev/null")
        let missing = try await run(["export", "--work", work, "--format", "jsonl", "--out", dir.path + "/no/such/c.jsonl"])
        #expect(missing.status != 0 && missing.stderr.contains("folder \(dir.path)/no/such does not exist"), "\(missing.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).allSatisfy { !$0.hasSuffix(".partial") })
    }

    @Test func aMisspelledPipelineKeyIsAnErrorWithItsLine() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let paper = try String(contentsOf: TestSupport.paperPipeline, encoding: .utf8)
        let bad = dir.appendingPathComponent("bad.yaml")
        try paper.replacingOccurrences(of: "  jpeg_quality: 95", with: "  jpeg_qualty: 95").write(
            to: bad, atomically: true, encoding: .utf8)
        let line = paper.components(separatedBy: "\n").firstIndex { $0.hasPrefix("  jpeg_quality") }.map { $0 + 1 } ?? 0
        let validate = try await run(["validate", bad.path])
        #expect(validate.status == 1)
        #expect(
            validate.stderr.contains("line \(line): unknown key `jpeg_qualty` in image; did you mean `jpeg_quality`?"), "\(validate.stderr)"
        )
        let runIt = try await run(["run", bad.path] + sample + ["--work", dir.appendingPathComponent("w").path])
        #expect(runIt.status != 0 && runIt.stderr.contains("jpeg_qualty"))
        #expect(try await run(["validate", "pipelines/paper.yaml"]).status == 0)
    }
}
