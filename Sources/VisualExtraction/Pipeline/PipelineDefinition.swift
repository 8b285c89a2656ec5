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
        /// This stage's own model and servers (a text LLM for statements, the VLM for
        /// descriptions); what it leaves out comes from the pipeline's `teacher`.
        public var teacher: StageTeacher?

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
            case teacher
        }
    }

    /// A stage's teacher, where it differs from the pipeline's: the model it asks for, and the
    /// servers that serve it (each with its own key variable, headers and limits).
    public struct StageTeacher: Codable, Sendable, Equatable {
        public var model: String?
        public var endpoints: [EndpointSettings]?
        /// This stage's extra request fields, in place of the pipeline's `teacher.extra_body`.
        public var extraBody: [String: JSONValue]?

        public init(model: String? = nil, endpoints: [EndpointSettings]? = nil) {
            self.model = model
            self.endpoints = endpoints
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case model, endpoints
            case extraBody = "extra_body"
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
