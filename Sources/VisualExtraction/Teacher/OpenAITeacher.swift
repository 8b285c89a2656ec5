import Foundation

/// Where a teacher server is and how to talk to it. The API key is read from the environment
/// by name and kept only in memory: never logged, stored or exported.
public struct TeacherEndpoint: Sendable {
    /// Base URL up to and including `/v1`, e.g. `http://127.0.0.1:8000/v1`.
    public var baseURL: String
    public var apiKey: String?
    public var timeoutSeconds: Double
    public var connectTimeoutSeconds: Double
    public var maxAttempts: Int

    public init(baseURL: String, apiKey: String?, timeoutSeconds: Double = 600, connectTimeoutSeconds: Double = 10, maxAttempts: Int = 4) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.apiKey = apiKey
        self.timeoutSeconds = timeoutSeconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.maxAttempts = max(1, maxAttempts)
    }

    public var chatCompletionsURL: String { baseURL + "/chat/completions" }
}

/// An OpenAI-compatible `/chat/completions` teacher (vLLM, SGLang, llama.cpp, Ollama, hosted
/// APIs) over the shared libcurl client, retrying what a server may answer differently later.
public struct OpenAITeacher: Teacher {
    public let endpoint: TeacherEndpoint
    let client: CurlHTTPClient

    /// The mock teacher signs its answers with this `system_fingerprint`.
    public static let mockFingerprint = "vxt-mock-teacher"

    public init(endpoint: TeacherEndpoint, client: CurlHTTPClient) {
        self.endpoint = endpoint
        self.client = client
    }

    public var endpointDescription: String { endpoint.baseURL }

    public func complete(_ request: ChatRequest) async -> Result<ChatResult, TeacherFailure> {
        var headers: [String] = []
        if let key = endpoint.apiKey, !key.isEmpty { headers.append("Authorization: Bearer \(key)") }
        let http = HTTPRequest(url: endpoint.chatCompletionsURL, headers: headers, body: request.body(),
                               timeoutSeconds: endpoint.timeoutSeconds, connectTimeoutSeconds: endpoint.connectTimeoutSeconds)
        var attempt = 0
        var lastMessage = ""
        var lastStatus: Int?
        while attempt < endpoint.maxAttempts {
            attempt += 1
            var delay: Double?
            switch await client.send(http) {
            case let .failure(error):
                lastMessage = "\(error) from \(endpoint.chatCompletionsURL)"
                lastStatus = nil
                delay = OpenAITeacher.backoff(attempt: attempt)
            case let .success(response):
                if response.status == 200 {
                    switch OpenAITeacher.parse(response.body) {
                    case let .success(result):
                        var result = result
                        result.endpoint = endpoint.baseURL
                        result.attempts = attempt
                        return .success(result)
                    case let .failure(failure):
                        return .failure(TeacherFailure(message: failure.message, status: 200, attempts: attempt))
                    }
                }
                lastStatus = response.status
                lastMessage = "HTTP \(response.status) from \(endpoint.chatCompletionsURL): \(OpenAITeacher.errorExcerpt(response.body))"
                guard OpenAITeacher.isRetryable(status: response.status) else {
                    return .failure(TeacherFailure(message: lastMessage, status: response.status, attempts: attempt))
                }
                delay = OpenAITeacher.retryAfterSeconds(response.retryAfter) ?? OpenAITeacher.backoff(attempt: attempt)
            }
            if attempt < endpoint.maxAttempts, let delay {
                try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            }
        }
        return .failure(TeacherFailure(message: "\(lastMessage) (gave up after \(attempt) attempts)", status: lastStatus, attempts: attempt))
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
    public static func retryAfterSeconds(_ value: String?) -> Double? {
        guard let value = value?.trimmed, !value.isEmpty else { return nil }
        if let seconds = Double(value) { return min(max(seconds, 0), 600) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return min(max(date.timeIntervalSinceNow, 0), 600)
    }

    static func parse(_ body: [UInt8]) -> Result<ChatResult, TeacherFailure> {
        guard let json = try? JSONParser.parse(body) else {
            return .failure(TeacherFailure(message: "teacher answered 200 with a body that is not JSON: \(errorExcerpt(body))", status: 200, attempts: 1))
        }
        guard case let .array(choices)? = json["choices"], let choice = choices.first,
              let message = choice["message"] else {
            return .failure(TeacherFailure(message: "teacher answer has no choices[0].message: \(errorExcerpt(body))", status: 200, attempts: 1))
        }
        let text: String
        switch message["content"] {
        case let .string(s)?: text = s
        case .null?, nil: text = ""
        case let other?: text = other.jsonText
        }
        let usage = json["usage"]
        func int(_ v: JSONValue?) -> Int? { if case let .number(n)? = v { return Int(n) ?? Double(n).map { Int($0) } } else { return nil } }
        return .success(ChatResult(
            text: text, finishReason: choice["finish_reason"]?.stringValue,
            promptTokens: int(usage?["prompt_tokens"]), completionTokens: int(usage?["completion_tokens"]),
            model: json["model"]?.stringValue, mock: json["system_fingerprint"]?.stringValue == mockFingerprint,
            endpoint: "", attempts: 1))
    }

    /// The server's own error message when it sent one, else the start of the body.
    static func errorExcerpt(_ body: [UInt8]) -> String {
        if let json = try? JSONParser.parse(body) {
            if let message = json["error"]?["message"]?.stringValue { return message }
            if let message = json["error"]?.stringValue ?? json["detail"]?.stringValue { return message }
        }
        let text = String(decoding: body.prefix(300), as: UTF8.self)
        return text.isEmpty ? "(empty body)" : text
    }
}
