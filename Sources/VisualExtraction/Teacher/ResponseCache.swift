import Foundation
import GRDB
import Logging

/// Answers already paid for, keyed by the SHA-256 of the exact request body: model, rendered
/// messages, image bytes (as sent, after resizing) and sampling parameters. Changing any of
/// them misses. The endpoint URL is not part of the key: the same model on another server
/// gives the same answer at temperature 0. Lives in its own file (`<cache>/responses.sqlite`) so
/// that new work directories reuse it; keep it on a local disk, one per node.
final class ResponseCache: Sendable {
    let pool: DatabasePool
    public let path: String

    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = (directory as NSString).appendingPathComponent("responses.sqlite")
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        // Array tasks on one node share the cache and start together: one creates and migrates it
        // while the others wait, then find it done (see `withExclusiveFileLock`).
        pool = try withExclusiveFileLock(at: path + ".lock") {
            let pool = try DatabasePool(path: path, configuration: configuration)
            try ResponseCache.migrator.migrate(pool)
            return pool
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: responses") { db in
            try db.execute(
                sql: """
                    CREATE TABLE response (
                        key TEXT PRIMARY KEY,
                        text TEXT NOT NULL,
                        finish_reason TEXT,
                        prompt_tokens INTEGER,
                        completion_tokens INTEGER,
                        model TEXT,
                        mock INTEGER NOT NULL,
                        created_at REAL NOT NULL
                    )
                    """)
        }
        migrator.registerMigration("v2: entry checks") { db in
            // A digest of each entry's fields under its key: an entry edited by hand or by another
            // tool, or half-copied from another cache, is a miss instead of a wrong answer.
            try db.execute(sql: "ALTER TABLE response ADD COLUMN checksum TEXT")
        }
        return migrator
    }

    /// The digest an entry must carry: its key and every field served from it.
    static func checksum(key: String, _ result: ChatResult) -> String {
        let fields = [
            key, result.text, result.finishReason ?? "", result.promptTokens.map(String.init) ?? "",
            result.completionTokens.map(String.init) ?? "", result.model ?? "", result.mock ? "1" : "0"
        ]
        return ContentHasher.sha256(Array(fields.joined(separator: "\u{0}").utf8))
    }

    /// The key of a request as sent to a teacher of this identity ("mock", or the model the
    /// server says it serves): the same body sent to the mock and to a real model are two keys.
    public static func key(for request: ChatRequest, teacher identity: String) -> String {
        var bytes = Array(identity.utf8)
        bytes.append(0)
        bytes.append(contentsOf: request.body())
        return ContentHasher.sha256(bytes)
    }

    func lookup(_ key: String) throws -> ChatResult? {
        try pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM response WHERE key = ?", arguments: [key]) else { return nil }
            let result = ChatResult(
                text: row["text"], finishReason: row["finish_reason"], promptTokens: row["prompt_tokens"],
                completionTokens: row["completion_tokens"], model: row["model"], mock: row["mock"],
                endpoint: "cache", attempts: 0)
            // An entry that does not match its key (or has no digest) is not served.
            guard (row["checksum"] as String?) == ResponseCache.checksum(key: key, result) else { return nil }
            return result
        }
    }

    func store(_ key: String, _ result: ChatResult) throws {
        try pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO response (key, text, finish_reason, prompt_tokens, completion_tokens, model, mock, created_at, checksum)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(key) DO UPDATE SET
                        text = excluded.text, finish_reason = excluded.finish_reason, prompt_tokens = excluded.prompt_tokens,
                        completion_tokens = excluded.completion_tokens, model = excluded.model, mock = excluded.mock,
                        created_at = excluded.created_at, checksum = excluded.checksum
                    """,
                arguments: [
                    key, result.text, result.finishReason, result.promptTokens, result.completionTokens,
                    result.model, result.mock, Date().timeIntervalSince1970, ResponseCache.checksum(key: key, result)
                ])
        }
    }

    public func count() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM response") ?? 0 }
    }
}

/// A teacher that answers from the cache when it can and fills it when it cannot. Truncated
/// answers are not cached: a later run with a larger limit should ask again.
///
/// Mock answers are never served to a run whose teacher is not the mock: a rehearsal with the
/// built-in mock and the real run may share a cache directory, and the real run must call its
/// server. The identity is part of the key, and a hit marked mock is refused all the same.
///
/// A cache that cannot be read or written (a full disk, a damaged file, a folder made read-only)
/// does not stop the run: the teacher answers instead. It is not silent either: the first failure
/// of each kind is a warning with its error, and so are the 10th, 100th, … so that a log shows
/// how many requests the cache failed.
struct CachingTeacher: Teacher {
    public let inner: any Teacher
    public let cache: ResponseCache
    /// "mock", or the model the servers serve (from the preflight), or the model asked for.
    public let identity: String
    public let isMock: Bool
    let logger: Logger
    let failures = Failures()

    public init(inner: any Teacher, cache: ResponseCache, identity: String, isMock: Bool, logger: Logger = .disabled) {
        self.inner = inner
        self.cache = cache
        self.identity = isMock ? "mock" : identity
        self.isMock = isMock
        self.logger = logger
    }

    public var endpointDescription: String { inner.endpointDescription + " (cache: \(cache.path))" }

    public func complete(_ request: ChatRequest) async -> Result<ChatResult, TeacherFailure> {
        let key = ResponseCache.key(for: request, teacher: identity)
        do {
            if let hit = try cache.lookup(key), hit.mock == isMock {
                var result = hit
                result.endpoint = "cache:" + inner.endpointDescription
                return .success(result)
            }
        } catch {
            report(error, count: failures.count(\.reads), "response cache: cannot read an answer; asking the teacher")
        }
        let result = await inner.complete(request)
        if case let .success(answer) = result, answer.finishReason != "length" {
            do {
                try cache.store(key, answer)
            } catch {
                report(error, count: failures.count(\.writes), "response cache: cannot keep an answer; the run goes on without it")
            }
        }
        return result
    }

    private func report(_ error: any Error, count: Int, _ message: Logger.Message) {
        // 1, 10, 100, …: a broken cache shows at once and its extent shows in the log without a line per request.
        var power = 1
        while power < count { power *= 10 }
        guard power == count else { return }
        logger.warning(
            message, metadata: ["cache.path": "\(cache.path)", "cache.failures": "\(count)", "error": "\(error)"])
    }

    /// Failed reads and writes so far.
    final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        var reads = 0
        var writes = 0

        /// Counts one more of `kind` and returns the new count.
        func count(_ kind: ReferenceWritableKeyPath<Failures, Int>) -> Int {
            lock.withLock {
                self[keyPath: kind] += 1
                return self[keyPath: kind]
            }
        }
    }
}
