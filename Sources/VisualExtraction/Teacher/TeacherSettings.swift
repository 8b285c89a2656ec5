import Foundation

/// The `teacher:` section of a pipeline file: which model, how long to wait, which servers.
/// Parsed here, beside the code that uses it, so that the teacher depends on no pipeline type.
public struct TeacherSettings: Codable, Sendable, Equatable {
    public var model: String
    public var temperature: Double?
    public var timeoutSeconds: Double?
    public var connectTimeoutSeconds: Double?
    public var maxAttempts: Int?
    /// How long one request may go on failing before it is given up (default 300 s); not hashed.
    public var retryWindowSeconds: Double?
    /// Servers to spread requests over (added to any `--teacher` given). Where the teacher
    /// runs does not change what it answers, so endpoints are not part of the pipeline's hash.
    public var endpoints: [EndpointSettings]?
    /// Price per million tokens by model name, for the cost `vxt status` shows; not hashed.
    public var prices: [String: TokenPrice]?
    /// How images reach the teacher: inside the body as base64 data URLs (the default), or as
    /// `file://` paths of the prepared images for servers that read the same file system
    /// (vLLM with `--allowed-local-media-path`, local-process teachers). Not hashed: the
    /// teacher sees the same pixels either way.
    public var imageTransport: ImageTransport?
    /// Where `file` transport writes the prepared images (content-addressed, shared by runs);
    /// default `<work>/prepared-images`. Must be visible to the servers under the same path.
    public var imageDirectory: String?
    /// Fields added to every request body, for what only some servers understand: vLLM's
    /// `chat_template_kwargs: {enable_thinking: false}` turns a Qwen3 model's thinking off,
    /// `top_k` or `repetition_penalty` set its sampling. Hashed: they change the answers.
    public var extraBody: [String: JSONValue]?

    /// `extra_body` as a request writes it: fields sorted by name, so that bodies, cache keys
    /// and batch ids do not depend on a dictionary's order.
    public static func bodyFields(_ extraBody: [String: JSONValue]?) -> [(key: String, value: JSONValue)] {
        (extraBody ?? [:]).sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }
    }

    /// Body fields vxt writes itself; `extra_body` may not set them.
    public static let ownBodyFields: Set<String> = ["model", "messages", "max_tokens", "temperature", "stream", "n"]

    public enum ImageTransport: String, Codable, Sendable {
        case dataURL = "data_url"
        case file
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, temperature, endpoints, prices
        case imageTransport = "image_transport"
        case imageDirectory = "image_dir"
        case timeoutSeconds = "timeout_seconds"
        case connectTimeoutSeconds = "connect_timeout_seconds"
        case maxAttempts = "max_attempts"
        case retryWindowSeconds = "retry_window_seconds"
        case extraBody = "extra_body"
    }
}

/// One teacher server of a fleet.
public struct EndpointSettings: Codable, Sendable, Equatable {
    /// Base URL up to `/v1` (a local-process teacher is given with `--teacher cmd:...`).
    public var url: String
    /// The name this server serves the model under, when not the pipeline's `model`.
    public var model: String?
    /// Environment variable holding this server's API key.
    public var apiKeyEnv: String?
    public var headers: [String: String]?
    public var maxConcurrency: Int?
    public var requestsPerMinute: Double?
    public var tokensPerMinute: Double?

    public init(url: String) { self.url = url }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case url, model, headers
        case apiKeyEnv = "api_key_env"
        case maxConcurrency = "max_concurrency"
        case requestsPerMinute = "requests_per_minute"
        case tokensPerMinute = "tokens_per_minute"
    }
}

public struct TokenPrice: Codable, Sendable, Equatable {
    public var inputPerMillion: Double
    public var outputPerMillion: Double
    /// The prices of answers that came through batch files (`vxt batch import`); hosted batch
    /// APIs charge about half. Absent: the online prices.
    public var batchInputPerMillion: Double?
    public var batchOutputPerMillion: Double?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case inputPerMillion = "input_per_million"
        case outputPerMillion = "output_per_million"
        case batchInputPerMillion = "batch_input_per_million"
        case batchOutputPerMillion = "batch_output_per_million"
    }

    /// What `prompt` and `completion` tokens cost, at the batch prices when `batch`.
    public func cost(prompt: Int, completion: Int, batch: Bool) -> Double {
        let input = batch ? batchInputPerMillion ?? inputPerMillion : inputPerMillion
        let output = batch ? batchOutputPerMillion ?? outputPerMillion : outputPerMillion
        return (Double(prompt) * input + Double(completion) * output) / 1e6
    }
}
