import Foundation
import GRDB
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
}
