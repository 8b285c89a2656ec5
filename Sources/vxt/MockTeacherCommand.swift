import ArgumentParser
import MockTeacher
import VisualExtraction

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

    @Option(
        help:
            "Faults to draw from, comma-separated: 429 (with Retry-After), 500, drop (connection closed unanswered), stall (never answers), length (half an answer, finish_reason length)."
    )
    var faults = MockFaultKinds.all

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

    @Option(
        help: ArgumentHelp(
            "Run an OpenAI Batch request file offline, as `vllm run-batch -i FILE -o --output` would, and exit (with --fail-rate: that share of 500 responses).",
            valueName: "file"))
    var runBatch: String?

    @Option(help: ArgumentHelp("With --run-batch: the output file to write.", valueName: "file"))
    var output: String?

    @Option(help: "Answer statement prompts with too few lines (short-once, short-always), to rehearse the count checks.")
    var statementFault: MockResponder.StatementFault?

    @Option(help: "With --stdio: exit with status 3 after this many answers, abandoning the rest, to rehearse a crashing model process.")
    var exitAfter: Int?

    @OptionGroup var logging: LogOptions

    func validate() throws {
        if (runBatch == nil) != (output == nil) { throw ValidationError("--run-batch and --output go together") }
    }

    func run() async throws {
        logging.bootstrap()
        if let runBatch, let output {
            let summary = try MockBatch.run(
                input: runBatch, output: output, statementFault: statementFault, failRate: failRate, seed: seed)
            Output.info("mock batch: \(summary.answered) answered, \(summary.failed) failed → \(output)")
            return
        }
        if stdio {
            await MockStdioTeacher.serve(latencyMs: latencyMs, jitterMs: jitterMs, exitAfter: exitAfter)
            return
        }
        let server = try await MockTeacherServer.start(
            .init(
                host: host, port: port, latencyMs: latencyMs,
                faults: MockFaults(failRate: failRate, kinds: faults.kinds, seed: seed, retryAfterSeconds: retryAfter, jitterMs: jitterMs),
                threads: threads,
                fixedAnswer: fixedAnswer))
        Output.info(
            "mock teacher listening on \(server.baseURL)"
                + (failRate > 0 ? " (fault rate \(failRate): \(faults.defaultValueDescription), seed \(seed))" : ""))
        try await server.wait()
    }
}
