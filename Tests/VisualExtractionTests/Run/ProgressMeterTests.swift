import Foundation
import Testing
@testable import VisualExtraction

/// The ETA on the progress line, replayed over completion times shaped like a real fleet:
/// 12,000 requests in flight against servers that take ~8.5 s, 124,920 tasks (issue #18's run).
@Suite struct ProgressMeterTests {
    /// When each of `total` tasks finishes with `inFlight` slots, each task taking `latency(n)` s
    /// (the next task goes to the slot that frees first, as the runner claims), with its latency
    /// and the number in flight then, as the runner reports them; in finishing order.
    static func completions(total: Int, inFlight: Int, latency: (Int) -> Double) -> [(time: Double, latency: Double, inFlight: Int)] {
        var free = MinHeap(Array(repeating: 0.0, count: inFlight))  // when each slot is free
        var ends: [(time: Double, latency: Double)] = []
        ends.reserveCapacity(total)
        for n in 0..<total {
            let took = latency(n)
            let end = free.popMin() + took
            free.push(end)
            ends.append((end, took))
        }
        ends.sort { $0.time < $1.time }
        // In flight at a task's end: every slot until the last `inFlight` tasks drain it.
        return ends.enumerated().map { n, end in (end.time, end.latency, min(inFlight, total - n)) }
    }

    /// Replays the times; at each checkpoint (share of tasks done) compares the ETA with the time
    /// that really remained. Returns the worst relative error from 10% on.
    static func worstError(
        _ events: [(time: Double, latency: Double, inFlight: Int)], checkpoints: [Double] = [0.1, 0.2, 0.35, 0.5, 0.75, 0.9]
    ) -> Double {
        var meter = ProgressMeter(total: events.count, now: 0)
        var worst = 0.0
        var next = checkpoints[...]
        let end = events[events.count - 1].time
        for (n, event) in events.enumerated() {
            meter.record(
                ProgressEvent(stage: "extraction", succeeded: true, seconds: event.latency, inFlight: event.inFlight), now: event.time)
            guard let share = next.first, Double(n + 1) >= share * Double(events.count) else { continue }
            next.removeFirst()
            let remaining = end - event.time
            let eta = meter.remainingSeconds(now: event.time) ?? .infinity
            worst = max(worst, abs(eta - remaining) / remaining)
            if share >= 0.35 { #expect(meter.settled(now: event.time), "at \(share * 100)% the ETA no longer says settling") }
        }
        return worst
    }

    @Test func etaWithinAQuarterFromTenPercentOnWhenAnswersArriveSpread() {
        var seed: UInt64 = 42
        let times = Self.completions(total: 124_920, inFlight: 12_000) { _ in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return 7 + 3 * Double(seed >> 11) / Double(1 << 53)  // 7–10 s
        }
        let worst = Self.worstError(times)
        #expect(worst <= 0.25, "worst ETA error \(worst)")
    }

    @Test func etaWithinAQuarterWhenAnswersArriveInWaves() {
        // Every request takes exactly 8.5 s: 12,000 answers land at once, then nothing for 8.5 s.
        let times = Self.completions(total: 124_920, inFlight: 12_000) { _ in 8.5 }
        let worst = Self.worstError(times)
        #expect(worst <= 0.25, "worst ETA error \(worst)")
    }

    @Test func theFirstAnswersGiveASettlingEstimateAndTheIdleStartCountsForNothing() {
        var meter = ProgressMeter(total: 1000, now: 0)
        #expect(meter.line(now: 5).contains("ETA --"), "nothing finished yet: no ETA")
        // The pipeline fills for 8.5 s, then ten answers a second.
        for n in 0..<30 {
            meter.record(ProgressEvent(stage: "s", succeeded: true, seconds: 8.5, inFlight: 85), now: 8.5 + Double(n) / 10)
        }
        #expect(meter.line(now: 11.5).contains("(settling)"))
        let rate = meter.rate(now: 11.5)
        #expect(rate > 7 && rate < 13, "the 8.5 s of filling is latency, not a slow rate: \(rate)/s")
    }

    @Test func aGrowingTotalIsShownAsALowerBound() {
        var meter = ProgressMeter(total: 2000, now: 0)
        meter.totalIsFinal = false
        meter.add(total: 2000)
        #expect(meter.total == 4000)
        #expect(meter.line(now: 1).contains("0/4000+ (ingesting) tasks"))
    }

    /// Records that fail as they are read add no task to do, yet the line counts them: a run whose
    /// images are missing says so while it reads, not only in its summary.
    @Test func recordsThatFailAtIngestAreCountedOnTheLine() {
        var meter = ProgressMeter(total: 0, now: 0)
        meter.totalIsFinal = false
        #expect(!meter.line(now: 1).contains("input problems"))
        meter.add(total: 0)
        meter.inputProblems += 5000
        #expect(
            meter.line(now: 2).hasPrefix("0/0+ (ingesting) tasks (0.0%) · 0 failed · 5000 records with input problems"),
            "\(meter.line(now: 2))")
    }

    @Test func nothingKnownYetIsNotAllDone() {
        var meter = ProgressMeter(total: 0, now: 0)
        meter.totalIsFinal = false
        #expect(meter.line(now: 1).hasPrefix("0/0+ (ingesting) tasks (0.0%)"), "\(meter.line(now: 1))")
        meter.totalIsFinal = true
        #expect(meter.line(now: 1).hasPrefix("0/0 tasks (100.0%)"), "an empty input is done")
    }

    @Test func aRunThatEndsBeforeTheRateSettlesEndsWithNoTimeLeft() {
        var meter = ProgressMeter(total: 2, now: 0)
        meter.record(ProgressEvent(stage: "s", succeeded: true, seconds: 0.1, inFlight: 1), now: 0.1)
        #expect(meter.line(now: 0.2).contains("ETA ~"), "one of two done, too early to say: \(meter.line(now: 0.2))")
        meter.record(ProgressEvent(stage: "s", succeeded: true, seconds: 0.1, inFlight: 0), now: 0.3)
        #expect(meter.line(now: 0.4).contains("ETA 0s ·"), "\(meter.line(now: 0.4))")
    }
}

/// The smallest of a set of times first, for the simulated fleet's free slots.
private struct MinHeap {
    private var items: [Double]

    init(_ items: [Double]) { self.items = items.sorted() }

    mutating func popMin() -> Double {
        let top = items[0]
        let last = items.removeLast()
        guard !items.isEmpty else { return top }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < items.count && items[l] < items[m] { m = l }
            if r < items.count && items[r] < items[m] { m = r }
            if m == i { return top }
            items.swapAt(i, m)
            i = m
        }
    }

    mutating func push(_ value: Double) {
        items.append(value)
        var i = items.count - 1
        while i > 0 && items[(i - 1) / 2] > items[i] {
            items.swapAt(i, (i - 1) / 2)
            i = (i - 1) / 2
        }
    }
}
