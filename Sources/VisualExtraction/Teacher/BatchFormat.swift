/// The OpenAI Batch JSONL exchange format, as hosted batch APIs and `vllm run-batch` read and
/// write it: one request per line (`custom_id`, `method`, `url`, `body`), and one output or
/// error line per request (`custom_id`, `response.status_code`, `response.body`, `error`).
public enum BatchFormat {
    /// The path every request line names: vxt's stages are chat completions.
    public static let url = "/v1/chat/completions"
    /// The endpoint answers from batch files are accounted under (`vxt status`, batch prices).
    public static let endpoint = "batch"

    /// One request line, newline included: exactly the body the online path would POST.
    public static func requestLine(customID: String, body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + customID.utf8.count + 80)
        out.append(contentsOf: "{\"custom_id\":".utf8)
        JSONValue.writeString(customID, to: &out)
        out.append(contentsOf: ",\"method\":\"POST\",\"url\":\"\(url)\",\"body\":".utf8)
        out.append(contentsOf: body)
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    /// Why an output line could not be read.
    public struct LineProblem: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Reads one line of an output or error file. An `error` object, or a response whose status
    /// is not 200, is an error result with its message; a 200 response keeps its body to be read
    /// exactly as an online answer would be (`OpenAITeacher.parse`).
    public static func result(fromLine json: JSONValue) throws(LineProblem) -> BatchResult {
        guard let customID = json["custom_id"]?.stringValue, !customID.isEmpty else {
            throw LineProblem(message: "no custom_id")
        }
        let response = json["response"]
        var status: Int?
        if case let .number(n)? = response?["status_code"] { status = Int(n) }
        let body = response?["body"].flatMap { $0 == .null ? nil : $0 }
        var error: String?
        if let failure = json["error"], failure != .null {
            error = failure["message"]?.stringValue ?? failure["code"]?.stringValue ?? failure.jsonText
            if let code = failure["code"]?.stringValue, let message = failure["message"]?.stringValue { error = "\(code): \(message)" }
        } else if status != 200 {
            let detail = body.map { $0["error"]?["message"]?.stringValue ?? $0["message"]?.stringValue ?? $0.jsonText }
            error = "HTTP \(status.map(String.init) ?? "status missing")" + (detail.map { ": \($0)" } ?? "")
        }
        return BatchResult(customID: customID, status: status, body: body?.jsonText, error: error)
    }

    /// Whether an error result means the request was never run (the batch expired or was
    /// cancelled): such a request is sent again by `--resubmit`, not failed.
    public static func isUnrun(_ result: BatchResult) -> Bool {
        guard let error = result.error?.lowercased(), result.status == nil || result.status == 0 else { return false }
        return error.contains("expired") || error.contains("cancel")
    }

    /// The answer a batch result stands for, as the online teacher would have returned it.
    static func answer(_ result: BatchResult) -> Result<ChatResult, TeacherFailure> {
        if result.succeeded, let body = result.body {
            switch OpenAITeacher.parse(Array(body.utf8)) {
            case var .success(answer):
                answer.endpoint = endpoint
                return .success(answer)
            case var .failure(failure):
                failure.message = "batch result: " + failure.message
                failure.endpoint = endpoint
                return .failure(failure)
            }
        }
        let kind: FailureKind = result.status.map { $0 != 200 } ?? false ? .httpStatus : .other
        return .failure(
            TeacherFailure(
                message: "batch result: \(result.error ?? "no answer")", status: result.status, attempts: 1, kind: kind,
                endpoint: endpoint))
    }
}

/// A result line of a batch output or error file, as the store keeps it.
public struct BatchResult: Sendable, Equatable {
    public var customID: String
    /// The HTTP status the batch service recorded; nil for an error line without a response.
    public var status: Int?
    /// The response body (a chat completion when `status` is 200), as JSON text.
    public var body: String?
    /// The error's message, for error lines and non-200 responses.
    public var error: String?

    public init(customID: String, status: Int?, body: String?, error: String?) {
        self.customID = customID
        self.status = status
        self.body = body
        self.error = error
    }

    public var succeeded: Bool { status == 200 && error == nil && body != nil }
}
