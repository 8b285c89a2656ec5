import Foundation
import VisualExtraction

/// The bare teacher client (libcurl multi on one I/O thread + the endpoint balancer) sending
/// REQUESTS chat completions with one 512x512 JPEG each, CONCURRENCY at a time, to URL.
/// Each body is built just before it is sent, as in a run. Prints one JSON line; bench/teacher
/// runs it next to the Python openai client against the same server.
enum TeacherBenchmark {
    static func run(url: String, requests: Int, concurrency: Int, image: String) async throws {
        let preparer = ImagePreparer(root: ImageRoot(path: (image as NSString).deletingLastPathComponent),
                                     settings: ImageSettings(mode: .exact, width: 512, height: 512, jpegQuality: 95))
        let prepared = try preparer.prepare((image as NSString).lastPathComponent)
        let client = try CurlHTTPClient()
        let teacher = OpenAITeacher(endpoint: TeacherEndpoint(baseURL: url, apiKey: nil, timeoutSeconds: 120, maxAttempts: 1), client: client)
        let bodyBytes = request(0, prepared).body().count
        let counter = Counter(limit: requests)
        let cpuBefore = cpuSeconds()
        let start = DispatchTime.now().uptimeNanoseconds
        // Per request: seconds from the call to its answer, to tell the server's time from the client's.
        let (ok, latencies) = await withTaskGroup(of: (Int, [Double]).self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var ok = 0
                    var latencies: [Double] = []
                    while let n = counter.next() {
                        let called = DispatchTime.now().uptimeNanoseconds
                        if case .success = await teacher.complete(request(n, prepared)) { ok += 1 }
                        latencies.append(Double(DispatchTime.now().uptimeNanoseconds - called) / 1e9)
                    }
                    return (ok, latencies)
                }
            }
            var ok = 0
            var all: [Double] = []
            for await (n, some) in group { ok += n; all += some }
            return (ok, all.sorted())
        }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let cpu = cpuSeconds() - cpuBefore
        client.shutdown()
        print("{\"client\": \"vxt\", \"requests\": \(requests), \"ok\": \(ok), \"concurrency\": \(concurrency), \"body_bytes\": \(bodyBytes), "
              + "\"wall_s\": \(wall), \"req_per_s\": \(Double(ok) / wall), \"cpu_s\": \(cpu), \"cpu_ms_per_req\": \(cpu * 1000 / Double(max(1, ok))), "
              + "\"peak_rss_mb\": \(peakRSSMegabytes()), \"latency_p50_s\": \(latencies[latencies.count / 2]), "
              + "\"latency_p99_s\": \(latencies[latencies.count * 99 / 100])}")
    }

    static func request(_ n: Int, _ image: PreparedImage) -> ChatRequest {
        ChatRequest(model: "Qwen/Qwen3-VL-8B-Instruct", prompt: "Request \(n). Describe the image in fine detail.",
                     images: [image], maxTokens: 512, temperature: 0)
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
