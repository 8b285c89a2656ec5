/// One chat-completions call: a user message with the prompt and, for image stages, the
/// image(s) first, as the paper's script sends them.
public struct ChatRequest: Sendable {
    public var model: String
    public var prompt: String
    public var images: [PreparedImage]
    public var maxTokens: Int
    public var temperature: Double?
    /// Fields the body carries after vxt's own (`teacher.extra_body`), in this order.
    public var extraBody: [(key: String, value: JSONValue)]

    public init(
        model: String, prompt: String, images: [PreparedImage], maxTokens: Int, temperature: Double?,
        extraBody: [(key: String, value: JSONValue)] = []
    ) {
        self.model = model
        self.prompt = prompt
        self.images = images
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.extraBody = extraBody
    }

    /// The OpenAI-compatible JSON body; `model` overrides the request's (an endpoint that serves
    /// the same weights under another name). Built as bytes in one buffer, images base64-encoded
    /// straight into it: at thousands of requests a second this is most of the client's work.
    public func body(model: String? = nil) -> [UInt8] {
        bytes(model: model ?? self.model, capacity: images.reduce(0) { $0 + $1.urlByteCount }) { image, out in
            image.appendURL(to: &out)
        }
    }

    /// About the size of `body()`, without building it.
    public var estimatedBodyBytes: Int {
        prompt.utf8.count + 200 + images.reduce(0) { $0 + $1.urlByteCount } + extraBody.count * 64
    }

    /// Tokens the call may use as rate limiters count them: the prompt (~4 bytes a token), each
    /// image (a 512x512 image is a few hundred tokens for Qwen-VL-class models) and `max_tokens`.
    public var estimatedTokens: Int {
        prompt.utf8.count / 4 + images.count * 768 + maxTokens
    }

    /// The body as the job store keeps it: identical, except each image is a short placeholder.
    public func loggedBody() -> String {
        String(
            decoding: bytes(model: model, capacity: images.count * 160) { image, out in
                JSONValue.writeString(image.placeholder, to: &out)
            }, as: UTF8.self)
    }

    private func bytes(model: String, capacity: Int, imageURL: (PreparedImage, inout [UInt8]) -> Void) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(prompt.utf8.count + model.utf8.count + 200 + capacity)
        func raw(_ text: String) { out.append(contentsOf: text.utf8) }
        raw("{\"model\":")
        JSONValue.writeString(model, to: &out)
        raw(",\"messages\":[{\"role\":\"user\",\"content\":")
        if images.isEmpty {
            JSONValue.writeString(prompt, to: &out)
        } else {
            raw("[")
            for image in images {
                raw("{\"type\":\"image_url\",\"image_url\":{\"url\":")
                imageURL(image, &out)
                raw("}},")
            }
            raw("{\"type\":\"text\",\"text\":")
            JSONValue.writeString(prompt, to: &out)
            raw("}]")
        }
        raw("}],\"max_tokens\":\(maxTokens)")
        if let temperature { raw(",\"temperature\":\(temperature)") }
        for field in extraBody {
            raw(",")
            JSONValue.writeString(field.key, to: &out)
            raw(":")
            field.value.write(to: &out)
        }
        raw("}")
        return out
    }
}

/// A teacher's answer.
public struct ChatResult: Sendable {
    public var text: String
    public var finishReason: String?
    public var promptTokens: Int?
    public var completionTokens: Int?
    public var model: String?
    /// Made by vxt's mock teacher, not a model: such outputs are marked in every export.
    public var mock: Bool
    public var endpoint: String
    public var attempts: Int
    /// Characters of a thinking model's reasoning taken out before `text` (`ModelReasoning`).
    public var reasoningCharacters = 0
}

/// A call that did not produce an answer, after any retries.
public struct TeacherFailure: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var status: Int?
    public var attempts: Int
    public var kind: FailureKind
    /// The endpoint of the last attempt, when there was one.
    public var endpoint: String?
    public var description: String { message }

    public init(message: String, status: Int?, attempts: Int, kind: FailureKind = .other, endpoint: String? = nil) {
        self.message = message
        self.status = status
        self.attempts = attempts
        self.kind = kind
        self.endpoint = endpoint
    }
}

/// What the runner needs from a teacher. The HTTP teacher is one; tests may bring others.
public protocol Teacher: Sendable {
    var endpointDescription: String { get }
    func complete(_ request: ChatRequest) async -> Result<ChatResult, TeacherFailure>
}
