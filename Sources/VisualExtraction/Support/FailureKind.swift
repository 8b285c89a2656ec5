/// What kind of thing went wrong with a task, so that failures are counted, grouped and
/// retried by cause rather than by the text of a message that holds paths and record ids.
///
/// The raw values are stored in the job store (`task.failure_kind`), printed by `vxt status`
/// and accepted by `vxt status --kind` and `vxt retry --kind`: they are part of the interface.
public enum FailureKind: String, Sendable, Codable, CaseIterable, Comparable {
    /// The record itself cannot be used (bad JSON, no conversations); fix the input.
    case inputInvalid = "input_invalid"
    /// The image file does not exist under `--images`; a rerun with the right `--images`, or
    /// `vxt retry --kind image_missing` once the files are there, puts the record back to work.
    case imageMissing = "image_missing"
    /// The image path leaves `--images` (absolute, `..`, a symlink out).
    case imageRefused = "image_refused"
    /// The file is there but is empty, corrupt, unsupported or too large.
    case imageUnreadable = "image_unreadable"
    /// No connection could be made (refused, DNS, unreachable) or it broke before an answer.
    case teacherUnreachable = "teacher_unreachable"
    /// The server answered with an HTTP error status.
    case httpStatus = "http_status"
    /// No answer within the request timeout.
    case timeout
    /// A 200 whose body is not a usable chat completion (not JSON, no message, empty text).
    case badAnswer = "bad_answer"
    /// The statements could not be had: wrong count or statements unrelated to their pairs,
    /// after the re-ask and the per-pair calls.
    case statementsUnusable = "statements_unusable"
    /// The stage's prompt could not be rendered for this record.
    case promptUnrenderable = "prompt_unrenderable"
    /// A stage this task needs failed.
    case upstreamFailed = "upstream_failed"
    /// Anything else (a local teacher process that failed, a store written by an older vxt).
    case other

    /// Failures that the input, not the teacher, must fix: `vxt retry` leaves them alone, except
    /// missing images, which it checks again.
    public var isInputProblem: Bool {
        switch self {
        case .inputInvalid, .imageMissing, .imageRefused, .imageUnreadable: return true
        default: return false
        }
    }

    public static func < (lhs: FailureKind, rhs: FailureKind) -> Bool { lhs.rawValue < rhs.rawValue }

    /// A list as given on the command line: "image_missing,timeout".
    public static func parseList(_ text: String) throws(UnknownKind) -> [FailureKind] {
        try text.split(separator: ",").map { name throws(UnknownKind) in
            let trimmed = String(name).trimmed
            guard let kind = FailureKind(rawValue: trimmed) else { throw UnknownKind(name: trimmed) }
            return kind
        }
    }

    public struct UnknownKind: Error, CustomStringConvertible {
        public let name: String
        public var description: String {
            "unknown failure kind \"\(name)\"; kinds are \(FailureKind.allCases.map(\.rawValue).joined(separator: ", "))"
        }
    }
}
