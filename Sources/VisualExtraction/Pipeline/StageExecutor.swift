import Foundation

/// What a stage does with one record: renders its prompt, asks the teacher, and reads the answer
/// the way its `output` kind means it. One executor per output kind (`TextExecutor` here,
/// `StatementsExecutor` and `AnswersExecutor` in `Statements/`); the runner only claims, bounds
/// the calls in flight and commits what an executor returns, so a new output kind is a new
/// executor and nothing in `Run/` changes.
protocol StageExecutor: Sendable {
    func execute(_ work: StageWork) async -> StageResult
}

/// One claimed task as an executor sees it, with the two effects it may use: preparing the
/// record's images and sending a request within the run's limits.
struct StageWork: Sendable {
    public let stage: Stage
    public let record: CorpusRecord
    /// Raw output text of each finished stage of this record.
    public let upstream: [String: String]
    public let model: String
    public let temperature: Double?
    /// The stage's `extra_body` fields, sent with each of its requests.
    public var extraBody: [(key: String, value: JSONValue)] = []
    let prepareImage: @Sendable (String) throws(ImageError) -> PreparedImage
    let send: @Sendable (ChatRequest) async -> Result<ChatResult, TeacherFailure>

    public init(
        stage: Stage, record: CorpusRecord, upstream: [String: String], model: String, temperature: Double?,
        prepareImage: @escaping @Sendable (String) throws(ImageError) -> PreparedImage,
        send: @escaping @Sendable (ChatRequest) async -> Result<ChatResult, TeacherFailure>
    ) {
        self.stage = stage
        self.record = record
        self.upstream = upstream
        self.model = model
        self.temperature = temperature
        self.prepareImage = prepareImage
        self.send = send
    }

    /// A teacher's answer to the stage's prompt, with what was sent for it.
    public struct Asked: Sendable {
        public var answer: ChatResult
        public var request: ChatRequest
        /// The request as logged: images replaced by placeholders.
        public var logged: String
        public var images: [PreparedImage]
        /// Set when the first answer was cut at `max_tokens` and asked again with the larger limit.
        public var truncationNote: String?
    }

    public enum Asking: Sendable {
        case answered(Asked)
        /// No usable answer; the result says why.
        case failed(StageResult)
    }

    /// Renders the stage's prompt for `record` (the whole record, or the pairs no rule wrote),
    /// sends it with the record's images when the stage sends images, and asks once more with
    /// `retry_truncated_max_tokens` when the answer was cut. Fails on an empty answer.
    public func ask(for record: CorpusRecord) async -> Asking {
        let prompt: String
        do {
            prompt = try stage.prompt(for: record, upstream: upstream)
        } catch {
            return .failed(.failed("cannot render the \(stage.name) prompt: \(error)", kind: .promptUnrenderable))
        }
        var images: [PreparedImage] = []
        if stage.sendsImage {
            for path in self.record.images {
                do throws(ImageError) {
                    images.append(try prepareImage(path))
                } catch {
                    return .failed(.failed(error.description, kind: error.failureKind))
                }
            }
        }
        let request = ChatRequest(
            model: model, prompt: prompt, images: images, maxTokens: stage.definition.maxTokens,
            temperature: temperature, extraBody: extraBody)
        let logged = request.loggedBody()
        var answer: ChatResult
        switch await send(request) {
        case let .failure(error): return .failed(.failed(by: error, request: logged))
        case let .success(first): answer = first
        }
        var truncationNote: String?
        if answer.finishReason == "length", let larger = stage.definition.retryTruncatedMaxTokens, larger > request.maxTokens {
            // Once, with the larger limit the pipeline names; the tokens of both calls count.
            var retry = request
            retry.maxTokens = larger
            if case var .success(second) = await send(retry) {
                second.promptTokens = (second.promptTokens ?? 0) + (answer.promptTokens ?? 0)
                second.completionTokens = (second.completionTokens ?? 0) + (answer.completionTokens ?? 0)
                second.attempts += answer.attempts
                truncationNote = "truncated at max_tokens \(request.maxTokens); asked again with \(larger)"
                answer = second
            }
        }
        switch ModelReasoning.separate(answer) {
        case let .failure(error): return .failed(.failed(by: error, request: logged))
        case let .success(separated): answer = separated
        }
        if answer.text.trimmed.isEmpty {
            return .failed(
                .failed(
                    "teacher returned an empty answer (finish_reason \(answer.finishReason ?? "none"))", kind: .badAnswer,
                    request: logged))
        }
        return .answered(Asked(answer: answer, request: request, logged: logged, images: images, truncationNote: truncationNote))
    }

