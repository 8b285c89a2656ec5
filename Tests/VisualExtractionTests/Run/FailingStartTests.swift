import Testing
@testable import VisualExtraction

/// A stage that fails from its first task for a reason retrying will not fix stops the run; one
/// that has done anything, transport failures and input problems do not.
@Suite struct FailingStartTests {
    let refused = "HTTP 400: This model's maximum context length is 2048 tokens. However, you requested 2248 tokens"

    func failure(_ stage: String, _ kind: FailureKind, _ reason: String = "x") -> ProgressEvent {
        ProgressEvent(stage: stage, succeeded: false, failureKind: kind, failureReason: reason)
    }

    @Test func theLimitthFailureOfAStageWithNothingDoneStopsTheRun() {
        let watch = FailingStart(limit: 3)
        // The statements stage succeeds throughout; only the descriptions are refused.
        for _ in 0..<5 { #expect(watch.record(ProgressEvent(stage: "statements", succeeded: true)) == nil) }
        #expect(watch.record(failure("extraction", .httpStatus, refused)) == nil)
        #expect(watch.record(failure("extraction", .badAnswer, "empty answer")) == nil)
        let reason = watch.record(failure("extraction", .httpStatus, "HTTP 400: another"))
        #expect(
            reason
                == "the first 3 extraction tasks failed and none succeeded (2 http_status, e.g. \(refused); 1 bad_answer, e.g. empty answer)"
        )
        #expect(watch.reason == reason && watch.kinds == [.badAnswer, .httpStatus])
        // Said once.
        #expect(watch.record(failure("extraction", .httpStatus)) == nil && watch.reason == reason)
    }

    @Test func aStageThatHasDoneAnythingIsNotStopped() {
        let watch = FailingStart(limit: 3)
        #expect(watch.record(failure("extraction", .httpStatus)) == nil)
        #expect(watch.record(ProgressEvent(stage: "extraction", succeeded: true)) == nil)
        for _ in 0..<10 { #expect(watch.record(failure("extraction", .httpStatus)) == nil) }
        #expect(watch.reason == nil && watch.kinds.isEmpty)
    }

    @Test func transportFailuresInputProblemsAndALimitOfZeroNeverStopIt() {
        let watch = FailingStart(limit: 2)
        for kind in [FailureKind.teacherUnreachable, .timeout, .imageMissing, .inputInvalid, .upstreamFailed, .other] {
            for _ in 0..<3 { #expect(watch.record(failure("extraction", kind)) == nil) }
        }
        #expect(watch.reason == nil)
        let never = FailingStart(limit: 0)
        for _ in 0..<10 { #expect(never.record(failure("extraction", .httpStatus)) == nil) }
    }
}
