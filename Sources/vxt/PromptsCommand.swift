import ArgumentParser
import Foundation
import MockTeacher
import VisualExtraction

struct PromptsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompts",
        abstract: "Print the exact prompts a stage would send, as JSONL: {\"id\": ..., \"prompt\": ...}.",
        discussion: """
            One line per record with an image, without calling any teacher. A stage that needs another stage's output \
            (the extraction stage needs statements) takes it from --work, the work directory of a run.
            """
    )

    @Argument(help: "Pipeline file.")
    var pipeline: String

    @Option(help: "Corpus file (LLaVA JSON array or JSONL).")
    var input: String

    @Option(help: "Stage to render.")
    var stage: String

    @Option(help: "Work directory to take upstream stage outputs from.")
    var work: String?

    func run() throws {
        let pipeline = try Pipeline.load(path: pipeline)
        guard let stage = pipeline.stage(named: stage) else {
            throw ValidationError("pipeline has no stage \"\(self.stage)\"; it has \(pipeline.stages.map(\.name).joined(separator: ", "))")
        }
        let store = try work.map { try JobStore.open(workDirectory: $0) }
        if !stage.needs.isEmpty && store == nil {
            throw ValidationError("stage \(stage.name) needs \(stage.needs.joined(separator: ", ")); pass --work DIR of a run that has them")
        }
        var problems = 0
        _ = try RecordSplitter(path: input).forEach { event in
            guard case let .record(raw) = event, case let .success(record) = LLaVARecordDecoder.decode(raw) else {
                problems += 1
                return
            }
            guard record.skipReason == nil else { return }
            var upstream: [String: String] = [:]
            if let store, !stage.needs.isEmpty {
                guard let detail = try? store.detail(id: String(record.position)) else { return }
                for need in stage.needs {
                    guard let output = detail.tasks.first(where: { $0.stage == need && $0.state == .done })?.output else { return }
                    upstream[need] = output
                }
            }
            let prompt = try stage.prompt(for: record, upstream: upstream)
            Output.data(JSONValue.object([("id", .string(record.displayID)), ("prompt", .string(prompt))]).jsonText)
        }
        if problems > 0 { Output.info("\(problems) records could not be read; `vxt run` reports each with its reason") }
    }
}

struct MockTeacherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-teacher",
        abstract: "Serve the mock teacher: an OpenAI-compatible /v1/chat/completions on loopback, no GPU.",
        discussion: """
            Answers deterministically from each request: statements restate the prompt's QA pairs, descriptions state \
            the received image's size and mean colour and repeat the statements. Answers carry \
            system_fingerprint "vxt-mock-teacher", so runs against it are marked mock.
            """
    )

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8000

    @Option(help: "Address to bind; keep it on loopback.")
    var host = "127.0.0.1"

    @Option(help: "Delay each answer by this many milliseconds.")
    var latencyMs = 0

    @Option(help: "Add a further delay, uniform in 0...N milliseconds, drawn per request from the seed.")
    var jitterMs = 0

    @Option(help: "Share of chat-completion requests that meet a fault (0-1).")
    var failRate: Double = 0

    @Option(help: "Faults to draw from: 429 (with Retry-After), 500, drop (connection closed unanswered), stall (never answers), length (half an answer, finish_reason length).")
    var faults = "429,500,drop,stall,length"

    @Option(help: "Seed of the fault and jitter draws: the same seed and requests meet the same faults.")
    var seed: UInt64 = 1

    @Option(help: "Retry-After seconds sent with 429 faults.")
    var retryAfter = 1

    @Option(help: "Event-loop threads.")
    var threads = 1

    @Flag(help: "Answer every request with the same sentence without reading its body: the cheapest stand-in server, for benchmarks.")
    var fixedAnswer = false

    @Flag(help: "Speak the local-process protocol on stdin/stdout instead of HTTP (for --teacher cmd:'vxt mock-teacher --stdio').")
    var stdio = false

    @Option(help: "With --stdio: exit with status 3 after this many answers, abandoning the rest, to rehearse a crashing model process.")
    var exitAfter: Int?

    func run() async throws {
        if stdio {
            await MockStdioTeacher.serve(latencyMs: latencyMs, jitterMs: jitterMs, exitAfter: exitAfter)
            return
        }
        let kinds: [MockFaults.Kind]
        do { kinds = try MockFaults.parseKinds(faults) } catch { throw ValidationError("--faults: \(error)") }
        let server = try await MockTeacherServer.start(.init(
            host: host, port: port, latencyMs: latencyMs,
            faults: MockFaults(failRate: failRate, kinds: kinds, seed: seed, retryAfterSeconds: retryAfter, jitterMs: jitterMs), threads: threads,
            fixedAnswer: fixedAnswer))
        Output.info("mock teacher listening on \(server.baseURL)" + (failRate > 0 ? " (fault rate \(failRate): \(faults), seed \(seed))" : ""))
        try await server.wait()
    }
}
