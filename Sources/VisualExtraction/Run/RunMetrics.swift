import Foundation

/// A run's figures in Prometheus' text format (`vxt run --metrics-port`): task states, tokens and
/// queue depth per stage from the store's counters, results and their durations as this process
/// saw them, and the teacher's answers and failed attempts by endpoint and kind.
public final class RunMetrics: @unchecked Sendable {
    /// Upper bounds (seconds) of the task duration histogram: claim to result, a teacher's latency
    /// and the image work before it.
    static let buckets: [Double] = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]

    private struct StageFigures {
        var done = 0
        var failed = 0
        var bucketCounts = [Int](repeating: 0, count: RunMetrics.buckets.count)
        var seconds = 0.0
        var timed = 0
    }

    private let lock = NSLock()
    private var stages: [String: StageFigures] = [:]
    private var inFlight = 0

    public init() {}

    public func record(_ event: ProgressEvent) {
        lock.lock()
        defer { lock.unlock() }
        var figures = stages[event.stage] ?? StageFigures()
        if event.succeeded { figures.done += 1 } else { figures.failed += 1 }
        if let seconds = event.seconds {
            for (i, bound) in Self.buckets.enumerated() where seconds <= bound { figures.bucketCounts[i] += 1 }
            figures.seconds += seconds
            figures.timed += 1
        }
        stages[event.stage] = figures
        if let inFlight = event.inFlight { self.inFlight = max(0, inFlight - 1) }
    }

    /// A label value as the format escapes it.
    static func label(_ value: String) -> String {
        "\""
            + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    static func number(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x) }

    /// The page: `status` from the store (nil when it could not be read), `monitor` the teacher's.
    public func text(status: StatusSummary?, monitor: TeacherMonitor?) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" }
        if let status {
            family("vxt_tasks", "gauge", "Tasks by stage and state, from the job store.")
            for stage in status.stages {
                for state in TaskState.allCases {
                    out += "vxt_tasks{stage=\(Self.label(stage.stage)),state=\(Self.label(state.rawValue))} \(stage.counts[state] ?? 0)\n"
                }
            }
            family("vxt_queue_depth", "gauge", "Tasks of a stage ready to be sent (pending).")
            for stage in status.stages { out += "vxt_queue_depth{stage=\(Self.label(stage.stage))} \(stage.counts[.pending] ?? 0)\n" }
            family("vxt_tokens_total", "counter", "Tokens of finished tasks by stage, as the teacher counted them.")
            for stage in status.stages {
                out += "vxt_tokens_total{stage=\(Self.label(stage.stage)),type=\"prompt\"} \(stage.promptTokens)\n"
                out += "vxt_tokens_total{stage=\(Self.label(stage.stage)),type=\"completion\"} \(stage.completionTokens)\n"
            }
            family("vxt_records", "gauge", "Records in the job store.")
            out += "vxt_records \(status.records)\n"
        }
        lock.lock()
        let stages = self.stages.sorted { $0.key < $1.key }
        let inFlight = self.inFlight
        lock.unlock()
        family("vxt_task_results_total", "counter", "Tasks finished by this process, by stage and outcome.")
        for (stage, figures) in stages {
            out += "vxt_task_results_total{stage=\(Self.label(stage)),outcome=\"done\"} \(figures.done)\n"
            out += "vxt_task_results_total{stage=\(Self.label(stage)),outcome=\"failed\"} \(figures.failed)\n"
        }
        family("vxt_task_duration_seconds", "histogram", "Seconds from a task's claim to its result.")
        for (stage, figures) in stages {
            for (i, bound) in Self.buckets.enumerated() {
                out +=
                    "vxt_task_duration_seconds_bucket{stage=\(Self.label(stage)),le=\"\(Self.number(bound))\"} \(figures.bucketCounts[i])\n"
            }
            out += "vxt_task_duration_seconds_bucket{stage=\(Self.label(stage)),le=\"+Inf\"} \(figures.timed)\n"
            out += "vxt_task_duration_seconds_sum{stage=\(Self.label(stage))} \(figures.seconds)\n"
            out += "vxt_task_duration_seconds_count{stage=\(Self.label(stage))} \(figures.timed)\n"
        }
        family("vxt_requests_in_flight", "gauge", "Tasks claimed and not finished yet.")
        out += "vxt_requests_in_flight \(inFlight)\n"
        if let monitor {
            let attempts = monitor.attempts()
            family("vxt_teacher_answers_total", "counter", "Teacher attempts answered, by endpoint.")
            for (endpoint, count) in attempts.answered.sorted(by: { $0.key < $1.key }) {
                out += "vxt_teacher_answers_total{endpoint=\(Self.label(endpoint))} \(count)\n"
            }
            family("vxt_teacher_failed_attempts_total", "counter", "Teacher attempts that failed, by endpoint and failure kind.")
            for failure in attempts.failed {
                out +=
                    "vxt_teacher_failed_attempts_total{endpoint=\(Self.label(failure.endpoint)),kind=\(Self.label(failure.kind.rawValue))} \(failure.attempts)\n"
            }
        }
        return out
    }
}
