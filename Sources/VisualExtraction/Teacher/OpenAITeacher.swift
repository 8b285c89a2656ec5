import Foundation
public import Logging

/// Where a teacher server is and how to talk to it. The API key is read from the environment
/// by name and kept only in memory: never logged, stored or exported.
public struct TeacherEndpoint: Sendable {
    /// Base URL up to and including `/v1`, e.g. `http://127.0.0.1:8000/v1`, as it is shown, logged
    /// and stored: a `user:password@` in the given URL is left out (it is a secret).
    public var baseURL: String
    /// The base URL as given, credentials included: what requests go to.
    let requestBaseURL: String
    public var apiKey: String?
    /// The model name this server knows the weights by, when it differs from the pipeline's.
    public var model: String?
    /// Extra header lines ("X-Team: vision"); never logged.
    public var headers: [String]
    public var limits: EndpointLimits
    public var timeoutSeconds: Double
    public var connectTimeoutSeconds: Double
    public var maxAttempts: Int
    /// How long one request may go on failing (from its first failed attempt) before it is given
    /// up, whatever attempts are left: a lone server that keeps answering 500 is probed once per
    /// ejection window, and requests queued behind that probe would otherwise wait minutes each.
    public var retryWindowSeconds: Double
    /// Certificates to trust for this HTTPS server instead of the system's (`--ca-file`).
    public var caFile: String?

    public init(
        baseURL: String, apiKey: String?, model: String? = nil, headers: [String] = [],
        limits: EndpointLimits = EndpointLimits(maxConcurrency: 1 << 20),
        timeoutSeconds: Double = 600, connectTimeoutSeconds: Double = 10, maxAttempts: Int = 4,
        retryWindowSeconds: Double = TeacherEndpoint.defaultRetryWindowSeconds, caFile: String? = nil
    ) {
        self.caFile = caFile
        self.retryWindowSeconds = retryWindowSeconds
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.requestBaseURL = base
        self.baseURL = TeacherEndpoint.withoutCredentials(base)
        self.apiKey = apiKey
        self.model = model
        self.headers = headers
        self.limits = limits
        self.timeoutSeconds = timeoutSeconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.maxAttempts = max(1, maxAttempts)
    }

    /// Five minutes: long enough to ride out a server restart between attempts, short enough
    /// that a run on a broken server reports its failures instead of grinding.
    public static let defaultRetryWindowSeconds = 300.0

    public var chatCompletionsURL: String { requestBaseURL + "/chat/completions" }
    var modelsURL: String { requestBaseURL + "/models" }
    /// For messages: the URL without credentials.
    var shownChatCompletionsURL: String { baseURL + "/chat/completions" }

    /// A request to this server with its headers, timeouts and trusted certificates.
    func request(url: String, body: [UInt8]) -> HTTPRequest {
        var request = HTTPRequest(
            url: url, headers: headerLines, body: body, timeoutSeconds: timeoutSeconds, connectTimeoutSeconds: connectTimeoutSeconds)
        request.caFile = caFile
        return request
    }

    /// `scheme://user:password@host/path` → `scheme://host/path`.
    static func withoutCredentials(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + rest[rest.index(after: at)...]
    }

    /// `text` with this endpoint's secrets (the API key, the URL's credentials) replaced, for
    /// anything kept or shown: a server may echo the key back in an error body.
    func redacted(_ text: String) -> String {
        var text = text
        if let key = apiKey, key.count >= 4 { text = text.replacingOccurrences(of: key, with: "[redacted]") }
        if requestBaseURL != baseURL { text = text.replacingOccurrences(of: requestBaseURL, with: baseURL) }
        return text
    }

    var headerLines: [String] {
        var lines = headers
        if let key = apiKey, !key.isEmpty { lines.append("Authorization: Bearer \(key)") }
        return lines
    }
}

