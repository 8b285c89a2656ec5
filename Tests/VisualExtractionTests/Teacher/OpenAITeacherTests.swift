import Foundation
import MockTeacher
import Testing
import Yams
@testable import VisualExtraction

/// The libcurl client against the mock teacher over real loopback HTTP.
// A hang fails the suite instead of holding CI: generous, since no test bounds real time otherwise.
@Suite(.timeLimit(.minutes(15))) struct OpenAITeacherTests {
    @Test func statementsAndDescriptionsFromTheMock() async throws {
        let server = try await MockTeacherServer.start()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let teacher = OpenAITeacher(endpoint: TeacherEndpoint(baseURL: server.baseURL + "/", apiKey: "sk-test-not-logged"), client: client)

        let text = await teacher.complete(
            ChatRequest(
                model: "m",
                prompt: "Question #1: What color is the cup?\nAnswer: Red\nQuestion #2: Is it hot?\nAnswer: Yes\nDeclarative Statement(s):",
                images: [], maxTokens: 64, temperature: 0))
        let statements = try text.get()
        #expect(statements.mock)
        #expect(statements.text.split(separator: "\n").count == 2)
        #expect(statements.endpoint == server.baseURL)
        #expect((statements.promptTokens ?? 0) > 0)

        let image = try ImagePreparer(
            root: ImageRoot(path: TestSupport.sampleImages.path),
            settings: ImageSettings(mode: .exact, width: 512, height: 512)
        ).prepare("sklearn/flower.jpg")
        let described = try await teacher.complete(
            ChatRequest(
                model: "m", prompt: "As part of your description, x\nThe flower is orange.\nDescription:", images: [image], maxTokens: 64,
                temperature: 0)
        ).get()
        #expect(described.text.contains("512x512"))
        #expect(described.text.contains("The flower is orange."))
        await server.shutdown()
    }

    /// Chat completions as other servers shape them: content parts are joined; other shapes fail
    /// as bad answers instead of reaching the corpus as JSON text.
    @Test func contentPartsAreJoinedAndOtherShapesRefused() throws {
        func parse(_ content: String) -> Result<ChatResult, TeacherFailure> {
            OpenAITeacher.parse(Array("{\"choices\": [{\"message\": {\"content\": \(content)}, \"finish_reason\": \"stop\"}]}".utf8))
        }
        #expect(
            try parse("[{\"type\": \"text\", \"text\": \"A red \"}, {\"type\": \"text\", \"text\": \"bus.\"}]").get().text == "A red bus.")
        guard case let .failure(parts) = parse("[{\"type\": \"image_url\"}]"), case let .failure(number) = parse("42") else {
            Issue.record("must fail"); return
        }
        #expect(parts.kind == .badAnswer && number.kind == .badAnswer)
    }

    @Test func clientErrorsAreNotRetriedAndKeepTheServersMessage() async throws {
        let server = try await MockTeacherServer.start()
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let teacher = OpenAITeacher(endpoint: TeacherEndpoint(baseURL: server.baseURL, apiKey: nil, maxAttempts: 4), client: client)
        let broken = PreparedImage(
            bytes: Array("not a jpeg".utf8), mimeType: "image/jpeg", width: 1, height: 1, sourceWidth: 1,
            sourceHeight: 1, sourceFormat: .jpeg, sourceSHA256: "x")
        let result = await teacher.complete(ChatRequest(model: "m", prompt: "p", images: [broken], maxTokens: 8, temperature: nil))
        guard case let .failure(failure) = result else { Issue.record("a 400 must fail"); return }
        #expect(failure.status == 400)
        #expect(failure.attempts == 1)
        #expect(failure.message.contains("cannot decode the request's image"))
        await server.shutdown()
    }

    @Test func refusedConnectionsFailWithReasonAfterRetries() async throws {
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        // Port 9 (discard) on loopback: nothing listens in the test environment.
        let teacher = OpenAITeacher(
            endpoint: TeacherEndpoint(baseURL: "http://127.0.0.1:9/v1", apiKey: nil, connectTimeoutSeconds: 2, maxAttempts: 2),
            client: client)
        let result = await teacher.complete(ChatRequest(model: "m", prompt: "p", images: [], maxTokens: 8, temperature: nil))
        guard case let .failure(failure) = result else { Issue.record("nothing listens on port 9"); return }
        #expect(failure.attempts == 2)
        #expect(failure.message.contains("transport error"))
        #expect(failure.message.contains("gave up after 2 attempts"))
    }

    @Test func aRequestStopsFailingAfterItsRetryWindowWhateverAttemptsAreLeft() async throws {
        // A lone server that answers every request with 500: without a bound on failing time,
        // each request would wait out ejection windows (up to 60 s) for every one of its attempts.
        let server = try await MockTeacherServer.start(.init(faults: MockFaults(failRate: 1, kinds: [.serverError])))
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        // A clock on which every look costs 40 s: the 100 s bound is reached on the third look
        // after the first failure, long before the 10 attempts are used.
        let clock = TestClock(0, step: 40)
        let teacher = OpenAITeacher(
            endpoints: [TeacherEndpoint(baseURL: server.baseURL, apiKey: nil, maxAttempts: 10, retryWindowSeconds: 100)],
            client: client, now: clock.read)
        let result = await teacher.complete(ChatRequest(model: "m", prompt: "p", images: [], maxTokens: 8, temperature: nil))
        guard case let .failure(failure) = result else { Issue.record("every answer is a 500"); return }
        #expect(failure.status == 500)
        #expect(failure.attempts >= 2 && failure.attempts < 10, "\(failure.attempts) attempts")
        #expect(failure.message.contains("retry_window_seconds"), "\(failure.message)")
        await server.shutdown()
    }

    @Test func manyConcurrentRequestsAllComplete() async throws {
        let server = try await MockTeacherServer.start(.init(latencyMs: 50))
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let teacher = OpenAITeacher(endpoint: TeacherEndpoint(baseURL: server.baseURL, apiKey: nil), client: client)
        let answers = await withTaskGroup(of: String?.self) { group in
            for i in 0..<300 {
                group.addTask {
                    try? await teacher.complete(
                        ChatRequest(model: "m", prompt: "Question #1: q\(i)?\nAnswer: a\(i)", images: [], maxTokens: 8, temperature: 0)
                    ).get().text
                }
            }
            var out: [String?] = []
            for await answer in group { out.append(answer) }
            return out
        }
        #expect(answers.count == 300)
        #expect(answers.allSatisfy { $0 != nil })
        #expect(Set(answers.compactMap { $0 }).count == 300, "each answer belongs to its own request")
        await server.shutdown()
    }

    /// Past `transfersPerLane` in flight the client adds libcurl multi handles (lanes): each must
    /// route its sockets, fire its own timeouts, and reuse its own idle connections.
    @Test func requestsOverSeveralMultiHandlesCompleteTimeOutAndReuseConnections() async throws {
        let server = try await MockTeacherServer.start(.init(latencyMs: 50))
        let client = try CurlHTTPClient(transfersPerLane: 7)
        defer { client.shutdown() }
        let teacher = OpenAITeacher(endpoint: TeacherEndpoint(baseURL: server.baseURL, apiKey: nil), client: client)
        func round(_ name: String) async -> [String?] {
            await withTaskGroup(of: String?.self) { group in
                for i in 0..<150 {
                    group.addTask {
                        try? await teacher.complete(
                            ChatRequest(
                                model: "m", prompt: "Question #1: \(name) \(i)?\nAnswer: a\(i)", images: [], maxTokens: 8, temperature: 0)
                        ).get().text
                    }
                }
                var out: [String?] = []
                for await answer in group { out.append(answer) }
                return out
            }
        }
        let first = await round("first")
        #expect(first.count == 150 && first.allSatisfy { $0 != nil })
        #expect(Set(first.compactMap { $0 }).count == 150, "each answer belongs to its own request")
        let opened = server.ledger.connections
        let second = await round("second")
        #expect(second.allSatisfy { $0 != nil })
        // The same lanes fill again in the same order and find their idle connections.
        #expect(server.ledger.connections - opened < opened / 2, "\(opened) connections, then \(server.ledger.connections)")
        await server.shutdown()

        // A server that never answers: every lane's own timer must end its transfers.
        let stalled = try await MockTeacherServer.start(.init(faults: MockFaults(failRate: 1, kinds: [.stall])))
        let slow = OpenAITeacher(
            endpoint: TeacherEndpoint(baseURL: stalled.baseURL, apiKey: nil, timeoutSeconds: 0.5, maxAttempts: 1), client: client)
        let failures = await withTaskGroup(of: TeacherFailure?.self) { group in
            for i in 0..<30 {
                group.addTask {
                    if case let .failure(failure) = await slow.complete(
                        ChatRequest(model: "m", prompt: "Question #1: stall \(i)?\nAnswer: a", images: [], maxTokens: 8, temperature: 0))
                    {
                        return failure
                    }
                    return nil
                }
            }
            var out: [TeacherFailure?] = []
            for await failure in group { out.append(failure) }
            return out
        }
        #expect(failures.count == 30 && failures.allSatisfy { $0?.kind == .timeout }, "\(failures.map { $0?.message ?? "answered" })")
        await stalled.shutdown()
    }

    @Test func retryAfterInSecondsAndAsHTTPDate() {
        #expect(OpenAITeacher.retryAfterSeconds("7") == 7)
        #expect(OpenAITeacher.retryAfterSeconds(nil) == nil)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        #expect(OpenAITeacher.retryAfterSeconds(formatter.string(from: now.addingTimeInterval(30)), now: now) == 30)
        // Nonsense and extremes: never "no back-off", never a wait of ages.
        #expect(OpenAITeacher.retryAfterSeconds("0") == nil)
        #expect(OpenAITeacher.retryAfterSeconds("-5") == nil)
        #expect(OpenAITeacher.retryAfterSeconds("nan") == nil)
        #expect(OpenAITeacher.retryAfterSeconds("1e308") == OpenAITeacher.longestRetryAfter)
        #expect(OpenAITeacher.retryAfterSeconds("inf") == nil)
        #expect(OpenAITeacher.retryAfterSeconds(formatter.string(from: now.addingTimeInterval(-60)), now: now) == nil)
        #expect(OpenAITeacher.isRetryable(status: 429) && OpenAITeacher.isRetryable(status: 503) && OpenAITeacher.isRetryable(status: 408))
        #expect(
            !OpenAITeacher.isRetryable(status: 400) && !OpenAITeacher.isRetryable(status: 401) && !OpenAITeacher.isRetryable(status: 404))
    }

    @Test func curlTimingsAreDroppedSoFailuresGroup() {
        #expect(
            CurlHTTPClient.withoutTimings("Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server")
                == "Failed to connect to 127.0.0.1 port 9: Couldn't connect to server")
        #expect(
            CurlHTTPClient.withoutTimings("Operation timed out after 600001 milliseconds with 0 bytes received")
                == "Operation timed out with 0 bytes received")
    }

    @Test func storedRequestHasNoImageBytesAndNoKey() throws {
        let image = try ImagePreparer(
            root: ImageRoot(path: TestSupport.sampleImages.path),
            settings: ImageSettings(mode: .exact, width: 64, height: 64)
        ).prepare("skimage/coins.png")
        let request = ChatRequest(model: "m", prompt: "describe", images: [image], maxTokens: 8, temperature: 0)
        let logged = request.loggedBody()
        #expect(!logged.contains("base64"))
        #expect(logged.contains("sha256:\(image.sourceSHA256)"))
        let body = String(decoding: request.body(), as: UTF8.self)
        #expect(body.contains("data:image/jpeg;base64,"))
        #expect((try? JSONParser.parse(body)) != nil)
    }

    /// `extra_body` as a pipeline file writes it, read through the YAML decoder, sent after
    /// vxt's own fields in the body, the stored request and a batch line alike.
    @Test func extraBodyFieldsFromAPipelineFileReachTheBody() throws {
        let yaml = """
            chat_template_kwargs: {enable_thinking: false}
            top_k: 20
            repetition_penalty: 1.05
            stop: ["</s>", "\\n\\n"]
            note: null
            """
        let fields = try YAMLDecoder().decode([String: JSONValue].self, from: yaml)
        let extra = fields.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
        let request = ChatRequest(model: "m", prompt: "p", images: [], maxTokens: 8, temperature: 0, extraBody: extra)
        let expected =
            #""max_tokens":8,"temperature":0.0,"chat_template_kwargs":{"enable_thinking":false},"note":null,"#
            + #""repetition_penalty":1.05,"stop":["</s>","\n\n"],"top_k":20}"#
        for text in [String(decoding: request.body(), as: UTF8.self), request.loggedBody()] {
            #expect(text.hasSuffix(expected), "\(text)")
            #expect((try? JSONParser.parse(text)) != nil)
        }
    }
}
