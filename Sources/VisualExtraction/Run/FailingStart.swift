import Foundation

/// Stops a run whose stage fails from its very first tasks for a reason that retrying will not
/// fix: every description refused with HTTP 400 because the server's context is shorter than the
/// stage's max_tokens, a model whose every answer is unusable. Such a run would otherwise fail
/// each of 665k records in turn and say so hours later with exit status 2; stopped after the
/// first `limit` such failures of a stage with not one task of it done, it says why at once, and
/// `vxt retry --kind` hands the failed tasks back once the cause is fixed.
///
/// Transport failures (a server gone) are `TeacherMonitor.stalled`'s; input problems belong to
/// their records and never stop a run.
public final class FailingStart: @unchecked Sendable {
    /// Failures of a stage, with none of its tasks done, that stop the run.
    public let limit: Int
    private let lock = NSLock()
    private var stages: [String: Tally] = [:]
    private var tripped: String?

    private struct Tally {
        var done = 0
        var failed = 0
        var kinds: [FailureKind: (count: Int, example: String)] = [:]
    }

    public init(limit: Int) {
        self.limit = limit
    }

    /// Kinds that say the stage as set up cannot work against this teacher.
    static func countsAgainstTheStart(_ kind: FailureKind) -> Bool {
        switch kind {
        case .httpStatus, .badAnswer, .statementsUnusable, .promptUnrenderable: true
        default: false
        }
    }

    /// Takes one finished task; returns why the run should stop the first time it should.
    public func record(_ event: ProgressEvent) -> String? {
        lock.lock()
        defer { lock.unlock() }
        guard limit > 0, tripped == nil else { return nil }
        var tally = stages[event.stage, default: Tally()]
        defer { stages[event.stage] = tally }
        if event.succeeded {
            tally.done += 1
            return nil
        }
        guard tally.done == 0, let kind = event.failureKind, Self.countsAgainstTheStart(kind) else { return nil }
        tally.failed += 1
        let count = (tally.kinds[kind]?.count ?? 0) + 1
        tally.kinds[kind] = (count, tally.kinds[kind]?.example ?? event.failureReason ?? "")
        guard tally.failed >= limit else { return nil }
        let listed = tally.kinds.sorted { $0.value.count > $1.value.count || ($0.value.count == $1.value.count && $0.key < $1.key) }
        let detail = listed.map { "\($0.value.count) \($0.key.rawValue), e.g. \(String($0.value.example.prefix(300)))" }
            .joined(separator: "; ")
        tripped = "the first \(tally.failed) \(event.stage) tasks failed and none succeeded (\(detail))"
        return tripped
    }

    /// Why the run was stopped, once it was.
    public var reason: String? {
        lock.lock()
        defer { lock.unlock() }
        return tripped
    }

    /// The kinds that stopped it, for the `vxt retry --kind` that brings their tasks back.
    public var kinds: [FailureKind] {
        lock.lock()
        defer { lock.unlock() }
        guard tripped != nil else { return [] }
        return Set(stages.values.filter { $0.failed >= limit }.flatMap(\.kinds.keys)).sorted()
    }
}
