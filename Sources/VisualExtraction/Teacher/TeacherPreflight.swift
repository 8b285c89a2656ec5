/// Asks each teacher server, before the first call, whether it is there and serves the model:
/// `GET <base>/models`. A run against a wrong port or a wrong model name would otherwise fail
/// every record slowly (retries, back-off) or, worse, never say why.
struct TeacherPreflight {
    public let endpoints: [TeacherEndpoint]
    /// The model the pipeline asks for (an endpoint's own `model` overrides it there).
    public let model: String
    let client: CurlHTTPClient

    /// Models that stages ask these servers for besides `model` (a stage's own `teacher.model`),
    /// checked like it: one server often serves several (LiteLLM, OpenRouter, a gateway).
    public var stageModels: [String] = []
    /// Also show each server two plainly coloured images and check it names the colours
    /// (`SightCheck`), once per way the stages that send them ask: model and body fields
    /// (an endpoint's own `model` stands for every stage's there). Empty: no check.
    public var sights: [TeacherSetup.Sight] = []

    public init(endpoints: [TeacherEndpoint], model: String, client: CurlHTTPClient) {
        self.endpoints = endpoints
        self.model = model
        self.client = client
    }

    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public struct Report: Sendable {
        /// Lines worth printing: servers that do not list models, models found.
        public var notes: [String] = []
        /// Every server answered as the vxt mock teacher.
        public var allMock = true
        /// What the servers call the model, for the response cache's key.
        public var servedModels: [String] = []
        /// Servers that answered as the mock.
        var mockEndpoints: Set<String> = []
    }

    public func run() async throws(Failure) -> Report {
        var report = Report()
        var asked = [model]
        for stageModel in stageModels where !asked.contains(stageModel) { asked.append(stageModel) }
        for endpoint in endpoints {
            // An endpoint's own model replaces every model a stage asks for (`OpenAITeacher`).
            let wanted = endpoint.model.map { [$0] } ?? asked
            let named = wanted.joined(separator: ", ")
            var request = endpoint.request(url: endpoint.modelsURL, body: [])
            request.timeoutSeconds = min(endpoint.timeoutSeconds, 30)
            request.isGet = true
            switch await client.send(request) {
            case let .failure(error):
                throw Failure(
                    message: """
                        cannot reach the teacher at \(endpoint.baseURL): \(error.message). Is the server running, and is this \
                        its base URL (scheme, host, port, and the path up to /v1)? Nothing was sent; no record was touched.
                        """)
            case let .success(response):
                switch response.status {
                case 200:
                    let json = try? JSONParser.parse(response.body)
                    guard case let .array(models)? = json?["data"] else {
                        report.allMock = false
                        report.notes.append("\(endpoint.baseURL)/models answered without a model list; model \(named) not checked")
                        report.servedModels += wanted
                        continue
                    }
                    let ids = models.compactMap { $0["id"]?.stringValue }
                    if models.contains(where: { $0["owned_by"]?.stringValue == OpenAITeacher.mockFingerprint }) {
                        // The mock describes from the prompt by design; it has nothing to show.
                        report.servedModels.append("mock")
                        report.mockEndpoints.insert(endpoint.baseURL)
                        continue
                    }
                    report.allMock = false
                    if !ids.isEmpty, let missing = wanted.first(where: { !ids.contains($0) }) {
                        let fix =
                            missing == model || endpoint.model != nil
                            ? "pass --model \(ids[0]) (or set teacher.model, or the endpoint's model, in the pipeline file)"
                            : "set that stage's teacher.model in the pipeline file to a model it serves, e.g. \(ids[0])"
                        throw Failure(
                            message:
                                "the teacher at \(endpoint.baseURL) serves \(ids.prefix(5).joined(separator: ", ")), not \(missing): \(fix)"
                        )
                    }
                    report.servedModels += wanted
                case 401, 403:
                    throw Failure(
                        message: """
                            the teacher at \(endpoint.baseURL) refused the request (HTTP \(response.status): \
                            \(endpoint.redacted(OpenAITeacher.errorExcerpt(response.body)))): set the API key in the environment variable named by \
                            --api-key-env (or the endpoint's api_key_env)
                            """)
                case 404 where !endpoint.baseURL.hasSuffix("/v1"):
                    // OpenAI-compatible servers (vLLM, SGLang, llama.cpp, TGI) serve under /v1; a base
                    // URL without it would send every request to a route that is not there.
                    var probe = endpoint.request(url: endpoint.requestBaseURL + "/v1/models", body: [])
                    probe.timeoutSeconds = min(endpoint.timeoutSeconds, 30)
                    probe.isGet = true
                    if case let .success(found) = await client.send(probe), found.status == 200 {
                        throw Failure(
                            message: """
                                the teacher at \(endpoint.baseURL) has no /models (HTTP 404), but \(endpoint.baseURL)/v1/models answers: \
                                the base URL goes up to /v1, so pass --teacher \(endpoint.baseURL)/v1 (or that URL in the pipeline's \
                                teacher.endpoints). Nothing was sent; no record was touched.
                                """)
                    }
                    fallthrough
                default:
                    report.allMock = false
                    report.servedModels += wanted
                    report.notes.append(
                        "\(endpoint.baseURL) does not list its models (HTTP \(response.status) for GET /models); model \(named) not checked"
                    )
                }
            }
        }
        // All servers and ways of asking at once: a fleet of 20 would otherwise wait for 40 answers in a row.
        let checks = endpoints.filter { !report.mockEndpoints.contains($0.baseURL) }.flatMap { endpoint in
            TeacherSetup.Sight.distinct(sights.map { TeacherSetup.Sight(model: endpoint.model ?? $0.model, extraBody: $0.extraBody) })
                .map { SightCheck.server(endpoint, model: $0.model, extraBody: $0.extraBody, client: client) }
        }
        let outcomes = await withTaskGroup(of: (Int, Result<String?, Failure>).self) { group in
            for (index, check) in checks.enumerated() {
                group.addTask {
                    do throws(Failure) { return (index, .success(try await check.run())) } catch { return (index, .failure(error)) }
                }
            }
            var outcomes: [(Int, Result<String?, Failure>)] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes.sorted { $0.0 < $1.0 }.map(\.1)
        }
        for outcome in outcomes {
            if let note = try outcome.get() { report.notes.append(note) }
        }
        return report
    }
}
