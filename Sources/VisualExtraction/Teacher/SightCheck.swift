/// Shows a teacher server two plainly coloured images, one at a time, and checks that it names
/// each colour, before any record is sent to it.
///
/// Some servers drop the images of a request and let the model answer from the prompt alone: TGI
/// in front of a text-only model, a llama.cpp server started without its vision projector, a
/// proxy that keeps only text parts. The extraction prompt carries the statements, so the
/// descriptions still read fluently and nothing fails: the corpus is made up. A server that
/// refuses images outright (vLLM with a text-only model) is caught here too, before ingest.
/// Colours are drawn at random, so that a model that cannot see passes by guessing one time in 12.
struct SightCheck {
    /// The teacher as messages name it: "the teacher at http://…", "the local teacher cmd:…".
    let teacher: String
    let model: String
    let extraBody: [(key: String, value: JSONValue)]
    /// Sends one request to the teacher and says what came of it.
    let ask: @Sendable (ChatRequest) async -> Reply

    /// What one request brought back.
    enum Reply: Sendable {
        case answer(ChatResult)
        /// Refused for good (an HTTP 4xx, an error object): every request with an image would be.
        case refused(String)
        /// No such route or model (HTTP 404): every request would fail, images or not.
        case notFound(String)
        /// No verdict (unreachable, busy, failing for now): the run finds out per task.
        case unanswered(String)
    }

    static let colors: [(name: String, red: UInt8, green: UInt8, blue: UInt8)] = [
        ("red", 255, 0, 0), ("green", 0, 160, 0), ("blue", 0, 0, 255), ("yellow", 255, 255, 0)
    ]
    static let prompt = "What single color fills this image? Answer with one word."

    /// The check of one server of a fleet.
    static func server(
        _ endpoint: TeacherEndpoint, model: String, extraBody: [(key: String, value: JSONValue)], client: CurlHTTPClient
    ) -> SightCheck {
        SightCheck(teacher: "the teacher at \(endpoint.baseURL)", model: model, extraBody: extraBody) { request in
            var http = endpoint.request(url: endpoint.chatCompletionsURL, body: request.body())
            http.timeoutSeconds = min(endpoint.timeoutSeconds, 120)
            switch await client.send(http) {
            case let .failure(error):
                return .unanswered(endpoint.redacted(error.message))
            case let .success(response) where response.status != 200:
                let message = "HTTP \(response.status): \(endpoint.redacted(OpenAITeacher.errorExcerpt(response.body)))"
                if response.status == 404 { return .notFound(message) }
                let lasting = (400..<500).contains(response.status) && response.status != 429 && response.status != 408
                return lasting ? .refused(message) : .unanswered(message)
            case let .success(response):
                switch OpenAITeacher.parse(response.body) {
                case let .failure(failure): return .unanswered(failure.message)
                case let .success(result): return .answer(result)
                }
            }
        }
    }

    /// The check of a local teacher process (`cmd:`), which answers as a server does.
    static func local(_ process: LocalProcessTeacher, model: String, extraBody: [(key: String, value: JSONValue)]) -> SightCheck {
        SightCheck(teacher: "the local teacher \(process.endpointDescription)", model: model, extraBody: extraBody) { request in
            switch await process.complete(request) {
            case let .success(result): return .answer(result)
            // A process that would not start, died or timed out on every attempt has no verdict to give.
            case let .failure(failure) where failure.kind == .teacherUnreachable: return .unanswered(failure.message)
            case let .failure(failure): return .refused(failure.message)
            }
        }
    }

    /// A note when the check could not be made (the server busy or failing for now); throws when
    /// the teacher answered and did not see.
    func run() async throws(TeacherPreflight.Failure) -> String? {
        let shown = Self.colors.indices.shuffled().prefix(2)
        for index in shown {
            let color = Self.colors[index]
            let image = SolidImage.prepared(width: 64, height: 64, red: color.red, green: color.green, blue: color.blue)
            let request = ChatRequest(
                model: model, prompt: Self.prompt, images: [image], maxTokens: 256, temperature: 0, extraBody: extraBody)
            let notMade = { (why: String) in "sight check of \(teacher) not made (\(why)); nothing checks that it sees images" }
            let answer: String
            switch await ask(request) {
            case let .unanswered(message):
                return notMade(message)
            case let .notFound(message):
                throw TeacherPreflight.Failure(
                    message: """
                        \(teacher) has no chat completions for \(model) (\(message)): check that the base URL goes up to /v1 \
                        and that the server serves this model; nothing was ingested or sent.
                        """)
            case let .refused(message):
                throw TeacherPreflight.Failure(
                    message: """
                        \(teacher) refused a request with an image for \(model) (\(message)). \
                        Stages that send images need a vision model served with image input on; nothing was ingested or sent.
                        """)
            case let .answer(result):
                // vxt's mock describes from the prompt by design: it has nothing to show.
                if result.mock { return nil }
                switch ModelReasoning.separate(result) {
                case let .failure(failure):
                    // No answer to judge (a thinking model out of tokens): the run finds out per task.
                    return notMade(failure.message)
                case let .success(result): answer = result.text
                }
            }
            let words = Set(answer.lowercased().split { !$0.isLetter }.map(String.init))
            let named = Self.colors.filter { words.contains($0.name) }.map(\.name)
            guard named == [color.name] else {
                throw TeacherPreflight.Failure(
                    message: """
                        \(teacher) does not seem to see images: shown a plain \(color.name) image and asked \
                        its colour, \(model) answered "\(String(answer.prefix(200)))". A server that drops images (a text-only \
                        model behind TGI, llama.cpp without its --mmproj, a proxy that keeps only text) lets the model describe \
                        from the statements alone, and every description would be made up. Serve a vision model with image input \
                        on; if you are sure it sees, --skip-preflight skips this check. Nothing was ingested or sent.
                        """)
            }
        }
        return nil
    }
}
