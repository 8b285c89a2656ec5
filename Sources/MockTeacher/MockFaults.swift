import Foundation
import VisualExtraction

/// How the mock teacher misbehaves, reproducibly: whether a request meets a fault, which one,
/// and its latency are functions of the seed, the request body and how many times that body
/// was seen before. A retry of the same request is a new draw; the same run with the same
/// seed meets the same faults whatever the order requests arrive in.
public struct MockFaults: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// 429 with `Retry-After: <retryAfterSeconds>`.
        case rateLimit = "429"
        /// 500 with an error body.
        case serverError = "500"
        /// The connection is closed without an answer.
        case drop
        /// No answer at all: the client's timeout must end it.
        case stall
        /// A 200 answer cut in half, `finish_reason: "length"`.
        case length
    }

    /// Share of chat-completion requests that meet a fault, 0...1.
    public var failRate: Double
    public var kinds: [Kind]
    public var seed: UInt64
    public var retryAfterSeconds: Int
    /// Extra latency, uniform in 0...jitterMs, drawn like the faults.
    public var jitterMs: Int

    public init(failRate: Double = 0, kinds: [Kind] = Kind.allCases, seed: UInt64 = 1, retryAfterSeconds: Int = 1, jitterMs: Int = 0) {
        self.failRate = min(max(failRate, 0), 1)
        self.kinds = kinds.isEmpty ? Kind.allCases : kinds
        self.seed = seed
        self.retryAfterSeconds = retryAfterSeconds
        self.jitterMs = max(0, jitterMs)
    }

    public static func parseKinds(_ text: String) throws -> [Kind] {
        try text.split(separator: ",").map { name in
            guard let kind = Kind(rawValue: String(name).trimmingCharacters(in: .whitespaces)) else {
                throw ParseError(message: "unknown fault \"\(name)\"; faults are \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return kind
        }
    }

    public struct ParseError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// The fault (or none) and the extra latency for the `occurrence`-th arrival of a body.
    func draw(bodyHash: UInt64, occurrence: Int) -> (fault: Kind?, jitterMs: Int) {
        var state = seed ^ bodyHash ^ (UInt64(occurrence) &* 0x9E37_79B9_7F4A_7C15)
        let a = MockFaults.splitmix(&state), b = MockFaults.splitmix(&state), c = MockFaults.splitmix(&state)
        let unit = Double(a >> 11) / Double(1 << 53)
        let fault = failRate > 0 && unit < failRate ? kinds[Int(b % UInt64(kinds.count))] : nil
        let jitter = jitterMs > 0 ? Int(c % UInt64(jitterMs + 1)) : 0
        return (fault, jitter)
    }

    /// FNV-1a of the request body: which request this is, for the draw.
    static func hash(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }

    static func splitmix(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Arrivals per request body and faults served, shared by the server's connections.
public final class MockFaultLedger: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [UInt64: Int] = [:]
    private var served: [String: Int] = [:]
    private var accepted = 0

    /// How many times this body arrived before (0 the first time).
    func arrival(_ bodyHash: UInt64) -> Int {
        lock.lock(); defer { lock.unlock() }
        let n = seen[bodyHash, default: 0]
        seen[bodyHash] = n + 1
        return n
    }

    func count(_ outcome: String) {
        lock.lock(); served[outcome, default: 0] += 1; lock.unlock()
    }

    func connectionAccepted() {
        lock.lock(); accepted += 1; lock.unlock()
    }

    /// TCP connections the server accepted: clients that reuse their connections open few.
    public var connections: Int {
        lock.lock(); defer { lock.unlock() }
        return accepted
    }

    /// Answers served by outcome: "ok", "429", "500", "drop", "stall", "length".
    public var counts: [String: Int] {
        lock.lock(); defer { lock.unlock() }
        return served
    }
}
