import Foundation
public import Logging

/// Builds a run's teacher from the pipeline's `teacher:` section and the command line: an
/// OpenAI-compatible fleet (or one local process), checked by the preflight, optionally behind
/// the response cache. One place, so that the defaults of `TeacherFleet` are not repeated by
/// each caller and the CLI only parses and prints.
public struct TeacherSetup: Sendable {
    /// `--teacher` values: http(s) base URLs, or one `cmd:'<command>'`.
    public var teachers: [String]
    public var apiKeyEnv: String = "OPENAI_API_KEY"
    /// Requests in flight over the run; also each endpoint's default limit.
    public var concurrency: Int
    public var endpointConcurrency: Int?
    /// Overrides `teacher.timeout_seconds`.
    public var timeoutSeconds: Double?
    public var requestsPerMinute: Double?
    public var tokensPerMinute: Double?
    /// Directory of the response cache; nil: no cache.
    public var cacheDirectory: String?
    /// Ask each server for its models before anything is sent.
    public var preflight = true
    /// Models that stages ask these teachers for besides `teacher.model` (their own
    /// `teacher.model`): the preflight checks that each is served.
    public var stageModels: [String] = []
    /// With the preflight, show each server two plainly coloured images (`SightCheck`), asked as
    /// each stage that sends images asks (one check per distinct way of asking); empty for
    /// teachers of stages that send none.
    public var sights: [Sight] = []
    /// The teachers are vxt's mock (its answers are never served from the cache to a real run).
    public var isMock = false
    public var logger: Logger = .disabled
    /// A PEM file of certificates to trust for HTTPS teachers (a private CA, a self-signed server).
    public var caFile: String?

    public init(teachers: [String], concurrency: Int) {
        self.teachers = teachers
        self.concurrency = concurrency
    }

    /// How the sight check asks: the model and body fields (`extra_body`) of the stage that sends
    /// images, since a server may serve a text model and a vision model side by side, and a
    /// field such as `chat_template_kwargs` changes what the model answers.
    public struct Sight: Sendable {
        public var model: String
        public var extraBody: [(key: String, value: JSONValue)]

        public init(model: String, extraBody: [(key: String, value: JSONValue)]) {
            self.model = model
            self.extraBody = extraBody
        }

        /// Each way of asking once, in first-seen order: two stages that ask alike need one check.
        public static func distinct(_ sights: [Sight]) -> [Sight] {
            var seen = Set<String>()
            return sights.filter { seen.insert($0.identity).inserted }
        }

        var identity: String { JSONValue.object([("model", .string(model)), ("extra", .object(extraBody))]).jsonText }
    }

    public enum Failure: Error, CustomStringConvertible {
        /// The settings cannot make a teacher (a bad URL, a cmd: mixed with URLs).
        case configuration(String)
        /// The servers are not there or do not serve the model: nothing was sent.
        case preflight(String)

        public var description: String {
            switch self {
            case let .configuration(message): message
            case let .preflight(message): "preflight failed: \(message)"
            }
        }
    }

    /// The teacher, ready, with what the run prints about it and shuts down after it.
    public final class Connection: Sendable {
        public let teacher: any Teacher
        /// Where requests go, for messages: the endpoints' URLs or the local command.
        public let destination: String
        public let monitor: TeacherMonitor
        /// Lines worth showing before the run (preflight notes, the cache in use).
        public let notes: [String]
        let client: CurlHTTPClient?
        let local: LocalProcessTeacher?
        /// The teacher of the servers, unwrapped from any cache (nil for a local process): its
        /// balancer says what an overload holds back.
        let servers: OpenAITeacher?

        init(
            teacher: any Teacher, destination: String, monitor: TeacherMonitor, notes: [String], client: CurlHTTPClient?,
            local: LocalProcessTeacher?, servers: OpenAITeacher? = nil
        ) {
            self.servers = servers
            self.teacher = teacher
            self.destination = destination
            self.monitor = monitor
            self.notes = notes
            self.client = client
            self.local = local
        }

        /// The servers whose adaptive limit an overload lowered, as the progress line says it; nil
        /// when none is (or the teacher is a local process).
        public func heldBack() async -> String? {
            guard let servers else { return nil }
            return await servers.balancer.heldBack(names: servers.endpoints.map(\.baseURL))
        }

        /// How often the local teacher process had to be restarted (0 for servers).
        public var restarts: Int { local?.restarts ?? 0 }

        public func shutdown() {
            client?.shutdown()
            local?.shutdown()
        }
    }

