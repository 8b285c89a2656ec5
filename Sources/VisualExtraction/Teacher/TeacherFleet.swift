/// The teacher servers of a run, from `--teacher` flags and the pipeline's `teacher.endpoints`,
/// with their limits and keys resolved. Keys come from the environment by variable name.
enum TeacherFleet {
    public struct Defaults: Sendable {
        public var apiKeyEnv: String
        public var maxConcurrency: Int
        public var requestsPerMinute: Double?
        public var tokensPerMinute: Double?

        public init(apiKeyEnv: String, maxConcurrency: Int, requestsPerMinute: Double? = nil, tokensPerMinute: Double? = nil) {
            self.apiKeyEnv = apiKeyEnv
            self.maxConcurrency = maxConcurrency
            self.requestsPerMinute = requestsPerMinute
            self.tokensPerMinute = tokensPerMinute
        }
    }

    public struct ConfigurationError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Endpoints for the URLs given on the command line (each with the defaults), then those of
    /// the pipeline file (each with its own settings, the defaults filling gaps).
    public static func endpoints(
        urls: [String], settings: TeacherSettings, defaults: Defaults,
        environment: [String: String]
    ) throws -> [TeacherEndpoint] {
        var listed = urls.map { EndpointSettings(url: $0) }
        listed += settings.endpoints ?? []
        return try listed.map { item in
            guard item.url.hasPrefix("http://") || item.url.hasPrefix("https://") else {
                throw ConfigurationError(
                    message: "teacher \(item.url): expected an http:// or https:// base URL such as http://127.0.0.1:8000/v1")
            }
            let headers = (item.headers ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            let keyVariable = item.apiKeyEnv ?? defaults.apiKeyEnv
            return TeacherEndpoint(
                baseURL: item.url, apiKey: environment[keyVariable], model: item.model, headers: headers,
                limits: EndpointLimits(
                    maxConcurrency: item.maxConcurrency ?? defaults.maxConcurrency,
                    requestsPerMinute: item.requestsPerMinute ?? defaults.requestsPerMinute,
                    tokensPerMinute: item.tokensPerMinute ?? defaults.tokensPerMinute),
                timeoutSeconds: settings.timeoutSeconds ?? 600, connectTimeoutSeconds: settings.connectTimeoutSeconds ?? 10,
                maxAttempts: settings.maxAttempts ?? 4)
        }
    }
}
