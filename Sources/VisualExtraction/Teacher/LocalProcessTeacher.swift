import Foundation
public import Logging

/// A teacher that is a long-running local process speaking JSONL, for users who run a model
/// in-process (`--teacher cmd:'python3 serve.py'`).
///
/// Protocol, one JSON object per line (schemas/local-teacher.schema.json):
/// - vxt writes to the process's stdin the same object it would POST to `/chat/completions`,
///   plus `"id"`: a string naming the request.
/// - The process writes to stdout a chat-completion object (`choices`, `usage`) carrying the
///   same `"id"`, in any order; or `{"id": ..., "error": {"message": ...}}` for a request it
///   refuses (recorded, not retried). A process that answers strictly in order may leave out
///   the id. Logs go to stderr, which vxt passes through.
/// - The process should exit when its stdin closes.
///
/// If the process dies, the requests it held are retried on a new process at once; a process
/// that dies without answering anything is restarted after a growing pause (1 s doubling to
/// 30 s), so a broken command fails its records with the exit status instead of spinning.
public final class LocalProcessTeacher: Teacher, @unchecked Sendable {
    public let command: String
    let timeoutSeconds: Double
    let maxAttempts: Int

    public var endpointDescription: String { LocalProcessTeacher.scheme + command }
    public static let scheme = "cmd:"

    private enum Outcome: Sendable {
        case answer(ChatResult)
        /// The process refused the request: retrying will not help.
        case refused(String)
        /// The process died, timed out or could not start: another try may work.
        case retry(String)
    }

    private struct Waiter {
        var continuation: CheckedContinuation<Outcome, Never>
        var generation: Int
    }

    // Everything below is guarded by `lock`.
    private let lock = NSLock()
    private var worker: Worker?
    private var generation = 0
    private var waiters: [UInt64: Waiter] = [:]
    private var nextID: UInt64 = 0
    private var quickDeaths = 0
    private var notBefore = 0.0
    private var answeredByCurrent = 0
    private var nonJSONWarnings = 0
    private var isShutDown = false
    private var restartCount = 0
    /// Lines the process printed that are not answers (the first five), as warnings.
    let logger: Logger

    /// - Parameters:
    ///   - timeoutSeconds: how long one request may wait for its answer before it is retried.
    public init(command: String, timeoutSeconds: Double = 600, maxAttempts: Int = 4, logger: Logger = .disabled) {
        self.command = command
        self.logger = logger
        self.timeoutSeconds = timeoutSeconds
        self.maxAttempts = max(1, maxAttempts)
        // Writing to a process that just died must be an error we handle, not a signal that kills vxt.
        signal(SIGPIPE, SIG_IGN)
    }

    /// `cmd:<command>` → the command; nil for anything else.
    public static func command(from teacher: String) -> String? {
        guard teacher.hasPrefix(scheme) else { return nil }
        let command = teacher.dropFirst(scheme.count).trimmingCharacters(in: .whitespaces)
        return command.isEmpty ? nil : command
    }

    /// Processes started after the first one.
    public var restarts: Int { lock.withLock { restartCount } }

    public func complete(_ request: ChatRequest) async -> Result<ChatResult, TeacherFailure> {
        var last = ""
        for attempt in 1...maxAttempts {
            switch await send(request) {
            case var .answer(result):
                result.endpoint = endpointDescription
                result.attempts = attempt
                return .success(result)
            case let .refused(message):
                return .failure(TeacherFailure(message: message, status: nil, attempts: attempt))
            case let .retry(message):
                last = message
            }
        }
        // Not started, died or silent on every attempt: the local form of a server not reached.
        return .failure(
            TeacherFailure(
                message: "\(last) (gave up after \(maxAttempts) attempts)", status: nil, attempts: maxAttempts, kind: .teacherUnreachable))
    }

    /// Closes the process's stdin and gives it a moment to exit before it is terminated.
    public func shutdown() {
        let current: Worker? = lock.withLock {
            isShutDown = true
            defer { worker = nil }
            return worker
        }
        current?.stop()
    }

    private func send(_ request: ChatRequest) async -> Outcome {
        // A process that keeps dying is restarted no faster than its back-off allows.
        let wait = lock.withLock { worker == nil ? notBefore - Date().timeIntervalSince1970 : 0 }
        if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }

