import Foundation

/// Transforms items on worker threads while the caller produces them, and hands the results back
/// in production order. Used where one thread reads a file (cutting records, hashing) and the
/// per-record work (parsing, decoding) can use the other cores; at most `maxInFlight` items are
/// pending at once, so memory stays bounded whatever the file size.
final class OrderedParallelMap<Input: Sendable, Output: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [(Int, Input)] = []
    private var results: [Int: Output] = [:]
    private var closed = false
    private let transform: @Sendable (Input) -> Output
    private let maxInFlight: Int
    private var threads: [Thread] = []
    private var emitted = 0
    private var consumed = 0
    private var running = 0

    public init(
        workers: Int, maxInFlight: Int = 16,
        transform: @escaping @Sendable (Input) -> Output
    ) {
        self.transform = transform
        self.maxInFlight = max(1, maxInFlight)
        for n in 0..<max(1, workers) {
            let thread = Thread { [self] in work() }
            thread.name = "vxt-worker-\(n)"
            threads.append(thread)
        }
        running = threads.count
        threads.forEach { $0.start() }
    }

    /// Queues one item; consumes finished results in order, waiting when too many are pending.
    public func submit(_ item: Input, consume: (Output) throws -> Void) throws {
        condition.lock()
        queue.append((emitted, item))
        emitted += 1
        condition.broadcast()
        condition.unlock()
        try drain(consume, waitUntilPendingBelow: maxInFlight)
    }

    /// Waits for every queued item and consumes the rest in order; stops the workers.
    public func finish(consume: (Output) throws -> Void) throws {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
        try drain(consume, waitUntilPendingBelow: 1)
        condition.lock()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    private func drain(_ consume: (Output) throws -> Void, waitUntilPendingBelow limit: Int) throws {
        while true {
            condition.lock()
            var next = results.removeValue(forKey: consumed)
            while next == nil && emitted - consumed >= limit {
                condition.wait()
                next = results.removeValue(forKey: consumed)
            }
            condition.unlock()
            guard let output = next else { return }
            consumed += 1
            try consume(output)
        }
    }

    private func work() {
        while true {
            condition.lock()
            while queue.isEmpty && !closed { condition.wait() }
            if queue.isEmpty && closed {
                running -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let (index, item) = queue.removeFirst()
            condition.unlock()
            let output = transform(item)
            condition.lock()
            results[index] = output
            condition.broadcast()
            condition.unlock()
        }
    }
}
