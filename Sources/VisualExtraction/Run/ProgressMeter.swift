import Foundation

/// Counts finished tasks against the work there was at the start and turns them into a rate
/// and an ETA: the progress line a researcher watches for days.
public struct ProgressMeter: Sendable {
    public private(set) var total: Int
    public private(set) var done = 0
    public private(set) var failed = 0
    public private(set) var byStage: [String: Int] = [:]
    let start: Double
    /// Recent completion times for a rate that follows the present, not the whole run.
    private var recent: [Double] = []

    public static func now() -> Double { Date().timeIntervalSince1970 }

    public init(total: Int, now: Double = ProgressMeter.now()) {
        self.total = total
        start = now
    }

    public mutating func record(_ event: ProgressEvent, now: Double = ProgressMeter.now()) {
        if event.succeeded { done += 1 } else { failed += 1 }
        byStage[event.stage, default: 0] += 1
        recent.append(now)
        if recent.count > 512 { recent.removeFirst(recent.count - 512) }
    }

    /// Tasks per second over the recent window.
    public func rate(now: Double = ProgressMeter.now()) -> Double {
        guard let first = recent.first, recent.count > 1 else {
            let elapsed = now - start
            return elapsed > 0 ? Double(done + failed) / elapsed : 0
        }
        let span = max(now - first, 0.001)
        return Double(recent.count) / span
    }

    public func line(now: Double = ProgressMeter.now()) -> String {
        let finished = done + failed
        let r = rate(now: now)
        let remaining = max(total - finished, 0)
        let eta = r > 0 ? ProgressMeter.duration(Double(remaining) / r) : "--"
        let percent = total > 0 ? Double(finished) * 100 / Double(total) : 100
        let stages = byStage.keys.sorted().map { "\($0) \(byStage[$0] ?? 0)" }.joined(separator: ", ")
        return String(
            format: "%d/%d tasks (%.1f%%) · %d failed · %.1f/s · elapsed %@ · ETA %@ · %@",
            finished, total, percent, failed, r, ProgressMeter.duration(now - start), eta, stages)
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