        let id: UInt64 = lock.withLock {
            nextID += 1; return nextID
        }
        // The clock starts once the request is registered (a timeout firing while a loaded machine
        // still starts the process would find nothing to end), and runs on Dispatch, not as a Swift
        // task: with the cooperative pool busy (image work, blocking callers) a task-based timer
        // fired 30 s late in a loaded test run.
        var timer: DispatchWorkItem?
        defer { timer?.cancel() }
        return await withCheckedContinuation { continuation in
            let started: Result<Worker, any Error> = lock.withLock {
                do {
                    let current = try runningWorker()
                    waiters[id] = Waiter(continuation: continuation, generation: current.generation)
                    return .success(current)
                } catch {
                    return .failure(error)
                }
            }
            switch started {
            case let .success(worker):
                let expiry = DispatchWorkItem { [timeoutSeconds] in
                    self.finish(id, .retry("no answer from \(self.endpointDescription) within \(String(format: "%g", timeoutSeconds)) s"))
                }
                timer = expiry
                DispatchQueue.global().asyncAfter(deadline: .now() + timeoutSeconds, execute: expiry)
                var line = "{\"id\":\"\(id)\","
                line += String(decoding: request.body().dropFirst(), as: UTF8.self)
                line += "\n"
                worker.write(Array(line.utf8))
            case let .failure(error):
                continuation.resume(returning: .retry("cannot start \(endpointDescription): \(error)"))
            }
        }
    }

    /// The live process, started when there is none. Called under `lock`.
    private func runningWorker() throws -> Worker {
        if let worker { return worker }
        if isShutDown { throw TeacherFailure(message: "the local teacher was shut down", status: nil, attempts: 0) }
        generation += 1
        if generation > 1 { restartCount += 1 }
        let generation = self.generation
        let started = try Worker(
            command: command, generation: generation,
            onLine: { [weak self] line in self?.received(line, generation: generation) },
            onOversizedLine: { [weak self] in self?.oversized(generation: generation) },
            onExit: { [weak self] status in self?.died(generation: generation, status: status) })
        worker = started
        answeredByCurrent = 0
        return started
    }

    private func received(_ line: ArraySlice<UInt8>, generation: Int) {
        guard let json = try? JSONParser.parse(Array(line)), case .object = json else {
            let warn = lock.withLock { () -> Bool in
                nonJSONWarnings += 1; return nonJSONWarnings <= 5
            }
            if warn {
                let text = String(decoding: line.prefix(120), as: UTF8.self)
                logger.warning(
                    "the local teacher printed a line that is not a JSON object (it should print logs to stderr)",
                    metadata: ["endpoint.url": "\(endpointDescription)", "line": "\(text)"])
            }
            return
        }
        // Match by id; an answer without an id goes to this process's oldest request (a process
        // that answers in order may leave it out). An id that is not waiting is dropped: its
        // request timed out and went again, or the process made it up; giving it to another
        // request would store one image's description under another.
        let given = json["id"].map { $0.stringValue ?? $0.jsonText }
        let id: UInt64? = lock.withLock {
            if let given { return UInt64(given).flatMap { waiters[$0] != nil ? $0 : nil } }
            return waiters.filter { $0.value.generation == generation }.keys.min()
        }
        guard let id else {
            if let given, UInt64(given) == nil {
                logger.warning(
                    "the local teacher answered an id vxt never sent; the answer was dropped",
                    metadata: ["endpoint.url": "\(endpointDescription)", "id": "\(given.prefix(80))"])
            }
            return
        }
        lock.withLock { if self.generation == generation { answeredByCurrent += 1 } }
        if let message = json["error"]?["message"]?.stringValue ?? json["error"]?.stringValue {
            finish(id, .refused("\(endpointDescription) answered with an error: \(message)"))
            return
        }
        switch OpenAITeacher.parse(json: json) {
        case let .success(result): finish(id, .answer(result))
        case let .failure(failure): finish(id, .refused(failure.message))
        }
    }

    /// No answer line is this long (a 2048-token description is ~10 KB of JSON); one that is
    /// stands for the oldest request of that process, which fails, and its bytes are dropped.
    static let largestLine = 32 << 20

    private func oversized(generation: Int) {
        let id: UInt64? = lock.withLock { waiters.filter { $0.value.generation == generation }.keys.min() }
        logger.warning(
            "the local teacher wrote a line over the cap; it was dropped",
            metadata: ["endpoint.url": "\(endpointDescription)", "line.limit_bytes": "\(LocalProcessTeacher.largestLine)"])
        if let id {
            finish(
                id, .refused("\(endpointDescription) wrote an answer line over \(LocalProcessTeacher.largestLine >> 20) MB; it was dropped")
            )
        }
    }

    private func died(generation: Int, status: Int32) {
        let orphans: [Waiter] = lock.withLock {
            guard self.generation == generation else { return [] }
            worker = nil
            if answeredByCurrent == 0 {
                quickDeaths += 1
                notBefore = Date().timeIntervalSince1970 + min(30, pow(2, Double(quickDeaths - 1)))
            } else {
                quickDeaths = 0
            }
            let ids = waiters.filter { $0.value.generation == generation }.keys
            return ids.compactMap { waiters.removeValue(forKey: $0) }
        }
        for waiter in orphans {
            waiter.continuation.resume(returning: .retry("\(endpointDescription) exited with status \(status) before answering"))
        }
    }

    private func finish(_ id: UInt64, _ outcome: Outcome) {
        let waiter = lock.withLock { waiters.removeValue(forKey: id) }
        waiter?.continuation.resume(returning: outcome)
    }

    /// One running process: writes go through a serial queue (a full pipe blocks that queue,
    /// never a Swift task), reads on a dedicated thread that splits lines.
    private final class Worker: @unchecked Sendable {
        let generation: Int
        let process = Process()
        let input: FileHandle
        let writes = DispatchQueue(label: "vxt.local-teacher.stdin")

        init(
            command: String, generation: Int, onLine: @escaping @Sendable (ArraySlice<UInt8>) -> Void,
            onOversizedLine: @escaping @Sendable () -> Void, onExit: @escaping @Sendable (Int32) -> Void
        ) throws {
            self.generation = generation
            let stdin = Pipe(), stdout = Pipe()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            process.standardInput = stdin
            process.standardOutput = stdout
            input = stdin.fileHandleForWriting
            try process.run()
            let output = stdout.fileHandleForReading.fileDescriptor
            let process = self.process
            let reader = Thread {
                var buffer: [UInt8] = []
                var chunk = [UInt8](repeating: 0, count: 1 << 16)
                // Dropping the rest of a line that passed the cap, up to its newline.
                var discarding = false
                while true {
                    let n = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    var from = 0
                    if discarding {
                        guard let newline = chunk[0..<n].firstIndex(of: UInt8(ascii: "\n")) else { continue }
                        discarding = false
                        from = newline + 1
                    }
                    // Only the new bytes can hold the next newline: no rescan of a long line.
                    var scanFrom = buffer.count
                    buffer.append(contentsOf: chunk[from..<n])
                    var start = 0
                    while let newline = buffer[scanFrom...].firstIndex(of: UInt8(ascii: "\n")) {
                        if newline > start { onLine(buffer[start..<newline]) }
                        start = newline + 1
                        scanFrom = start
                    }
                    buffer.removeFirst(start)
                    if buffer.count > LocalProcessTeacher.largestLine {
                        buffer = []
                        discarding = true
                        onOversizedLine()
                    }
                }
                process.waitUntilExit()
                onExit(process.terminationStatus)
            }
            reader.name = "vxt.local-teacher.stdout"
            reader.start()
        }

        func write(_ bytes: [UInt8]) {
            let fd = input.fileDescriptor
            writes.async {
                var offset = 0
                while offset < bytes.count {
                    let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress?.advanced(by: offset), bytes.count - offset) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return }  // the process is gone; its exit fails the request
                    offset += n
                }
            }
        }

        func stop() {
            writes.async { [input, process] in
                try? input.close()
                let deadline = Date().addingTimeInterval(5)
                while process.isRunning && Date() < deadline { usleep(50_000) }
                if process.isRunning { process.terminate() }
            }
        }
    }
}
