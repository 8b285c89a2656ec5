import Foundation
import MockTeacher
import Testing
@testable import VisualExtraction

/// Secrets go only where the user sent them: a pipeline file cannot pick another environment
/// variable to send, a header cannot smuggle a second one, and credentials in a URL or echoed
/// back by a server are never printed or stored.
@Suite(.timeLimit(.minutes(10))) struct TeacherSecretsTests {
    static func endpoints(_ yaml: String, environment: [String: String] = [:]) throws -> [TeacherEndpoint] {
        let pipeline = try Pipeline.parse(
            yaml: """
                name: t
                teacher:
                  model: m
                \(yaml)
                image: {mode: original}
                stages:
                  - {name: s, max_tokens: 8, template: "x"}
                export: {instruction: "Describe."}
                """)
        return try TeacherFleet.endpoints(
            urls: [], settings: pipeline.definition.teacher, defaults: .init(apiKeyEnv: "OPENAI_API_KEY", maxConcurrency: 4),
            environment: environment)
    }

    @Test func aPipelineFileCannotNameAnyEnvironmentVariableAsAKey() throws {
        #expect {
            _ = try Self.endpoints(
                """
                  endpoints:
                    - {url: "http://127.0.0.1:9/v1", api_key_env: AWS_SECRET_ACCESS_KEY}
                """, environment: ["AWS_SECRET_ACCESS_KEY": "aws-secret"])
        } throws: { "\($0)".contains("api_key_env names AWS_SECRET_ACCESS_KEY") && !"\($0)".contains("aws-secret") }
        // Key-shaped names are fine, and the key goes along.
        let fine = try Self.endpoints(
            """
              endpoints:
                - {url: "http://127.0.0.1:9/v1", api_key_env: TOGETHER_API_KEY}
            """, environment: ["TOGETHER_API_KEY": "tk-1"])
        #expect(fine.first?.headerLines == ["Authorization: Bearer tk-1"])
    }

    @Test func aHeaderValueWithALineBreakIsRefused() throws {
        #expect {
            _ = try Self.endpoints(
                """
                  endpoints:
                    - url: "http://127.0.0.1:9/v1"
                      headers: {X-Team: "vision\\r\\nX-Injected: 1"}
                """)
        } throws: { "\($0)".contains("control character") }
        #expect {
            _ = try Self.endpoints(
                """
                  endpoints:
                    - url: "http://127.0.0.1:9/v1"
                      headers: {"X Team": "vision"}
                """)
        } throws: { "\($0)".contains("not a valid HTTP header name") }
    }

    @Test func credentialsAndEchoedKeysAreRedacted() {
        let endpoint = TeacherEndpoint(baseURL: "http://user:pa55word@127.0.0.1:8000/v1/", apiKey: "sk-live-123456")
        #expect(endpoint.baseURL == "http://127.0.0.1:8000/v1")
        #expect(endpoint.chatCompletionsURL == "http://user:pa55word@127.0.0.1:8000/v1/chat/completions", "requests keep them")
        #expect(
            endpoint.redacted("invalid key sk-live-123456 for http://user:pa55word@127.0.0.1:8000/v1")
                == "invalid key [redacted] for http://127.0.0.1:8000/v1")
        #expect(TeacherEndpoint.withoutCredentials("https://h.example/v1?x=a@b") == "https://h.example/v1?x=a@b")
    }

    @Test func aRunNeverPrintsOrStoresURLCredentials() async throws {
        let server = try await MockTeacherServer.start()
        defer { Task { await server.shutdown() } }
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let url = server.baseURL.replacingOccurrences(of: "http://", with: "http://vxtuser:pa55word-\(UInt32.random(in: 0...UInt32.max))@")
        let secret = String(url.split(separator: "@")[0].split(separator: ":").last ?? "")
        let run = try await TestSupport.runVXT([
            "run", "paper", "--input", "samples/llava_sample.json", "--images", "samples/images", "--work", work.path, "--teacher", url
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stderr.contains(secret))
        #expect(run.stderr.contains(server.baseURL), "the endpoint is shown without its credentials")
        let status = try await TestSupport.runVXT(["status", "--work", work.path, "--json"])
        #expect(!status.stdout.contains(secret))
        guard case let .array(endpoints)? = try JSONParser.parse(status.stdout)["endpoints"] else {
            Issue.record("no endpoints in \(status.stdout)"); return
        }
        #expect(!endpoints.isEmpty && endpoints.allSatisfy { $0["endpoint"]?.stringValue == server.baseURL })
        let show = try await TestSupport.runVXT(["show", "--work", work.path, "--id", "coffee-0004"])
        #expect(!show.stdout.contains(secret))
        // Nothing in the store's file either.
        let store = try Data(contentsOf: work.appendingPathComponent("vxt.sqlite"))
        #expect(store.range(of: Data(secret.utf8)) == nil)
    }
}