    /// The note of an answer whose reasoning was taken out: the same words for every such task, so
    /// that `vxt status` counts them on one line.
    static let reasoningNote = "a thinking model's reasoning was taken out before its answer"

    /// The stage's finished result: the answer's text and usage, the statements or lines read
    /// from it, and the notes that do not fail the task (a cut answer, a count that was off).
    public func done(_ asked: Asked, lines: [String]?, note: String?) -> StageResult {
        let answer = asked.answer
        var note = [note, asked.truncationNote, answer.reasoningCharacters > 0 ? StageWork.reasoningNote : nil]
            .compactMap { $0 }.joined(separator: "; ")
        if answer.finishReason == "length" {
            let limit =
                asked.truncationNote == nil
                ? asked.request.maxTokens
                : (stage.definition.retryTruncatedMaxTokens ?? asked.request.maxTokens)
            note = [note, "truncated: finish_reason length at max_tokens \(limit)"].filter { !$0.isEmpty }.joined(separator: "; ")
        }
        let completion = StageCompletion(
            output: answer.text, parsed: lines.map(JSONValue.arrayText),
            note: note.isEmpty ? nil : note, finishReason: answer.finishReason, promptTokens: answer.promptTokens,
            completionTokens: answer.completionTokens, model: answer.model, endpoint: answer.endpoint, mock: answer.mock,
            attempts: answer.attempts)
        return StageResult(outcome: .done(completion), request: asked.logged, imageSHA256: asked.images.first?.sourceSHA256)
    }
}

/// What a stage left for the store: its output, or why there is none.
struct StageResult: Sendable {
    public enum Outcome: Sendable {
        case done(StageCompletion)
        case failed(reason: String, kind: FailureKind)
    }

    public var outcome: Outcome
    /// The request as sent, with images replaced by placeholders.
    public var request: String?
    public var imageSHA256: String?
    /// For a failure: the last HTTP status and the endpoint of the last attempt, when there were.
    public var failureStatus: Int?
    public var failureEndpoint: String?

    public init(outcome: Outcome, request: String?, imageSHA256: String? = nil) {
        self.outcome = outcome
        self.request = request
        self.imageSHA256 = imageSHA256
    }

    public static func failed(_ reason: String, kind: FailureKind, request: String? = nil) -> StageResult {
        StageResult(outcome: .failed(reason: reason, kind: kind), request: request)
    }

    /// A teacher call that failed after its retries, with the status and endpoint it ended on.
    public static func failed(by teacher: TeacherFailure, request: String?) -> StageResult {
        var result = StageResult.failed(teacher.message, kind: teacher.kind, request: request)
        result.failureStatus = teacher.status
        result.failureEndpoint = teacher.endpoint
        return result
    }
}

/// A finished stage's output and the usage it cost.
public struct StageCompletion: Sendable {
    public var output: String
    /// The statements or lines read from the output, as a JSON array; nil for plain text.
    public var parsed: String?
    public var note: String?
    public var finishReason: String?
    public var promptTokens: Int?
    public var completionTokens: Int?
    public var model: String?
    public var endpoint: String?
    public var mock: Bool
    public var attempts: Int

    public init(
        output: String, parsed: String?, note: String?, finishReason: String?, promptTokens: Int?, completionTokens: Int?,
        model: String?, endpoint: String?, mock: Bool, attempts: Int
    ) {
        self.output = output
        self.parsed = parsed
        self.note = note
        self.finishReason = finishReason
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.model = model
        self.endpoint = endpoint
        self.mock = mock
        self.attempts = attempts
    }
}

/// `output: text`: the answer as the model wrote it.
struct TextExecutor: StageExecutor {
    public init() {}

    public func execute(_ work: StageWork) async -> StageResult {
        switch await work.ask(for: work.record) {
        case let .failed(result): return result
        case let .answered(asked): return work.done(asked, lines: nil, note: nil)
        }
    }
}
