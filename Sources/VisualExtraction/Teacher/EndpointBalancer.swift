import Foundation

/// Limits of one teacher endpoint. Nil means no limit of that kind.
public struct EndpointLimits: Sendable, Equatable {
    /// Requests in flight at most; the adaptive limit moves between 1 and this.
    public var maxConcurrency: Int
    public var requestsPerMinute: Double?
    /// Estimated tokens (prompt + images + max_tokens, as providers count them) per minute.
    public var tokensPerMinute: Double?

    public init(maxConcurrency: Int, requestsPerMinute: Double? = nil, tokensPerMinute: Double? = nil) {
        self.maxConcurrency = max(1, maxConcurrency)
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
    }
}

/// Chooses the endpoint for each attempt and keeps every endpoint inside its limits.
///
/// - Spread: the endpoint with the fewest requests outstanding (relative to its limit) wins,
///   so a slow or small server gets less work without configuration.
/// - Adaptive concurrency: each endpoint's limit halves on 429, 503 or a timeout (the signs of a
///   full server), once per round of requests: only a request sent since the last decrease can
///   cause the next, so the hundreds of timeouts of one overload halve the limit once, not once a
///   second for as long as they keep arriving. Once answers come again the limit grows back along
///   TCP CUBIC's curve (RFC 9438), which depends on the time since then, not on round trips:
///   back near where the trouble began within seconds (~10 s from 750, ~25 s from 12,000), slowly
///   there, then probing above; never faster than one more per answer (doubling per round trip).
///   Growth of 1/limit per answer alone, as in TCP Reno, takes a round trip per unit of limit:
///   with answers that take 8.5 s, ~90 minutes from 100 back to 750 while the server sits idle.
/// - Ejection: 3 failures in a row (5xx, resets, timeouts) take an endpoint out for 5 s,
///   doubling to at most 60 s; when the time is up one probe request may go, and its success
///   restores the endpoint. One endpoint down costs only its own share.
/// - `Retry-After` pauses only the endpoint that sent it.
/// - Requests/min and tokens/min are token buckets holding ten seconds' worth.
/// Waiters queue in arrival order; nothing here sleeps on a lock.
public actor EndpointBalancer {
    public enum Outcome: Sendable {
        /// An answer (or a 4xx that says nothing about the server's health).
        case success
        /// 429, 503 or a timeout: the server is full.
        case overloaded(retryAfter: Double?)
        /// Another 5xx or a transport error.
        case failed
        /// Nothing learned about the server (the client had to give up on its own account).
        case neutral
    }

    struct State {
        var limits: EndpointLimits
        var limit: Double
        var outstanding = 0
        var consecutiveFailures = 0
        var ejections = 0
        var ejectedUntil: Double = 0
        var probing = false
        var pausedUntil: Double = 0
        /// When growth after the last decrease began: the first answer after it, as in Linux's
        /// CUBIC (nil until then: an overloaded server's silence is not time to grow in).
        var growingSince: Double? = 0
        /// The limit when the last decrease came (CUBIC's W_max): the curve climbs back towards it.
        var ceiling: Double
        /// Counts decreases; a slot carries the one it was taken in, so that the failure of a
        /// request sent before the latest decrease does not cause another.
        var generation = 0
        var requestTokens: Double
        var tokenTokens: Double
        var lastRefill: Double
        var completed = 0
        var failures = 0
    }

    private var states: [State]
    /// Waiting acquirers, oldest first.
    private var waiters = FIFOQueue<CheckedContinuation<Void, Never>>()
    private var timerArmed: Double?

    public static let failuresToEject = 3
    public static let firstEjectionSeconds = 5.0
    public static let longestEjectionSeconds = 60.0

    /// Seconds since the epoch; a test passes its own clock so that "one decrease a second" and
    /// ejection windows are decided by the test, not by how busy the machine is.
    private let now: @Sendable () -> Double

    public init(limits: [EndpointLimits], now: (@Sendable () -> Double)? = nil) {
        let clock = now ?? { Date().timeIntervalSince1970 }
        self.now = clock
        let now = clock()
        states = limits.map { limits in
            State(
                limits: limits, limit: Double(limits.maxConcurrency), ceiling: Double(limits.maxConcurrency),
                requestTokens: EndpointBalancer.burst(limits.requestsPerMinute),
                tokenTokens: EndpointBalancer.burst(limits.tokensPerMinute), lastRefill: now)
        }
    }

    static func burst(_ perMinute: Double?) -> Double {
        perMinute.map { max(1, $0 / 6) } ?? .infinity
    }

    /// A place on one endpoint, taken by `acquire` and given back to `release`.
    public struct Slot: Sendable, Equatable {
        /// The endpoint's index, in the order of the limits the balancer was made with.
        public let endpoint: Int
        /// The endpoint's decrease count when the slot was taken.
        let generation: Int
    }

    /// Waits for an endpoint with room and takes a slot on it.
    public func acquire(estimatedTokens: Int) async -> Slot {
        // Without a deadline the loop below only returns with a slot.
        await acquire(estimatedTokens: estimatedTokens, until: nil) ?? Slot(endpoint: 0, generation: 0)
    }

    /// Waits for an endpoint with room until `deadline` (seconds on this balancer's clock) and
    /// takes a slot on it; nil when the deadline came first. A task that has been failing for
    /// long must not queue without end behind the one probe an ejected endpoint allows.
    public func acquire(estimatedTokens: Int, until deadline: Double?) async -> Slot? {
        while true {
            let now = now()
            if let deadline, now >= deadline { return nil }
            if let index = pick(now: now, tokens: Double(estimatedTokens)) {
                states[index].outstanding += 1
                if states[index].limits.requestsPerMinute != nil { states[index].requestTokens -= 1 }
                if states[index].limits.tokensPerMinute != nil { states[index].tokenTokens -= Double(estimatedTokens) }
                return Slot(endpoint: index, generation: states[index].generation)
            }
            armTimer(now: now)
            await withCheckedContinuation { waiters.append($0) }
        }
    }

    /// CUBIC's constant (RFC 9438: C = 0.4, with time in seconds).
    static let cubicC = 0.4

    /// The limit CUBIC allows `elapsed` seconds after a decrease from `ceiling` to half of it:
    /// C·(t − K)³ + ceiling, where K = ∛(ceiling / 2 / C) is when it is back at the ceiling.
    static func cubicLimit(elapsed: Double, ceiling: Double) -> Double {
        let k = Foundation.cbrt(ceiling * 0.5 / cubicC)
        return cubicC * Foundation.pow(elapsed - k, 3) + ceiling
    }

    /// Gives the slot back with what happened, and lets waiters look again.
    public func release(_ slot: Slot, _ outcome: Outcome) {
        let now = now()
        let index = slot.endpoint
        var state = states[index]
        state.outstanding -= 1
        switch outcome {
        case .success:
            state.completed += 1
            state.consecutiveFailures = 0
            if state.probing || state.ejections > 0 { state.ejections = 0 }
            state.probing = false
            // Along the curve, at most one more per answer (no faster than doubling per round
            // trip); Reno's 1/limit is the floor, so the limit never stands still while answers come.
            let since = state.growingSince ?? now
            state.growingSince = since
            let curve = EndpointBalancer.cubicLimit(elapsed: now - since, ceiling: state.ceiling)
            state.limit = min(Double(state.limits.maxConcurrency), max(state.limit + 1 / state.limit, min(curve, state.limit + 1)))
        case let .overloaded(retryAfter):
            state.failures += 1
            if slot.generation == state.generation {
                state.ceiling = state.limit
                state.limit = max(1, state.limit / 2)
                state.growingSince = nil
                state.generation += 1
            }
            if let retryAfter, retryAfter > 0 { state.pausedUntil = max(state.pausedUntil, now + retryAfter) }
            if state.probing { eject(&state, now: now) }
        case .neutral:
            if state.probing { state.probing = false }
        case .failed:
            state.failures += 1
            // Requests sent before the ejection keep failing after it; they are the same outage,
            // not a reason to double the back-off.
            if state.ejectedUntil > now && !state.probing { break }
            state.consecutiveFailures += 1
            if state.probing || state.consecutiveFailures >= EndpointBalancer.failuresToEject { eject(&state, now: now) }
        }
        states[index] = state
        // One slot came free (two if the limit grew past a whole number; it grows by at most one
        // per answer): wake that many waiters, in arrival order, not all of them: with thousands
        // waiting, waking all is quadratic.
        wake(2)
    }

    private func eject(_ state: inout State, now: Double) {
        state.ejections += 1
        state.probing = false
        state.consecutiveFailures = 0
        let seconds = min(
            EndpointBalancer.longestEjectionSeconds, EndpointBalancer.firstEjectionSeconds * pow(2, Double(state.ejections - 1)))
        state.ejectedUntil = now + seconds
    }

    private func pick(now: Double, tokens: Double) -> Int? {
        var best: Int?
        var bestLoad = Double.infinity
        for index in states.indices {
            refill(index, now: now)
            let s = states[index]
            if s.ejectedUntil > now || s.pausedUntil > now { continue }
            let probe = s.ejections > 0
            if probe && s.outstanding > 0 { continue }
            if Double(s.outstanding) >= s.limit.rounded(.down) { continue }
            if s.limits.requestsPerMinute != nil && s.requestTokens < 1 { continue }
            if s.limits.tokensPerMinute != nil && s.tokenTokens < min(tokens, EndpointBalancer.burst(s.limits.tokensPerMinute)) { continue }
            let load = Double(s.outstanding) / max(1, s.limit)
            if load < bestLoad { best = index; bestLoad = load }
        }
        if let best, states[best].ejections > 0 { states[best].probing = true }
        return best
    }

    private func refill(_ index: Int, now: Double) {
        let elapsed = now - states[index].lastRefill
        guard elapsed > 0 else { return }
        states[index].lastRefill = now
        if let rpm = states[index].limits.requestsPerMinute {
            states[index].requestTokens = min(EndpointBalancer.burst(rpm), states[index].requestTokens + elapsed * rpm / 60)
        }
        if let tpm = states[index].limits.tokensPerMinute {
            states[index].tokenTokens = min(EndpointBalancer.burst(tpm), states[index].tokenTokens + elapsed * tpm / 60)
        }
    }

    /// When no endpoint has room for a time-based reason (ejection, pause, rate), waiters must be
    /// woken when that time comes even if no request finishes.
    private func armTimer(now: Double) {
        var next = Double.infinity
        for s in states {
            if s.ejectedUntil > now { next = min(next, s.ejectedUntil) }
            if s.pausedUntil > now { next = min(next, s.pausedUntil) }
            if let rpm = s.limits.requestsPerMinute, s.requestTokens < 1 { next = min(next, now + (1 - s.requestTokens) * 60 / rpm) }
            if let tpm = s.limits.tokensPerMinute, s.tokenTokens < 1 { next = min(next, now + max(0.05, (1 - s.tokenTokens) * 60 / tpm)) }
        }
        next = min(next, now + 1)  // a token bucket may need more than one refill step; deadlines pass
        if let armed = timerArmed, armed <= next, armed > now { return }
        timerArmed = next
        let delay = max(0.001, next - now)
        Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            await self?.timerFired()
        }
    }

    private func timerFired() {
        timerArmed = nil
        wakeAll()
    }

    private func wakeAll() {
        wake(waiters.count)
    }

    private func wake(_ count: Int) {
        var woken: [CheckedContinuation<Void, Never>] = []
        while woken.count < count, let waiter = waiters.popFirst() { woken.append(waiter) }
        for waiter in woken { waiter.resume() }
    }

    /// Acquirers waiting for room now (for tests: a waiter has queued, without sleeping for it).
    var waitingCount: Int { waiters.count }

    /// The endpoints whose adaptive limit is below their maximum, for the progress line: a run
    /// held back by an overload shows it, instead of only a slower rate. Nil when none is.
    public func heldBack(names: [String]) -> String? {
        let held = states.indices.filter { states[$0].limit < Double(states[$0].limits.maxConcurrency) }
        guard !held.isEmpty else { return nil }
        let shown = held.prefix(3).map { i in
            "\(Int(states[i].limit.rounded(.down))) of \(states[i].limits.maxConcurrency)"
                + (i < names.count && names.count > 1 ? " at \(names[i])" : "")
        }
        return "in flight held to " + shown.joined(separator: ", ") + (held.count > 3 ? " (and \(held.count - 3) more)" : "")
            + " after 429/503/timeouts, growing back as answers come"
    }

    /// Per endpoint: outstanding requests, current adaptive limit, answers, failures, and whether it is out.
    public func snapshot() -> [(outstanding: Int, limit: Double, completed: Int, failures: Int, ejected: Bool)] {
        let now = now()
        return states.map { ($0.outstanding, $0.limit, $0.completed, $0.failures, $0.ejectedUntil > now) }
    }
}