    /// What is wrong with these `--teacher` values, if anything: each an http(s) base URL, or a
    /// single `cmd:'<command>'`. The CLI asks before any work starts; `connect` asks again.
    public static func problem(with teachers: [String]) -> String? {
        for url in teachers where !(url.hasPrefix("http://") || url.hasPrefix("https://") || url.hasPrefix(LocalProcessTeacher.scheme)) {
            return "--teacher must be an http:// or https:// base URL such as http://127.0.0.1:8000/v1, or cmd:'<command>' (got \(url))"
        }
        let commands = teachers.filter { $0.hasPrefix(LocalProcessTeacher.scheme) }
        if !commands.isEmpty, commands.count != 1 || teachers.count != 1 || LocalProcessTeacher.command(from: commands[0]) == nil {
            return "--teacher cmd:'<command>' names one local process and cannot be mixed with other teachers"
        }
        return nil
    }

    public func connect(settings: TeacherSettings, environment: [String: String]) async throws(Failure) -> Connection {
        let monitor = TeacherMonitor()
        var notes: [String] = []
        var client: CurlHTTPClient?
        let inner: any Teacher
        let local: LocalProcessTeacher?
        var identity = settings.model
        var allMock = isMock
        if let problem = TeacherSetup.problem(with: teachers) { throw .configuration(problem) }
        if let command = teachers.lazy.compactMap(LocalProcessTeacher.command(from:)).first {
            let process = LocalProcessTeacher(
                command: command, timeoutSeconds: timeoutSeconds ?? settings.timeoutSeconds ?? 600,
                maxAttempts: settings.maxAttempts ?? 4, logger: logger)
            local = process
            inner = process
            identity = "cmd:" + command
            // A local model is shown the colours as a server is (it has no /models to ask).
            if preflight {
                do {
                    for sight in Sight.distinct(sights) {
                        if let note = try await SightCheck.local(process, model: sight.model, extraBody: sight.extraBody).run() {
                            notes.append("preflight: \(note)")
                        }
                    }
                } catch {
                    process.shutdown()
                    throw .preflight(error.message)
                }
            }
        } else {
            var settings = settings
            if let timeoutSeconds { settings.timeoutSeconds = timeoutSeconds }
            let endpoints: [TeacherEndpoint]
            do {
                var defaults = TeacherFleet.Defaults(
                    apiKeyEnv: apiKeyEnv, maxConcurrency: endpointConcurrency ?? concurrency,
                    requestsPerMinute: requestsPerMinute, tokensPerMinute: tokensPerMinute)
                defaults.caFile = caFile
                endpoints = try TeacherFleet.endpoints(urls: teachers, settings: settings, defaults: defaults, environment: environment)
            } catch {
                throw .configuration("\(error)")
            }
            guard !endpoints.isEmpty else {
                throw .configuration("no teacher: give --teacher URL, or list teacher.endpoints in the pipeline file")
            }
            notes.append("teacher endpoints: " + endpoints.map(\.baseURL).joined(separator: ", "))
            // Made once the settings are known to be good: nothing is left running on a refusal.
            let http: CurlHTTPClient
            do {
                http = try CurlHTTPClient()
            } catch {
                throw .configuration("cannot start the HTTP client: \(error)")
            }
            client = http
            if preflight {
                do {
                    var check = TeacherPreflight(endpoints: endpoints, model: settings.model, client: http)
                    check.stageModels = stageModels
                    check.sights = sights
                    let report = try await check.run()
                    notes += report.notes.map { "preflight: \($0)" }
                    allMock = allMock || report.allMock
                    identity = Set(report.servedModels).sorted().joined(separator: ",")
                } catch {
                    http.shutdown()
                    throw .preflight(error.message)
                }
            }
            local = nil
            inner = OpenAITeacher(endpoints: endpoints, client: http, monitor: monitor, logger: logger)
        }
        var teacher = inner
        if let cacheDirectory {
            do {
                let responses = try ResponseCache(directory: cacheDirectory)
                notes.append(
                    "response cache \(responses.path): \(try responses.count()) answers; this run's teacher: "
                        + (allMock ? "mock" : identity))
                teacher = CachingTeacher(inner: teacher, cache: responses, identity: identity, isMock: allMock, logger: logger)
            } catch {
                client?.shutdown()
                local?.shutdown()
                throw .configuration("response cache \(cacheDirectory): \(error)")
            }
        }
        return Connection(
            teacher: teacher, destination: local?.endpointDescription ?? inner.endpointDescription, monitor: monitor,
            notes: notes, client: client, local: local, servers: inner as? OpenAITeacher)
    }
}
