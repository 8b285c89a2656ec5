import Foundation

/// What the teacher's attempts have met so far, per endpoint and failure kind, for the progress
/// line ("0 answered · 37 teacher_unreachable by http://…") and for stopping a run that only
/// grinds: when every attempt of the last `window` failed on transport, no record can finish.
///
/// Attempts are reported by the teacher as they end (retries included), not when a task ends,
/// so a dead server shows within seconds instead of after each task's last retry.
public final class TeacherMonitor: @unchecked Sendable {
    private let lock = NSLock()
    private let now: @Sendable () -> Double
    private let started: Double
    private var answered = 0
    private var answeredByEndpoint: [String: Int] = [:]
    private var lastAnswer: Double?
    private var failures: [Key: Count] = [:]
    private var lastTransportFailure: Double?
    private var firstTransportFailureSinceAnswer: Double?

    struct Key: Hashable {
        var endpoint: String
        var kind: FailureKind
    }

    struct Count {
        var attempts = 0
        var example = ""
    }

    /// - Parameter now: the clock (seconds); tests pass their own.
    public init(now: (@Sendable () -> Double)? = nil) {
        let clock = now ?? { Date().timeIntervalSince1970 }
        self.now = clock
        started = clock()
    }

    public func answered(endpoint: String) {
        let t = now()
        lock.lock()
        answered += 1
        answeredByEndpoint[endpoint, default: 0] += 1
        lastAnswer = t
        firstTransportFailureSinceAnswer = nil
        lock.unlock()
    }

    public func failed(endpoint: String, kind: FailureKind, message: String) {
        let t = now()
        lock.lock()
        failures[Key(endpoint: endpoint, kind: kind), default: Count()].attempts += 1
        failures[Key(endpoint: endpoint, kind: kind)]?.example = message
        if kind == .teacherUnreachable || kind == .timeout {
            lastTransportFailure = t
            if firstTransportFailureSinceAnswer == nil { firstTransportFailureSinceAnswer = t }
        }
        lock.unlock()
    }

    /// Attempts so far: answers by endpoint, and failed attempts by endpoint and kind (metrics).
    public func attempts() -> (answered: [String: Int], failed: [(endpoint: String, kind: FailureKind, attempts: Int)]) {
        lock.lock()
        defer { lock.unlock() }
        let failed = failures.map { (endpoint: $0.key.endpoint, kind: $0.key.kind, attempts: $0.value.attempts) }
            .sorted { ($0.endpoint, $0.kind.rawValue) < ($1.endpoint, $1.kind.rawValue) }
        return (answeredByEndpoint, failed)
    }

    /// "12 answered · 37 teacher_unreachable (http://127.0.0.1:9/v1: connection refused)", the
    /// kinds that failed attempts met, most frequent first; empty before any attempt.
    public func summary() -> String {
        lock.lock()
        defer { lock.unlock() }
        guard answered > 0 || !failures.isEmpty else { return "" }
        var parts = ["\(answered) answered"]
        for (key, count) in failures.sorted(by: {
            $0.value.attempts > $1.value.attempts || ($0.value.attempts == $1.value.attempts && $0.key.kind < $1.key.kind)
        }).prefix(3) {
            let example = count.example.count > 120 ? String(count.example.prefix(120)) + "…" : count.example
            parts.append("\(count.attempts) failed attempts \(key.kind.rawValue) at \(key.endpoint) (\(example))")
        }
        return parts.joined(separator: " · ")
    }

    /// Why the run should stop, when no attempt has been answered for `window` seconds (or since
    /// the start) and the attempts in that time failed on transport: the teacher is gone.
    public func stalled(window: Double) -> String? {
        let t = now()
        lock.lock()
        defer { lock.unlock() }
        guard let since = firstTransportFailureSinceAnswer, let last = lastTransportFailure else { return nil }
        let quietSince = lastAnswer ?? started
        guard t - quietSince >= window, t - since >= window * 0.5, t - last < window else { return nil }
        let worst = failures.filter { $0.key.kind == .teacherUnreachable || $0.key.kind == .timeout }
            .max { $0.value.attempts < $1.value.attempts }
        let detail =
            worst.map { "\($0.value.attempts) attempts \($0.key.kind.rawValue) at \($0.key.endpoint), e.g. \($0.value.example)" } ?? ""
        return "no teacher answer for \(Int(t - quietSince)) s and every attempt failed on transport (\(detail))"
    }
}
