import Foundation
import VisualExtraction

/// The bare teacher client (libcurl multi on one I/O thread + the endpoint balancer) sending
/// REQUESTS chat completions with one 512x512 JPEG each, CONCURRENCY at a time, to URL.
/// Each body is built just before it is sent, as in a run. Prints one JSON line; bench/teacher
/// runs it next to the Python openai client against the same server.
enum TeacherBenchmark {
    static func run(url: String, requests: Int, concurrency: Int, image: String) async throws {
        let preparer = ImagePreparer(
            root: ImageRoot(path: (image as NSString).deletingLastPathComponent),
            settings: ImageSettings(mode: .exact, width: 512, height: 512, jpegQuality: 95))
        let prepared = try preparer.prepare((image as NSString).lastPathComponent)
        let client = try CurlHTTPClient()
        let teacher = OpenAITeacher(
            endpoint: TeacherEndpoint(baseURL: url, apiKey: nil, timeoutSeconds: 120, maxAttempts: 1), client: client)
        let bodyBytes = request(0, prepared).body().count
        let counter = Counter(limit: requests)
        let cpuBefore = cpuSeconds()
        let start = DispatchTime.now().uptimeNanoseconds
        // Per request: seconds from the call to its answer, to tell the server's time from the client's.
        // Per lane: seconds between its consecutive calls (a cycle = the server's latency + all overhead).
        let lanes = await withTaskGroup(of: Lane.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var lane = Lane()
                    while let n = counter.next() {
                        let called = DispatchTime.now().uptimeNanoseconds
                        if case .success = await teacher.complete(request(n, prepared)) { lane.ok += 1 }
                        lane.calls.append(Double(called - start) / 1e9)
                        lane.latencies.append(Double(DispatchTime.now().uptimeNanoseconds - called) / 1e9)
                    }
                    return lane
                }
            }
            var all: [Lane] = []
            for await lane in group { all.append(lane) }
            return all
        }
        let ok = lanes.reduce(0) { $0 + $1.ok }
        let latencies = lanes.flatMap(\.latencies).sorted()
        // Steady state: cycles after each lane's first two calls, when connections exist and the
        // start-up burst (every lane building and sending its first body at once) is over.
        let steadyCycles = lanes.flatMap { lane in zip(lane.calls, lane.calls.dropFirst()).dropFirst(2).map { $1 - $0 } }
        let firstLatencies = lanes.compactMap(\.latencies.first)
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let cpu = cpuSeconds() - cpuBefore
        client.shutdown()
        print(
            "{\"client\": \"vxt\", \"requests\": \(requests), \"ok\": \(ok), \"concurrency\": \(concurrency), \"body_bytes\": \(bodyBytes), "
                + "\"wall_s\": \(wall), \"req_per_s\": \(Double(ok) / wall), \"cpu_s\": \(cpu), \"cpu_ms_per_req\": \(cpu * 1000 / Double(max(1, ok))), "
                + "\"peak_rss_mb\": \(peakRSSMegabytes()), \"latency_p50_s\": \(latencies[latencies.count / 2]), "
                + "\"latency_p99_s\": \(latencies[latencies.count * 99 / 100]), "
                + "\"first_call_latency_mean_s\": \(firstLatencies.reduce(0, +) / Double(max(1, firstLatencies.count))), "
                + "\"steady_cycle_mean_s\": \(steadyCycles.reduce(0, +) / Double(max(1, steadyCycles.count))), \"steady_cycles\": \(steadyCycles.count)}"
        )
    }

    static func request(_ n: Int, _ image: PreparedImage) -> ChatRequest {
        ChatRequest(
            model: "Qwen/Qwen3-VL-8B-Instruct", prompt: "Request \(n). Describe the image in fine detail.",
            images: [image], maxTokens: 512, temperature: 0)
    }

    struct Lane: Sendable {
        var ok = 0
        var calls: [Double] = []
        var latencies: [Double] = []
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        private let limit: Int
        init(limit: Int) { self.limit = limit }
        func next() -> Int? {
            lock.withLock {
                guard value < limit else { return nil }
                value += 1
                return value - 1
            }
        }
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static func peakRSSMegabytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
