/// The teacher servers of a run, from `--teacher` flags and the pipeline's `teacher.endpoints`,
/// with their limits and keys resolved. Keys come from the environment by variable name.
enum TeacherFleet {
    public struct Defaults: Sendable {
        public var apiKeyEnv: String
        public var maxConcurrency: Int
        public var requestsPerMinute: Double?
        public var tokensPerMinute: Double?
        /// Certificates to trust for HTTPS servers instead of the system's.
        public var caFile: String?

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
        var listed = urls.map { (EndpointSettings(url: $0), fromFile: false) }
        listed += (settings.endpoints ?? []).map { ($0, fromFile: true) }
        return try listed.map { item, fromFile in
            guard item.url.hasPrefix("http://") || item.url.hasPrefix("https://") else {
                throw ConfigurationError(
                    message:
                        "teacher \(TeacherEndpoint.withoutCredentials(item.url)): expected an http:// or https:// base URL such as http://127.0.0.1:8000/v1"
                )
            }
            let shown = TeacherEndpoint.withoutCredentials(item.url)
            let headers = try (item.headers ?? [:]).sorted { $0.key < $1.key }.map { name, value in
                try checkedHeader(name: name, value: value, endpoint: shown)
            }
            let keyVariable = item.apiKeyEnv ?? defaults.apiKeyEnv
            if fromFile, keyVariable != defaults.apiKeyEnv, !mayNameKey(keyVariable) {
                throw ConfigurationError(
                    message: """
                        teacher endpoint \(shown): api_key_env names \(keyVariable); a pipeline file may only name variables ending \
                        in _API_KEY or _TOKEN or starting with OPENAI_ (or the one --api-key-env names), so that a shared pipeline \
                        file cannot send another secret of this environment to its server
                        """)
            }
            return TeacherEndpoint(
                baseURL: item.url, apiKey: environment[keyVariable], model: item.model, headers: headers,
                limits: EndpointLimits(
                    maxConcurrency: item.maxConcurrency ?? defaults.maxConcurrency,
                    requestsPerMinute: item.requestsPerMinute ?? defaults.requestsPerMinute,
                    tokensPerMinute: item.tokensPerMinute ?? defaults.tokensPerMinute),
                timeoutSeconds: settings.timeoutSeconds ?? 600, connectTimeoutSeconds: settings.connectTimeoutSeconds ?? 10,
                maxAttempts: settings.maxAttempts ?? 4,
                retryWindowSeconds: settings.retryWindowSeconds ?? TeacherEndpoint.defaultRetryWindowSeconds, caFile: defaults.caFile)
        }
    }

    /// Whether a pipeline file may name this environment variable as an endpoint's key.
    static func mayNameKey(_ variable: String) -> Bool {
        variable.hasSuffix("_API_KEY") || variable.hasSuffix("_TOKEN") || variable.hasPrefix("OPENAI_")
    }

    /// `Name: value`, refused when the name is not an HTTP token or the value holds a control
    /// character: a CR or LF would start another header (or the body) of the request.
    static func checkedHeader(name: String, value: String, endpoint: String) throws -> String {
        let token = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        guard !name.isEmpty, name.allSatisfy({ token.contains($0) }) else {
            throw ConfigurationError(
                message:
                    "teacher endpoint \(endpoint): header name \"\(name.debugDescription.dropFirst().dropLast())\" is not a valid HTTP header name"
            )
        }
        guard !value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) else {
            throw ConfigurationError(
                message:
                    "teacher endpoint \(endpoint): the value of header \(name) holds a control character (a line break?); headers are one line"
            )
        }
        return "\(name): \(value)"
    }
}
