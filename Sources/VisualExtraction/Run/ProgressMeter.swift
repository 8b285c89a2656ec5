import Foundation

/// Counts finished tasks against the work there is and turns them into a rate and an ETA: the
/// progress line a researcher watches for days.
///
/// The rate is read by Little's law, tasks in flight ÷ their latency, both averaged over a window
/// of a minute or four latencies: with thousands of requests in flight the answers arrive in waves,
/// and the first wave (everything sent at once) arrives faster than any steady rate, so counting
/// completions alone misleads for minutes. Until two latencies have passed since the first
/// completion the ETA is shown as settling.
public struct ProgressMeter: Sendable {
    public private(set) var total: Int
    /// False while tasks are still being added (streaming ingest): the total is a lower bound.
    public var totalIsFinal = true
    public private(set) var done = 0
    public private(set) var failed = 0
    /// Records that failed as they were read (their image missing, unreadable): none of their
    /// tasks is to do, so they are no part of `total`, but a run that reads a wrong --images must
    /// not say "0 failed" while it does.
    public var inputProblems = 0
    public private(set) var byStage: [String: Int] = [:]
    let start: Double
    private var firstCompletion: Double?
    /// Per whole second since `start`, oldest first, as far back as the window reaches.
    private var perSecond: [Second] = []

    struct Second {
        var second: Int
        var completions = 0
        var latencySum = 0.0
        var inFlightSum = 0.0
    }

    /// The shortest window the rate is measured over, in seconds.
    static let shortestWindow = 60.0

    public static func now() -> Double { Date().timeIntervalSince1970 }

    public init(total: Int, now: Double = ProgressMeter.now()) {
        self.total = total
        start = now
    }

    /// More tasks to do (a batch of records was ingested while the run goes on).
    public mutating func add(total more: Int) { total += more }

    public mutating func record(_ event: ProgressEvent, now: Double = ProgressMeter.now()) {
        if event.succeeded { done += 1 } else { failed += 1 }
        byStage[event.stage, default: 0] += 1
        if firstCompletion == nil { firstCompletion = now }
        let second = Int((now - start).rounded(.down))
        if perSecond.last?.second != second { perSecond.append(Second(second: second)) }
        perSecond[perSecond.count - 1].completions += 1
        perSecond[perSecond.count - 1].latencySum += max(0, event.seconds ?? 0)
        perSecond[perSecond.count - 1].inFlightSum += Double(event.inFlight ?? 0)
        // Keep what the window may need; a long run must not grow this without end.
        let keep = Int(window.rounded(.up)) + 2
        if let first = perSecond.first, second - first.second > keep {
            perSecond.removeFirst(perSecond.prefix { second - $0.second > keep }.count)
        }
    }

    /// The seconds of `perSecond` inside the window ending now.
    private func inWindow(now: Double) -> ArraySlice<Second> {
        let from = Int((now - start - window).rounded(.down))
        return perSecond.drop { $0.second < from }
    }

    /// Mean seconds from claim to result of the last minute's results (the window's length
    /// depends on it, so it cannot be measured over the window); nil before the first result.
    public var meanLatency: Double? {
        let seconds = perSecond.suffix(Int(ProgressMeter.shortestWindow))
        let count = seconds.reduce(0) { $0 + $1.completions }
        return count > 0 ? seconds.reduce(0) { $0 + $1.latencySum } / Double(count) : nil
    }

    /// Seconds the rate is measured over: a minute, or four latencies when tasks take longer.
    var window: Double { max(ProgressMeter.shortestWindow, 4 * (meanLatency ?? 0)) }

    /// Tasks per second: in flight ÷ latency over the window (Little's law); where no in-flight
    /// counts were given, completions over the time since the window's start.
    public func rate(now: Double = ProgressMeter.now()) -> Double {
        guard let first = firstCompletion else { return 0 }
        let seconds = inWindow(now: now)
        let count = seconds.reduce(0) { $0 + $1.completions }
        guard count > 0 else { return 0 }
        let latency = seconds.reduce(0) { $0 + $1.latencySum } / Double(count)
        let inFlight = seconds.reduce(0) { $0 + $1.inFlightSum } / Double(count)
        if latency > 0 && inFlight > 0 { return inFlight / latency }
        return Double(count) / max(now - max(first, now - window), 0.001)
    }

    /// Whether the rate has been measured long enough to trust: two latencies (and ten seconds)
    /// since the first completion.
    public func settled(now: Double = ProgressMeter.now()) -> Bool {
        guard let first = firstCompletion else { return false }
        return now - first >= max(10, 2 * (meanLatency ?? 0))
    }

    /// Seconds until every known task is done at the present rate; nil before any completion.
    public func remainingSeconds(now: Double = ProgressMeter.now()) -> Double? {
        let r = rate(now: now)
        guard r > 0 else { return nil }
        return Double(max(total - done - failed, 0)) / r
    }

    public func line(now: Double = ProgressMeter.now()) -> String {
        let finished = done + failed
        let r = rate(now: now)
        let eta: String
        if let remaining = remainingSeconds(now: now) {
            let text = ProgressMeter.duration(remaining)
            // Nothing left is certain however young the rate.
            let certain = totalIsFinal && (settled(now: now) || finished >= total)
            eta = certain ? text : "~\(text) (settling)"
        } else {
            eta = "--"
        }
        // Nothing to do is all done, unless the input is still being read.
        let percent = total > 0 ? Double(finished) * 100 / Double(total) : totalIsFinal ? 100 : 0
        let stages = byStage.keys.sorted().map { "\($0) \(byStage[$0] ?? 0)" }.joined(separator: ", ")
        let totalText = totalIsFinal ? "\(total)" : "\(total)+ (ingesting)"
        let problems = inputProblems > 0 ? " · \(inputProblems) records with input problems (`vxt status`)" : ""
        return String(
            format: "%d/%@ tasks (%.1f%%) · %d failed%@ · %.1f/s · elapsed %@ · ETA %@ · %@",
            finished, totalText, percent, failed, problems, r, ProgressMeter.duration(now - start), eta, stages)
    }

    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--" }
        let s = Int(seconds.rounded())
        if s >= 86400 { return "\(s / 86400)d\(String(format: "%02d", s % 86400 / 3600))h" }
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}
