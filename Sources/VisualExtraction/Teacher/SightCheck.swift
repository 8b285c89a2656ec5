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
    let endpoint: TeacherEndpoint
    let model: String
    let extraBody: [(key: String, value: JSONValue)]
    let client: CurlHTTPClient

    static let colors: [(name: String, red: UInt8, green: UInt8, blue: UInt8)] = [
        ("red", 255, 0, 0), ("green", 0, 160, 0), ("blue", 0, 0, 255), ("yellow", 255, 255, 0)
    ]
    static let prompt = "What single color fills this image? Answer with one word."

    /// A note when the check could not be made (the server busy or failing for now); throws when
    /// the server answered and did not see.
    func run() async throws(TeacherPreflight.Failure) -> String? {
        let shown = Self.colors.indices.shuffled().prefix(2)
        for index in shown {
            let color = Self.colors[index]
            let image = SolidImage.prepared(width: 64, height: 64, red: color.red, green: color.green, blue: color.blue)
            let request = ChatRequest(
                model: model, prompt: Self.prompt, images: [image], maxTokens: 256, temperature: 0, extraBody: extraBody)
            var http = endpoint.request(url: endpoint.chatCompletionsURL, body: request.body())
            http.timeoutSeconds = min(endpoint.timeoutSeconds, 120)
            let answer: String
            switch await client.send(http) {
            case let .failure(error):
                return
                    "sight check of \(endpoint.baseURL) not made (\(endpoint.redacted(error.message))); nothing checks that it sees images"
            case let .success(response) where response.status != 200:
                let message = endpoint.redacted(OpenAITeacher.errorExcerpt(response.body))
                guard (400..<500).contains(response.status), response.status != 429, response.status != 408 else {
                    return
                        "sight check of \(endpoint.baseURL) not made (HTTP \(response.status): \(message)); nothing checks that it sees images"
                }
                throw TeacherPreflight.Failure(
                    message: """
                        the teacher at \(endpoint.baseURL) refused a request with an image (HTTP \(response.status): \(message)). \
                        Stages that send images need a vision model served with image input on; nothing was ingested or sent.
                        """)
            case let .success(response):
                switch OpenAITeacher.parse(response.body).flatMap(ModelReasoning.separate) {
                case let .failure(failure):
                    // No answer to judge (a thinking model out of tokens): the run finds out per task.
                    return "sight check of \(endpoint.baseURL) not made (\(failure.message)); nothing checks that it sees images"
                case let .success(result): answer = result.text
                }
            }
            let words = Set(answer.lowercased().split { !$0.isLetter }.map(String.init))
            let named = Self.colors.filter { words.contains($0.name) }.map(\.name)
            guard named == [color.name] else {
                throw TeacherPreflight.Failure(
                    message: """
                        the teacher at \(endpoint.baseURL) does not seem to see images: shown a plain \(color.name) image and asked \
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