/// An OpenAI-compatible `/chat/completions` teacher (vLLM, SGLang, llama.cpp, Ollama, hosted
/// APIs) on one or many servers over the shared libcurl client. Each attempt goes where the
/// `EndpointBalancer` says; what a server may answer differently later is retried, on another
/// server when there is one.
public struct OpenAITeacher: Teacher {
    public let endpoints: [TeacherEndpoint]
    public let balancer: EndpointBalancer
    let client: CurlHTTPClient
    /// Told of every attempt's end, for the progress line and the stalled-teacher stop.
    public let monitor: TeacherMonitor?
    /// Every failed attempt at debug level, with its endpoint, kind and the wait before the next.
    let logger: Logger
    /// Seconds; shared with the balancer so that "failing for too long" and ejection windows
    /// are read off one clock (a test's, in tests).
    let now: @Sendable () -> Double

    /// The mock teacher signs its answers with this `system_fingerprint`.
    public static let mockFingerprint = "vxt-mock-teacher"

    public init(
        endpoints: [TeacherEndpoint], client: CurlHTTPClient, monitor: TeacherMonitor? = nil, logger: Logger = .disabled,
        now: (@Sendable () -> Double)? = nil
    ) {
        precondition(!endpoints.isEmpty, "a teacher needs at least one endpoint")
        let clock = now ?? { Date().timeIntervalSince1970 }
        self.endpoints = endpoints
        self.client = client
        self.monitor = monitor
        self.logger = logger
        self.now = clock
        balancer = EndpointBalancer(limits: endpoints.map(\.limits), now: clock)
    }

    public init(endpoint: TeacherEndpoint, client: CurlHTTPClient) {
        self.init(endpoints: [endpoint], client: client)
    }

    public var endpointDescription: String { endpoints.map(\.baseURL).joined(separator: ", ") }

