import Foundation

/// A pipeline file (`pipelines/*.yaml`): the teacher settings, image handling, the stages with
/// their prompt templates, and what the export writes. Prompts live here as data so that the
/// code never has an opinion about wording.
public struct PipelineDefinition: Codable, Sendable, Equatable {
    public var name: String
    public var description: String?
    /// Decodes the JSON form a job store keeps of the pipeline.
    public static func stored(_ json: String) throws -> PipelineDefinition {
        try JSONDecoder().decode(PipelineDefinition.self, from: Data(json.utf8))
    }

    public var teacher: TeacherSettings
    public var image: ImageSettings
    public var stages: [StageDefinition]
    public var export: ExportSettings

    public struct TeacherSettings: Codable, Sendable, Equatable {
        public var model: String
        public var temperature: Double?
        public var timeoutSeconds: Double?
        public var connectTimeoutSeconds: Double?
        public var maxAttempts: Int?
        /// Servers to spread requests over (added to any `--teacher` given). Where the teacher
        /// runs does not change what it answers, so endpoints are not part of the pipeline's hash.
        public var endpoints: [EndpointSettings]?
        /// Price per million tokens by model name, for the cost `vxt status` shows; not hashed.
        public var prices: [String: Price]?
        /// How images reach the teacher: inside the body as base64 data URLs (the default), or as
        /// `file://` paths of the prepared images for servers that read the same file system
        /// (vLLM with `--allowed-local-media-path`, local-process teachers). Not hashed: the
        /// teacher sees the same pixels either way.
        public var imageTransport: ImageTransport?
        /// Where `file` transport writes the prepared images (content-addressed, shared by runs);
        /// default `<work>/prepared-images`. Must be visible to the servers under the same path.
        public var imageDirectory: String?

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

    public struct Price: Codable, Sendable, Equatable {
        public var inputPerMillion: Double
        public var outputPerMillion: Double

        enum CodingKeys: String, CodingKey, CaseIterable {
            case inputPerMillion = "input_per_million"
            case outputPerMillion = "output_per_million"
        }
    }

    public struct StageDefinition: Codable, Sendable, Equatable {
        public var name: String
        public var needs: [String]?
        /// Whether the record's image(s) go with the prompt.
        public var image: Bool?
        public var maxTokens: Int
        public var output: OutputKind?
        public var template: String
        /// For `output: statements`: appended to the prompt to re-ask once when the count is wrong;
        /// then each pair is asked alone. Absent: a wrong count is only noted (the paper's behaviour).
        public var countCorrection: String?
        /// For `output: statements`: write statements for safe question shapes without a model call.
        public var rules: Bool?
        /// An answer cut at `max_tokens` (`finish_reason: length`) is asked again once with this
        /// larger limit; absent, it is kept and the audit flags it `truncated`.
        public var retryTruncatedMaxTokens: Int?

        public enum OutputKind: String, Codable, Sendable {
            /// The text as returned.
            case text
            /// One statement per line; one per QA pair is expected.
            case statements
            /// One answer per line, one per QA pair, written from the description alone: the
            /// answerability check of `vxt audit` compares them with the gold answers.
            case answers
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, needs, image, output, template
            case maxTokens = "max_tokens"
            case countCorrection = "count_correction"
            case rules
            case retryTruncatedMaxTokens = "retry_truncated_max_tokens"
        }
    }

    public struct ExportSettings: Codable, Sendable, Equatable {
        /// The human turn of the llava export, a template: `{{hint}}` is the record's question hint
        /// (with a final "." added when it lacks one), empty without a hint stage.
        public var instruction: String
        public var descriptionStage: String?
        public var statementsStage: String?
        /// The stage whose output is the Extract+Think question hint, if any.
        public var hintStage: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case instruction
            case descriptionStage = "description_stage"
            case statementsStage = "statements_stage"
            case hintStage = "hint_stage"
        }
    }
}

/// How images are prepared before they go to the teacher.
public struct ImageSettings: Codable, Sendable, Equatable {
    public enum Mode: String, Codable, Sendable {
        /// Resize to exactly width x height, aspect not kept (the paper: 512x512).
        case exact
        /// Longest side at most `max_side`, aspect kept.
        case maxSide = "max-side"
        /// Send the file's bytes as they are.
        case original
    }

    public var mode: Mode
    public var width: Int?
    public var height: Int?
    public var maxSide: Int?
    public var jpegQuality: Int?
    /// Images with more pixels are refused (decompression bombs).
    public var maxPixels: Int?

    public init(mode: Mode, width: Int? = nil, height: Int? = nil, maxSide: Int? = nil, jpegQuality: Int? = nil, maxPixels: Int? = nil) {
        self.mode = mode
        self.width = width
        self.height = height
        self.maxSide = maxSide
        self.jpegQuality = jpegQuality
        self.maxPixels = maxPixels
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case mode, width, height
        case maxSide = "max_side"
        case jpegQuality = "jpeg_quality"
        case maxPixels = "max_pixels"
    }

    public var quality: Int { jpegQuality ?? 95 }
    public var pixelLimit: Int { maxPixels ?? 178_956_970 }
}
