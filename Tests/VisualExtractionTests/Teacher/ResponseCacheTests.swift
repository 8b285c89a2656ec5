import Foundation
import GRDB
import Logging
import Testing
@testable import VisualExtraction

/// The response cache serves only what it stored for exactly that request and teacher.
@Suite struct ResponseCacheTests {
    /// Counts calls; answers with a fixed text.
    final class CountingTeacher: Teacher, @unchecked Sendable {
        let endpointDescription = "counting"
        private let lock = NSLock()
        private var count = 0
        var calls: Int { lock.withLock { count } }
        func complete(_ request: ChatRequest) async -> Result<ChatResult, TeacherFailure> {
            lock.withLock { count += 1 }
            return .success(
                ChatResult(
                    text: "The bus is red.", finishReason: "stop", promptTokens: 5, completionTokens: 4,
                    model: "m", mock: false, endpoint: "counting", attempts: 1))
        }
    }

    static let request = ChatRequest(
        model: "m", prompt: "Question #1: What color is the bus?\nAnswer: Red", images: [],
        maxTokens: 64, temperature: 0)

    @Test func aHitIsServedWithoutACall() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let inner = CountingTeacher()
        let teacher = CachingTeacher(inner: inner, cache: try ResponseCache(directory: dir.path), identity: "m", isMock: false)
        _ = try await teacher.complete(Self.request).get()
        let second = try await teacher.complete(Self.request).get()
        #expect(inner.calls == 1 && second.text == "The bus is red." && second.endpoint.hasPrefix("cache:"))
    }

    @Test func anEntryEditedAfterItWasStoredIsAMissAndIsReplaced() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let inner = CountingTeacher()
        let cache = try ResponseCache(directory: dir.path)
        let teacher = CachingTeacher(inner: inner, cache: cache, identity: "m", isMock: false)
        _ = try await teacher.complete(Self.request).get()
        // Someone rewrites the stored answer (or copies a row from another cache under this key).
        try await DatabaseQueue(path: cache.path).write { db in
            try db.execute(sql: "UPDATE response SET text = 'Ignore the image; the bus is green.'")
        }
        let answer = try await teacher.complete(Self.request).get()
        #expect(answer.text == "The bus is red.", "the edited entry is not served")
        #expect(inner.calls == 2)
        // The entry is whole again: the next call is a hit.
        _ = try await teacher.complete(Self.request).get()
        #expect(inner.calls == 2)
    }

    /// Keeps the messages logged through it.
    struct CapturingLogHandler: LogHandler {
        final class Lines: @unchecked Sendable {
            private let lock = NSLock()
            private var stored: [(Logger.Level, String, Logger.Metadata)] = []
            var all: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] { lock.withLock { stored } }
            func append(_ line: (Logger.Level, String, Logger.Metadata)) { lock.withLock { stored.append(line) } }
        }
        let lines: Lines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            lines.append((event.level, event.message.description, metadata.merging(event.metadata ?? [:]) { $1 }))
        }
    }

    @Test func aCacheThatFailsIsWarnedAboutAndTheTeacherAnswers() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let inner = CountingTeacher()
        let cache = try ResponseCache(directory: dir.path)
        let lines = CapturingLogHandler.Lines()
        let logger = Logger(label: "test", factory: { _ in CapturingLogHandler(lines: lines) })
        let teacher = CachingTeacher(inner: inner, cache: cache, identity: "m", isMock: false, logger: logger)
        // Another tool (or a bad copy) leaves the file without its table: every read and write fails.
        try await DatabaseQueue(path: cache.path).write { db in try db.execute(sql: "DROP TABLE response") }
        for _ in 0..<12 {
            let answer = try await teacher.complete(Self.request).get()
            #expect(answer.text == "The bus is red." && !answer.endpoint.hasPrefix("cache:"))
        }
        #expect(inner.calls == 12, "each request went to the teacher")
        let warnings = lines.all.filter { $0.level == .warning }
        let counts = warnings.map { "\($0.message.prefix(29)) \($0.metadata["cache.failures"].map { "\($0)" } ?? "-")" }
        #expect(
            counts == [
                "response cache: cannot read a 1", "response cache: cannot keep a 1", "response cache: cannot read a 10",
                "response cache: cannot keep a 10"
            ], "the 1st and the 10th failure of each kind: \(counts)")
        #expect(warnings.allSatisfy { "\($0.metadata["error"] ?? "")".contains("no such table: response") }, "\(warnings)")
        #expect(warnings.allSatisfy { "\($0.metadata["cache.path"] ?? "")" == cache.path })
    }

    /// The array tasks of a Slurm job on one node share one cache directory and start within
    /// milliseconds of each other. Before the cache took a lock around its creation, two of them
    /// could both run the first migration, and one shard failed at start with "duplicate column
    /// name: checksum". Openers here are separate connections, as separate processes would be.
    @Test func openersStartingTogetherOnANewCacheAllOpenIt() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var failures: [String] = []
        for round in 0..<25 {
            let cache = dir.appendingPathComponent("cache-\(round)").path
            let results = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        do {
                            _ = try ResponseCache(directory: cache)
                            return nil
                        } catch { return "\(error)" }
                    }
                }
                return await group.reduce(into: [String]()) { if let failure = $1 { $0.append(failure) } }
            }
            failures += results
        }
        #expect(failures.isEmpty, "\(failures.count) of 200 openers failed: \(failures.prefix(3))")
        // Each opener found the same, whole cache.
        let cache = try ResponseCache(directory: dir.appendingPathComponent("cache-0").path)
        try cache.store(
            "k",
            ChatResult(
                text: "The bus is red.", finishReason: "stop", promptTokens: 1, completionTokens: 1, model: "m", mock: false, endpoint: "e",
                attempts: 1))
        #expect(try cache.lookup("k")?.text == "The bus is red.")
    }
}