    public func complete(_ request: ChatRequest) async -> Result<ChatResult, TeacherFailure> {
        let maxAttempts = endpoints.map(\.maxAttempts).max() ?? 1
        let retryWindow = endpoints.map(\.retryWindowSeconds).max() ?? TeacherEndpoint.defaultRetryWindowSeconds
        let tokens = request.estimatedTokens
        var attempt = 0
        var lastMessage = ""
        var lastStatus: Int?
        var lastKind = FailureKind.other
        var lastEndpoint: String?
        var failingSince: Double?
        var outOfTime = false
        while attempt < maxAttempts {
            guard let slot = await balancer.acquire(estimatedTokens: tokens, until: failingSince.map { $0 + retryWindow }) else {
                outOfTime = true
                break
            }
            attempt += 1
            let endpoint = endpoints[slot.endpoint]
            lastEndpoint = endpoint.baseURL
            var delay: Double?
            // The body is built only when the upload budget has room for it, and freed once sent.
            let sent = await client.send(reserving: request.estimatedBodyBytes) {
                endpoint.request(url: endpoint.chatCompletionsURL, body: request.body(model: endpoint.model))
            }
            switch sent {
            case let .failure(error):
                await balancer.release(slot, error.isTimeout ? .overloaded(retryAfter: nil) : error.isRewind ? .neutral : .failed)
                lastMessage = endpoint.redacted("\(error) from \(endpoint.shownChatCompletionsURL)")
                lastStatus = nil
                lastKind = error.failureKind
                monitor?.failed(endpoint: endpoint.baseURL, kind: lastKind, message: error.message)
                if error.isOversized {
                    return .failure(
                        TeacherFailure(message: lastMessage, status: nil, attempts: attempt, kind: .badAnswer, endpoint: endpoint.baseURL))
                }
                delay = endpoints.count > 1 || error.isRewind ? 0 : OpenAITeacher.backoff(attempt: attempt)
            case let .success(response):
                if response.status == 200 {
                    await balancer.release(slot, .success)
                    monitor?.answered(endpoint: endpoint.baseURL)
                    switch OpenAITeacher.parse(response.body) {
                    case let .success(result):
                        var result = result
                        result.endpoint = endpoint.baseURL
                        result.attempts = attempt
                        return .success(result)
                    case let .failure(failure):
                        return .failure(
                            TeacherFailure(
                                message: endpoint.redacted(failure.message), status: 200, attempts: attempt, kind: .badAnswer,
                                endpoint: endpoint.baseURL))
                    }
                }
                lastStatus = response.status
                lastMessage = endpoint.redacted(
                    "HTTP \(response.status) from \(endpoint.shownChatCompletionsURL): \(OpenAITeacher.errorExcerpt(response.body))")
                lastKind = .httpStatus
                monitor?.failed(endpoint: endpoint.baseURL, kind: .httpStatus, message: "HTTP \(response.status)")
                guard OpenAITeacher.isRetryable(status: response.status) else {
                    await balancer.release(slot, .success)
                    return .failure(
                        TeacherFailure(
                            message: lastMessage, status: response.status, attempts: attempt, kind: .httpStatus,
                            endpoint: endpoint.baseURL))
                }
                let retryAfter = OpenAITeacher.retryAfterSeconds(response.retryAfter)
                if response.status == 429 || response.status == 503 || response.status == 408 {
                    // The balancer holds this endpoint back for Retry-After; the retry waits for it
                    // only when no other endpoint can take the request.
                    await balancer.release(slot, .overloaded(retryAfter: retryAfter))
                    delay = retryAfter == nil ? OpenAITeacher.backoff(attempt: attempt) : 0
                } else {
                    await balancer.release(slot, .failed)
                    delay = OpenAITeacher.backoff(attempt: attempt)
                }
            }
            let failedAt = now()
            if failingSince == nil { failingSince = failedAt }
            if let since = failingSince, failedAt + (delay ?? 0) - since >= retryWindow, attempt < maxAttempts {
                outOfTime = true
            }
            logger.debug(
                "teacher attempt failed",
                metadata: [
                    "endpoint.url": "\(endpoint.baseURL)", "attempt.number": "\(attempt)", "attempt.limit": "\(maxAttempts)",
                    "failure.kind": "\(lastKind.rawValue)", "http.status": "\(lastStatus.map(String.init) ?? "none")",
                    "retry.delay_seconds": "\(String(format: "%.3f", attempt < maxAttempts && !outOfTime ? delay ?? 0 : 0))"
                ])
            if outOfTime { break }
            if attempt < maxAttempts, let delay, delay > 0 {
                try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            }
        }
        let attempts = attempt == 1 ? "1 attempt" : "\(attempt) attempts"
        let gaveUp =
            outOfTime
            ? "gave up after \(attempts) and \(String(format: "%g", retryWindow)) s of failing (teacher.retry_window_seconds)"
            : "gave up after \(attempts)"
        return .failure(
            TeacherFailure(
                message: "\(lastMessage) (\(gaveUp))", status: lastStatus, attempts: attempt, kind: lastKind, endpoint: lastEndpoint))
    }

    /// 408, 409, 429 and 5xx may succeed later; other 4xx will not.
    public static func isRetryable(status: Int) -> Bool {
        status == 408 || status == 409 || status == 429 || status >= 500
    }

    static func backoff(attempt: Int) -> Double {
        let base = min(30, 0.5 * pow(2, Double(attempt - 1)))
        return base * Double.random(in: 0.5...1.5)
    }

    /// `Retry-After` as delta-seconds or an HTTP date, capped at ten minutes.
    /// The longest Retry-After honoured: a server asking for more (or for 1e308 s) is asked again
    /// after this, and the task's attempts still bound how long it may go on failing.
    static let longestRetryAfter = 120.0

    /// Seconds to wait from a Retry-After value (seconds or an HTTP date, relative to `now`),
    /// at most `longestRetryAfter`; nil when absent, unreadable, or not in the future (zero or
    /// negative means "no advice": the normal back-off applies).
    static func retryAfterSeconds(_ value: String?, now: Date = Date()) -> Double? {
        guard let value = value?.trimmed, !value.isEmpty else { return nil }
        let seconds: Double
        if let number = Double(value) {
            seconds = number
        } else {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
            guard let date = formatter.date(from: value) else { return nil }
            seconds = date.timeIntervalSince(now)
        }
        guard seconds.isFinite, seconds > 0 else { return nil }
        return min(seconds, longestRetryAfter)
    }

