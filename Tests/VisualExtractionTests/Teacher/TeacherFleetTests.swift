import Foundation
@testable import MockTeacher
import Testing
@testable import VisualExtraction

/// The client against a misbehaving fleet, over loopback: faults end done or failed with a
/// reason, Retry-After is obeyed, a dead endpoint is ejected and gets its share back once it
/// recovers, a stalled server cannot hang a request, and the limits hold.
// A hang fails the suite instead of holding CI: generous, since no test bounds real time otherwise.
@Suite(.serialized, .timeLimit(.minutes(15))) struct TeacherFleetTests {
    static func request(_ n: Int) -> ChatRequest {
        ChatRequest(
            model: "m", prompt: "Question #1: What color is cup \(n)?\nAnswer: Red\nDeclarative Statement(s):", images: [], maxTokens: 32,
            temperature: 0)
    }

    @Test func everyRequestUnderFaultsEndsDoneOrFailedWithAReason() async throws {
        let faults = MockFaults(failRate: 0.5, seed: 7, retryAfterSeconds: 1)
        let server = try await MockTeacherServer.start(.init(faults: faults))
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        // Attempts, not time, end a request here: the retry window (on the real clock) is left
        // open. With the default 300 s, a machine loaded by other suites gave requests up after 3.
        let teacher = OpenAITeacher(
            endpoint: TeacherEndpoint(
                baseURL: server.baseURL, apiKey: nil, timeoutSeconds: 1, maxAttempts: 4, retryWindowSeconds: .infinity),
            client: client)
        let results = await withTaskGroup(of: Result<ChatResult, TeacherFailure>.self) { group in
            for n in 0..<80 { group.addTask { await teacher.complete(Self.request(n)) } }
            var all: [Result<ChatResult, TeacherFailure>] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(results.count == 80)
        var done = 0
        for result in results {
            switch result {
            case let .success(answer):
                done += 1
                #expect(!answer.text.isEmpty)
                #expect(answer.finishReason == "stop" || answer.finishReason == "length")
            case let .failure(failure):
                #expect(failure.message.contains("gave up after 4 attempts"), "\(failure.message)")
            }
        }
        // At a 50% fault rate and 4 attempts about 1 in 16 requests exhausts its retries, 75 done;
        // without retries about 40 would be. Not a tighter bound: on a loaded machine answers
        // outlast the 1 s timeout the stalls need, and each such attempt counts as one more fault
        // (59 done in a full suite beside a build). That failures come from retries running out
        // is what each failure's message says, checked above.
        #expect(done > 40, "done \(done) of 80")
        let served = server.ledger.counts
        for kind in ["429", "500", "drop", "stall", "length", "ok"] {
            #expect((served[kind] ?? 0) > 0, "the mock served \(kind): \(served)")
        }
        await server.shutdown()
    }

    @Test func aWholeRunUnderFaultsLeavesNothingPendingOrSilent() async throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let run = try await TestSupport.runVXT([
            "run", "pipelines/clean.yaml", "--input", TestSupport.sampleCorpus.path, "--images", TestSupport.sampleImages.path,
            "--work", work.path, "--mock-fail-rate", "0.4", "--timeout", "1"
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let status = try JSONParser.parse(try await TestSupport.runVXT(["status", "--work", work.path, "--json"]).stdout)
        guard case let .array(stages)? = status["stages"] else { Issue.record("no stages"); return }
        var done = 0, failed = 0
        for stage in stages {
            let counts = stage["counts"]
            #expect(counts?["pending"] == nil && counts?["running"] == nil, "\(stage.jsonText)")
            done += Int(counts?["done"]?.jsonText ?? "0") ?? 0
            failed += Int(counts?["failed"]?.jsonText ?? "0") ?? 0
        }
        #expect(done + failed == 40, "every task of 10 records x 4 stages ends done or failed")
        #expect(done >= 30)
        if failed > 0 {
            let reasons = try await TestSupport.runVXT(["status", "--work", work.path]).stdout + run.stderr
            #expect(reasons.contains("gave up after"), "a failure carries its reason")
        }
        // The mock's length faults come back as a retry with a larger token limit or as a flag, never silently.
        let export = work.appendingPathComponent("corpus.jsonl")
        #expect(try await TestSupport.runVXT(["export", "--work", work.path, "--format", "jsonl", "--out", export.path]).status == 0)
        for line in try TestSupport.jsonLines(export) {
            let description = line["description"]?.stringValue ?? ""
            #expect(description.count > 20, "\(line["id"]?.stringValue ?? "?") has no description")
        }
    }

    @Test func endpointsLimitsKeysAndPricesComeFromThePipelineFile() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fleet = try Pipeline.load(path: try TestSupport.fleetPipeline(in: directory).path)
        // Where the teacher runs does not change what it answers: same hash as the plain paper pipeline.
        #expect(fleet.hash == (try Pipeline.load(path: TestSupport.paperPipeline.path)).hash)
        #expect(fleet.definition.teacher.prices?["Qwen/Qwen3-VL-8B-Instruct"]?.outputPerMillion == 0.8)

        let endpoints = try TeacherFleet.endpoints(
            urls: ["http://127.0.0.1:8000/v1"], settings: fleet.definition.teacher,
            defaults: .init(apiKeyEnv: "OPENAI_API_KEY", maxConcurrency: 16, requestsPerMinute: nil),
            environment: ["EXAMPLE_API_KEY": "sk-example", "OPENAI_API_KEY": "sk-default"])
        #expect(endpoints.map(\.baseURL) == ["http://127.0.0.1:8000/v1", "http://gpu-01:8000/v1", "https://api.example.com/v1"])
        #expect(endpoints[0].limits == EndpointLimits(maxConcurrency: 16))
        #expect(endpoints[0].apiKey == "sk-default")
        #expect(endpoints[1].limits.maxConcurrency == 64)
        #expect(endpoints[2].apiKey == "sk-example")
        #expect(endpoints[2].model == "qwen3-vl-8b")
        #expect(endpoints[2].headers == ["X-Team: vision"])
        #expect(endpoints[2].limits == EndpointLimits(maxConcurrency: 16, requestsPerMinute: 500, tokensPerMinute: 2_000_000))
        #expect(
            String(
                decoding: ChatRequest(model: "Qwen/Qwen3-VL-8B-Instruct", prompt: "p", images: [], maxTokens: 8, temperature: nil)
                    .body(model: endpoints[2].model), as: UTF8.self
            ).hasPrefix("{\"model\":\"qwen3-vl-8b\""))

        var settings = fleet.definition.teacher
        settings.endpoints = [.init(url: "gpu-01:8000")]
        #expect(throws: TeacherFleet.ConfigurationError.self) {
            try TeacherFleet.endpoints(urls: [], settings: settings, defaults: .init(apiKeyEnv: "K", maxConcurrency: 1), environment: [:])
        }
    }

    @Test func statusAccountsRequestsTokensAndCostPerEndpointAndStage() async throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let paper = try String(contentsOf: TestSupport.paperPipeline, encoding: .utf8)
        let priced = work.appendingPathComponent("priced.yaml")
        try paper.replacingOccurrences(
            of: "teacher:\n", with: "teacher:\n  prices: {Qwen/Qwen3-VL-8B-Instruct: {input_per_million: 2, output_per_million: 8}}\n"
        )
        .write(to: priced, atomically: true, encoding: .utf8)
        let run = try await TestSupport.runVXT([
            "run", priced.path, "--input", TestSupport.sampleCorpus.path, "--images", TestSupport.sampleImages.path,
            "--work", work.appendingPathComponent("w").path
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let status = try await TestSupport.runVXT(["status", "--work", work.appendingPathComponent("w").path, "--json"])
        guard case let .array(usage)? = try JSONParser.parse(status.stdout)["endpoints"] else {
            Issue.record("no endpoints in \(status.stdout)"); return
        }
        #expect(usage.compactMap { $0["stage"]?.stringValue }.sorted() == ["extraction", "statements"])
        for row in usage {
            let requests = Int(row["requests"]?.jsonText ?? "") ?? 0
            let prompt = Double(row["promptTokens"]?.jsonText ?? "") ?? 0
            let completion = Double(row["completionTokens"]?.jsonText ?? "") ?? 0
            let cost = Double(row["cost"]?.jsonText ?? "") ?? -1
            #expect(requests == 10, "\(row.jsonText)")
            #expect(Int(row["attempts"]?.jsonText ?? "") == requests, "no retries against a healthy mock")
            #expect(prompt > 0 && completion > 0)
            #expect(abs(cost - (prompt * 2 + completion * 8) / 1e6) < 1e-9, "\(row.jsonText)")
        }
        let text = try await TestSupport.runVXT(["status", "--work", work.appendingPathComponent("w").path]).stdout
        #expect(text.contains("cost"), "\(text)")
    }

    @Test func theSameSeedMeetsTheSameFaults() {
        let faults = MockFaults(failRate: 0.3, seed: 42)
        let bodies = (0..<200).map { Self.request($0).body() }
        let first = bodies.map { faults.draw(bodyHash: MockFaults.hash($0), occurrence: 0).fault }
        let again = bodies.reversed().map { faults.draw(bodyHash: MockFaults.hash($0), occurrence: 0).fault }.reversed()
        #expect(first == Array(again))
        let share = Double(first.compactMap { $0 }.count) / 200
        #expect(share > 0.2 && share < 0.4, "\(share)")
        #expect(first != bodies.map { MockFaults(failRate: 0.3, seed: 43).draw(bodyHash: MockFaults.hash($0), occurrence: 0).fault })
    }

    @Test(arguments: [1, 2])
    func retryAfterIsObeyed(seconds: Int) async throws {
        let faults = MockFaults(failRate: 0.5, kinds: [.rateLimit], seed: 3, retryAfterSeconds: seconds)
        // A request whose first arrival meets the 429 and whose second does not.
        guard
            let n = (0..<500).first(where: { n in
                let hash = MockFaults.hash(Self.request(n).body())
                return faults.draw(bodyHash: hash, occurrence: 0).fault != nil && faults.draw(bodyHash: hash, occurrence: 1).fault == nil
            })
        else { Issue.record("no such request among 500"); return }
        let server = try await MockTeacherServer.start(.init(faults: faults))
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let teacher = OpenAITeacher(endpoint: TeacherEndpoint(baseURL: server.baseURL, apiKey: nil, maxAttempts: 3), client: client)
        let start = Date()
        let answer = try await teacher.complete(Self.request(n)).get()
        let elapsed = Date().timeIntervalSince(start)
        #expect(answer.attempts == 2)
        // Only a lower bound on real time: a busy machine may resume this task late, never early.
        #expect(elapsed >= Double(seconds) - 0.05, "retried after \(elapsed) s, Retry-After was \(seconds)")
        await server.shutdown()
    }

    @Test func aStalledServerCannotHangARequest() async throws {
        let server = try await MockTeacherServer.start(.init(faults: MockFaults(failRate: 1, kinds: [.stall])))
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let teacher = OpenAITeacher(
            endpoint: TeacherEndpoint(baseURL: server.baseURL, apiKey: nil, timeoutSeconds: 0.5, maxAttempts: 2), client: client)
        // That it returns at all is the point (the suite's time limit catches a hang); the
        // failure says it was the timeout, on each of the two attempts.
        guard case let .failure(failure) = await teacher.complete(Self.request(1)) else {
            Issue.record("a stalled server must fail the request"); return
        }
        #expect(failure.message.contains("curl 28"), "a timeout: \(failure.message)")
        #expect(failure.kind == .timeout)
        #expect(failure.attempts == 2)
        await server.shutdown()
    }

    @Test func aDeadEndpointIsEjectedAndGetsItsShareBackAfterRecovery() async throws {
        // A port that will be free: bind, note it, close.
        let probe = try await MockTeacherServer.start()
        let port = probe.port
        await probe.shutdown()
        // Both answer in 20 ms, so after recovery least-outstanding should split the work about evenly.
        let healthy = try await MockTeacherServer.start(.init(latencyMs: 20))
        let client = try CurlHTTPClient()
        defer { client.shutdown() }
        let dead = "http://127.0.0.1:\(port)/v1"
        let teacher = OpenAITeacher(
            endpoints: [
                TeacherEndpoint(baseURL: dead, apiKey: nil, limits: EndpointLimits(maxConcurrency: 8), timeoutSeconds: 5, maxAttempts: 4),
                TeacherEndpoint(
                    baseURL: healthy.baseURL, apiKey: nil, limits: EndpointLimits(maxConcurrency: 8), timeoutSeconds: 5, maxAttempts: 4)
            ], client: client)

        func batch(_ range: Range<Int>) async -> [String] {
            await withTaskGroup(of: String.self) { group in
                for n in range { group.addTask { (try? await teacher.complete(Self.request(n)).get())?.endpoint ?? "failed" } }
                var all: [String] = []
                for await endpoint in group { all.append(endpoint) }
                return all
            }
        }
        // While one endpoint is down, its share goes to the other; nothing fails.
        let whileDown = await batch(0..<40)
        #expect(whileDown.allSatisfy { $0 == healthy.baseURL }, "\(whileDown)")
        let ejected = await teacher.balancer.snapshot()[0]
        #expect(ejected.ejected, "three failures in a row eject the endpoint")

        // It comes back; after its ejection ends, a probe succeeds and it takes its share again.
        let revived = try await MockTeacherServer.start(.init(port: port, latencyMs: 20))
        try await Task.sleep(nanoseconds: UInt64((EndpointBalancer.firstEjectionSeconds + 0.5) * 1e9))
        let afterRecovery = await batch(40..<120)
        let share = Double(afterRecovery.filter { $0 == revived.baseURL }.count) / Double(afterRecovery.count)
        #expect(!afterRecovery.contains("failed"))
        #expect(share > 0.3, "the recovered endpoint took \(share) of the requests")
        await revived.shutdown()
        await healthy.shutdown()
    }

    @Test func concurrencyLimitAndAdaptiveDecrease() async {
        // A clock that stands still: no time passes between the releases, however slow the machine.
        let balancer = EndpointBalancer(limits: [EndpointLimits(maxConcurrency: 4)], now: { 1_000_000 })
        var taken: [EndpointBalancer.Slot] = []
        for _ in 0..<4 { taken.append(await balancer.acquire(estimatedTokens: 1)) }
        #expect(taken.map(\.endpoint) == [0, 0, 0, 0])
        let fifth = Task { await balancer.acquire(estimatedTokens: 1) }
        while await balancer.waitingCount == 0 { await Task.yield() }
        #expect(await balancer.snapshot()[0].outstanding == 4, "the fifth waits for a free slot")
        await balancer.release(taken[0], .success)
        taken[0] = await fifth.value
        await balancer.release(taken[1], .overloaded(retryAfter: nil))
        #expect(await balancer.snapshot()[0].limit == 2, "a 429 halves the limit")
        await balancer.release(taken[2], .overloaded(retryAfter: nil))
        #expect(await balancer.snapshot()[0].limit == 2, "a request sent before the decrease causes no second one")
        await balancer.release(taken[3], .success)
        #expect(await balancer.snapshot()[0].limit == 2.5, "with no time passed, Reno's 1/limit per success")
        let sentSince = await balancer.acquire(estimatedTokens: 1)
        await balancer.release(sentSince, .overloaded(retryAfter: nil))
        #expect(await balancer.snapshot()[0].limit == 1.25, "a request sent since the decrease halves it again")
    }

    /// An overload of a server with slow answers, as the 16-shard run at 665k records met it:
    /// 750 requests in flight time out over ten seconds, then the server answers again. The limit
    /// halves once, not once a second, and is back at 750 within ~30 s of answers, where 1/limit
    /// per success would still be near 375 (one step per 8.5 s round trip).
    @Test func anOverloadOfSlowAnswersHalvesOnceAndTheLimitIsBackWithinSeconds() async {
        let clock = TestClock(1_000)
        let balancer = EndpointBalancer(limits: [EndpointLimits(maxConcurrency: 750)], now: clock.read)
        var inFlight: [EndpointBalancer.Slot] = []
        for _ in 0..<750 { inFlight.append(await balancer.acquire(estimatedTokens: 1)) }
        for (i, slot) in inFlight.enumerated() {
            clock.set(1_000 + Double(i) / 75)  // the timeouts arrive over ten seconds
            await balancer.release(slot, .overloaded(retryAfter: nil))
        }
        #expect(await balancer.snapshot()[0].limit == 375, "one decrease for one round of timeouts")
        #expect(
            await balancer.heldBack(names: ["http://gpu-1:8000/v1"])
                == "in flight held to 375 of 750 after 429/503/timeouts, growing back as answers come",
            "the progress line says why the run is slower")

        // The server answers again: every 8.5 s a round of answers, as many as the limit allows.
        var limits: [Double] = []
        var now = 1_000 + 10.0
        for _ in 0..<4 {
            now += 8.5
            clock.set(now)
            let round = Int(await balancer.snapshot()[0].limit.rounded(.down))
            var slots: [EndpointBalancer.Slot] = []
            for _ in 0..<round { slots.append(await balancer.acquire(estimatedTokens: 1)) }
            for slot in slots { await balancer.release(slot, .success) }
            limits.append(await balancer.snapshot()[0].limit)
        }
        #expect(limits[0] > 375 && limits[0] < 750, "on the way back: \(limits)")
        #expect(limits[3] == 750, "back at the server's limit ~30 s after the overload: \(limits)")
        #expect(await balancer.heldBack(names: ["http://gpu-1:8000/v1"]) == nil, "nothing to say at the full limit")
        #expect(zip(limits, limits.dropFirst()).allSatisfy { $0 <= $1 }, "\(limits)")
    }

    @Test func aWaitForAnEjectedEndpointEndsAtItsDeadline() async {
        let clock = TestClock(1000)
        let balancer = EndpointBalancer(limits: [EndpointLimits(maxConcurrency: 8)], now: clock.read)
        for _ in 0..<EndpointBalancer.failuresToEject {
            let slot = await balancer.acquire(estimatedTokens: 1)
            await balancer.release(slot, .failed)
        }
        #expect(await balancer.snapshot()[0].ejected)
        let waiting = Task { await balancer.acquire(estimatedTokens: 1, until: 1002) }
        while await balancer.waitingCount == 0 { await Task.yield() }
        clock.set(1003)  // past the deadline, still inside the 5 s ejection
        #expect(await waiting.value == nil, "a request that may fail no longer stops waiting at its deadline")
        clock.set(1006)
        #expect(await balancer.acquire(estimatedTokens: 1, until: 1010)?.endpoint == 0, "after the ejection, the probe may go")
    }

    @Test func requestsPerMinuteArePaced() async {
        // 120/min: a burst of 20 (ten seconds' worth), then one every half second.
        let balancer = EndpointBalancer(limits: [EndpointLimits(maxConcurrency: 100, requestsPerMinute: 120)])
        let start = Date()
        for _ in 0..<22 {
            let slot = await balancer.acquire(estimatedTokens: 1)
            await balancer.release(slot, .success)
        }
        let elapsed = Date().timeIntervalSince(start)
        // The two after the burst wait for the bucket to refill: never sooner than ~1 s.
        #expect(elapsed >= 0.9, "22 requests at 120/min after a burst of 20 took \(elapsed) s")
    }
}
