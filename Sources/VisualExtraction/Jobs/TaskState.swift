/// Where one (record, stage) task is. Every transition is committed in a transaction.
public enum TaskState: String, Sendable, CaseIterable, Codable, CodingKeyRepresentable {
    /// Needs an upstream stage that is not done yet.
    case waiting
    /// Ready to be claimed.
    case pending
    /// Claimed by a running process; returns to pending if that process dies.
    case running
    case done
    case failed
    /// Nothing to do for this record (no image, video); the reason is kept.
    case skipped
    /// Its request is in a batch file (`vxt batch export`); `vxt batch import` brings the answer.
    /// An online run does not send it.
    case batched
}

/// A unit of work handed to the runner: the task's record and its upstream outputs.
public struct ClaimedTask: Sendable {
    /// The task's row id: commits find the row by it without a key lookup.
    public let taskID: Int64
    public let recordKey: String
    public let stage: String
    public let record: CorpusRecord
    /// Raw output text of each finished stage of this record.
    public let upstream: [String: String]
}

/// What a finished teacher call left behind, ready to be committed.
public struct TaskResult: Sendable {
    public var recordKey: String
    public var stage: String
    public var outcome: Outcome
    /// The request as sent, with images replaced by placeholders.
    public var request: String?
    public var startedAt: Double
    public var finishedAt: Double
    public var imageSHA256: String?
    /// The claimed task's row id, when known (a result made from a `ClaimedTask`).
    public var taskID: Int64?
    /// For a failure: the last HTTP status and the endpoint of the last attempt, when there were.
    public var failureStatus: Int?
    public var failureEndpoint: String?

    public enum Outcome: Sendable {
        case done(Completion)
        case failed(reason: String, kind: FailureKind = .other)
    }

    /// What a done task stores; made by the stage executors.
    public typealias Completion = StageCompletion

    public init(
        recordKey: String, stage: String, outcome: Outcome, request: String?, startedAt: Double, finishedAt: Double,
        imageSHA256: String? = nil
    ) {
        self.recordKey = recordKey
        self.stage = stage
        self.outcome = outcome
        self.request = request
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.imageSHA256 = imageSHA256
    }
}