    static func parse(_ body: [UInt8]) -> Result<ChatResult, TeacherFailure> {
        guard let json = try? JSONParser.parse(body) else {
            return .failure(
                TeacherFailure(
                    message: "teacher answered 200 with a body that is not JSON: \(errorExcerpt(body))", status: 200,
                    attempts: 1, kind: .badAnswer))
        }
        return parse(json: json)
    }

    /// A chat-completion object, however it arrived (an HTTP body, a line from a local process).
    static func parse(json: JSONValue) -> Result<ChatResult, TeacherFailure> {
        func excerpt() -> [UInt8] { Array(json.jsonText.utf8.prefix(300)) }
        guard case let .array(choices)? = json["choices"], let choice = choices.first,
            let message = choice["message"]
        else {
            return .failure(
                TeacherFailure(
                    message: "teacher answer has no choices[0].message: \(errorExcerpt(excerpt()))", status: 200,
                    attempts: 1, kind: .badAnswer))
        }
        let text: String
        switch message["content"] {
        case let .string(s)?: text = s
        case .null?, nil: text = ""
        case let .array(parts)?:
            // Some servers answer with content parts ([{"type": "text", "text": …}]): the text is theirs
            // joined; anything else is not a description.
            let texts = parts.compactMap { $0["text"]?.stringValue }
            guard !texts.isEmpty else {
                return .failure(
                    TeacherFailure(
                        message: "teacher answer's content is a list without text parts: \(errorExcerpt(excerpt()))",
                        status: 200, attempts: 1, kind: .badAnswer))
            }
            text = texts.joined()
        case .some:
            return .failure(
                TeacherFailure(
                    message: "teacher answer's content is neither text nor a list of parts: \(errorExcerpt(excerpt()))",
                    status: 200, attempts: 1, kind: .badAnswer))
        }
        // A reasoning parser that met max_tokens mid-thought leaves the content empty and the
        // thought beside it (vLLM: `reasoning_content`, newer releases `reasoning`).
        if text.isEmpty, let reasoning = message["reasoning_content"]?.stringValue ?? message["reasoning"]?.stringValue,
            !reasoning.isEmpty
        {
            let answer = ChatResult(
                text: "", finishReason: choice["finish_reason"]?.stringValue, promptTokens: nil, completionTokens: nil,
                model: nil, mock: false, endpoint: "", attempts: 1)
            return .failure(ModelReasoning.reasoningOnly(answer, characters: reasoning.count, where: "reasoning_content, no content"))
        }
        let usage = json["usage"]
        func int(_ v: JSONValue?) -> Int? { if case let .number(n)? = v { return Int(n) ?? Double(n).map { Int($0) } } else { return nil } }
        return .success(
            ChatResult(
                text: text, finishReason: choice["finish_reason"]?.stringValue,
                promptTokens: int(usage?["prompt_tokens"]), completionTokens: int(usage?["completion_tokens"]),
                model: json["model"]?.stringValue, mock: json["system_fingerprint"]?.stringValue == mockFingerprint,
                endpoint: "", attempts: 1))
    }

    /// The server's own error message when it sent one, else the start of the body.
    static func errorExcerpt(_ body: [UInt8]) -> String {
        if let json = try? JSONParser.parse(body) {
            if let message = json["error"]?["message"]?.stringValue { return message }
            // vLLM before 0.7 answers errors flat: {"object": "error", "message": …, "code": 400}.
            if let message = json["error"]?.stringValue ?? json["detail"]?.stringValue ?? json["message"]?.stringValue { return message }
        }
        let text = String(decoding: body.prefix(300), as: UTF8.self)
        return text.isEmpty ? "(empty body)" : text
    }
}
