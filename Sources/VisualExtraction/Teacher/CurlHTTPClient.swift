import CCurl
import Foundation
import Synchronization

/// An HTTP request for the teacher: always a POST with a JSON body.
public struct HTTPRequest: Sendable {
    public var url: String
    /// Full header lines ("Authorization: Bearer ..."). Never logged.
    public var headers: [String]
    public var body: [UInt8]
    public var timeoutSeconds: Double
    public var connectTimeoutSeconds: Double
    /// A GET has no body (the preflight's `GET /v1/models`); every teacher call is a POST.
    public var isGet = false
    /// A PEM file of certificates to trust for HTTPS instead of the system's (a private CA, a
    /// self-signed server); certificates are always verified.
    public var caFile: String?

    public init(url: String, headers: [String], body: [UInt8], timeoutSeconds: Double, connectTimeoutSeconds: Double) {
        self.url = url
        self.headers = headers
        self.body = body
        self.timeoutSeconds = timeoutSeconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    /// The `Retry-After` header, if the server sent one (seconds or an HTTP date).
    public var retryAfter: String?
}

/// A request that got no HTTP response: refused, reset, timed out, DNS...
public struct HTTPTransportError: Error, Sendable, CustomStringConvertible {
    public var curlCode: Int
    public var message: String
    public var isTimeout: Bool { curlCode == Int(CURLE_OPERATION_TIMEDOUT.rawValue) }
    /// libcurl wanted to send the body again (a reused connection had closed) after it was freed:
    /// says nothing about the server; send again.
    public var isRewind: Bool { curlCode == Int(CURLE_SEND_FAIL_REWIND.rawValue) }
    /// The server sent more than `CurlHTTPClient.largestResponse` bytes and vxt stopped reading:
    /// not an answer, and not worth asking again.
    public var isOversized = false
    public var description: String { "transport error (curl \(curlCode)): \(message)" }
    /// A timeout, a server that could not be reached or dropped the connection, or (oversized)
    /// one whose answer is not an answer.
    public var failureKind: FailureKind { isOversized ? .badAnswer : isTimeout ? .timeout : .teacherUnreachable }
}

/// libcurl's multi interface driven by one dedicated I/O thread with epoll and
/// `curl_multi_socket_action`, so thousands of requests in flight cost one thread and no
/// per-wake-up rescans. Swift tasks await their transfer through a continuation.
public final class CurlHTTPClient: @unchecked Sendable {
    /// No answer of a chat completion is this large (a 2048-token description is ~10 KB); a server
    /// sending more is broken or hostile, and reading on would cost memory and store space.
    static let largestResponse = 32 << 20

    // Touched only on the I/O thread, except `pending`/`stopped` (under `lock`).
    private var lanes: [MultiLane] = []
    /// Transfers on one multi handle before the next handle takes new ones (see `MultiLane`).
    private let transfersPerLane: Int
    private let epollFD: Int32
    private let wakeFD: Int32
    /// Each socket libcurl asked to watch, and the lane whose multi handle it belongs to.
    private var watched: [Int32: Int] = [:]
    private var inFlight: [UnsafeMutableRawPointer: Transfer] = [:]
    private let lock = NSLock()
    private var pending: [Transfer] = []
    private var stopped = false
    private var thread: Thread?
    private let uploads: AsyncBudget
    /// Easy handles alive (sending or awaiting their answer); sizes each new one's upload buffer.
    private let liveTransfers = LiveTransferCount()
    private let trimmer: any DispatchSourceTimer

    /// 500 transfers a lane (`MultiLane`): 24 lanes at 12,000 in flight, one for a run on one GPU.
    public static let transfersPerLane = 500

    /// How often freed heap pages go back to the kernel while the client lives. At 12,000 requests
    /// in flight, bodies, images and answers of every size come and go; glibc keeps what they free
    /// inside its heaps, so resident memory rose through a long run to ~420 MB above what was in use
    /// (a 665k-record run at 1.16 GB fell to 0.74 GB on one `malloc_trim(0)`, bench/RESULTS.md).
    static let trimInterval: DispatchTimeInterval = .seconds(5)

    private static let globalInit: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()

    public struct SetupError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// - Parameters:
    ///   - uploadBudgetBytes: most bytes of bodies built but not yet sent (see `AsyncBudget`).
    ///   - transfersPerLane: transfers on one libcurl multi handle before another takes new ones
    ///     (see `MultiLane`; tests make it small).
    public init(uploadBudgetBytes: Int = 128 << 20, transfersPerLane: Int = CurlHTTPClient.transfersPerLane) throws {
        uploads = AsyncBudget(limit: uploadBudgetBytes)
        self.transfersPerLane = max(1, transfersPerLane)
        // Nothing may throw once every property is set (`deinit` would then run on half a client),
        // so whatever a failure leaves is released here, and the trimming timer starts last.
        guard CurlHTTPClient.globalInit, let first = MultiLane(index: 0) else {
            throw SetupError(message: "libcurl could not be initialised")
        }
        let epoll = vxt_epoll_create()
        let wake = vxt_eventfd_create()
        guard epoll >= 0, wake >= 0 else {
            if epoll >= 0 { close(epoll) }
            if wake >= 0 { close(wake) }
            curl_multi_cleanup(first.multi)
            throw SetupError(message: "cannot create epoll/eventfd descriptors")
        }
        epollFD = epoll
        wakeFD = wake
        trimmer = CurlHTTPClient.startTrimming()
        _ = vxt_raise_nofile_limit()
        // glibc gives new threads their own malloc arenas, up to 8 per core; the threads of a run
        // at thousands in flight (this client's, SQLite's, the cooperative pool, dispatch) then
        // each keep freed bodies and images apart and RSS creeps up through a long run. One
        // arena per core: 66k records at 12,000 in flight peaked at 1.19 GB instead of 1.37 GB,
        // CPU unchanged (bench/RESULTS.md).
        // A MALLOC_ARENA_MAX in the environment is the user's choice and wins.
        if ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil {
            vxt_limit_malloc_arenas(Int32(max(2, ProcessInfo.processInfo.activeProcessorCount)))
        }
        _ = vxt_epoll_set(epollFD, wakeFD, 1, 0, 0)
        first.attach(to: self)
        lanes = [first]
        let thread = Thread { [unowned self] in self.run() }
        thread.name = "vxt-curl-io"
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    /// A timer returning free heap pages every `trimInterval` (active at once: libdispatch must
    /// not release an inactive source).
    private static func startTrimming() -> any DispatchSourceTimer {
        let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        timer.schedule(deadline: .now() + trimInterval, repeating: trimInterval)
        timer.setEventHandler { _ = vxt_release_free_memory() }
        timer.resume()
        return timer
    }

    deinit {
        trimmer.cancel()
        for lane in lanes { curl_multi_cleanup(lane.multi) }
        close(epollFD)
        close(wakeFD)
    }

    /// Stops the I/O thread; requests still in flight complete with an error.
    public func shutdown() {
        trimmer.cancel()
        lock.lock()
        stopped = true
        lock.unlock()
        vxt_eventfd_signal(wakeFD)
    }

    /// Takes the request (its body is freed once sent: at thousands of requests in flight waiting
    /// seconds for their answers, keeping 100+ KB bodies would cost gigabytes).
    public func send(_ request: consuming HTTPRequest) async -> Result<HTTPResponse, HTTPTransportError> {
        await send(request, reservation: nil)
    }

    /// Waits until `bytes` more of unsent bodies fit the upload budget, then builds the request
    /// and sends it; the reservation ends when its body is out.
    public func send(reserving bytes: Int, _ build: () -> HTTPRequest) async -> Result<HTTPResponse, HTTPTransportError> {
        await uploads.acquire(bytes)
        return await send(build(), reservation: (uploads, bytes))
    }

    private func send(_ request: consuming HTTPRequest, reservation: (AsyncBudget, Int)?) async -> Result<HTTPResponse, HTTPTransportError>
    {
        // The request is consumed here so that the transfer holds the only reference to its body
        // (an async frame would otherwise keep it alive until the answer, seconds later).
        guard let transfer = Transfer(request: consume request, reservation: reservation, live: liveTransfers) else {
            if let (budget, bytes) = reservation { budget.release(bytes) }
            return .failure(HTTPTransportError(curlCode: -1, message: "curl_easy_init failed"))
        }
        return await withCheckedContinuation { continuation in
            transfer.continuation = continuation
            lock.lock()
            let isStopped = stopped
            if !isStopped { pending.append(transfer) }
            lock.unlock()
            if isStopped {
                transfer.finish(.failure(HTTPTransportError(curlCode: -1, message: "HTTP client was shut down")))
                return
            }
            vxt_eventfd_signal(wakeFD)
        }
    }

    /// curl's messages carry timings ("after 3 ms", "after 600001 milliseconds") that would split
    /// one failure cause into many groups in `vxt status`.
    static func withoutTimings(_ message: String) -> String {
        var words = message.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        var i = 0
        while i + 2 < words.count {
            if words[i] == "after", Int(words[i + 1]) != nil, words[i + 2].hasPrefix("ms") || words[i + 2].hasPrefix("milliseconds") {
                let tail = words[i + 2].drop(while: { $0.isLetter })
                words.removeSubrange(i...(i + 2))
                if !tail.isEmpty, i > 0 { words[i - 1] += tail }
                continue
            }
            i += 1
        }
        return words.joined(separator: " ")
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    // MARK: I/O thread

    fileprivate func watch(socket: curl_socket_t, what: Int32, lane: Int) {
        if what == CURL_POLL_REMOVE {
            _ = vxt_epoll_remove(epollFD, socket)
            watched.removeValue(forKey: socket)
            return
        }
        let read: Int32 = (what & CURL_POLL_IN) != 0 ? 1 : 0
        let write: Int32 = (what & CURL_POLL_OUT) != 0 ? 1 : 0
        let known = watched.updateValue(lane, forKey: socket) != nil
        _ = vxt_epoll_set(epollFD, socket, read, write, known ? 1 : 0)
    }

    /// The first lane with room, or a new one when all are full. Filling lanes in order, rather
    /// than spreading over them, keeps a steady load on the same handles, whose idle connections
    /// the next transfers then reuse; a few transfers in flight all go on the first.
    private func laneWithRoom() -> MultiLane {
        if let lane = lanes.first(where: { $0.transfers < transfersPerLane }) { return lane }
        guard let lane = MultiLane(index: lanes.count) else { return lanes.min { $0.transfers < $1.transfers } ?? lanes[0] }
        lane.attach(to: self)
        lanes.append(lane)
        return lane
    }

    private func run() {
        var fds = [Int32](repeating: 0, count: 1024)
        var flags = [Int32](repeating: 0, count: 1024)
        var running: Int32 = 0
        while true {
            lock.lock()
            let newTransfers = pending
            pending.removeAll(keepingCapacity: true)
            let isStopped = stopped
            lock.unlock()
            if isStopped {
                for transfer in newTransfers {
                    transfer.finish(.failure(HTTPTransportError(curlCode: -1, message: "HTTP client was shut down")))
                }
                abortAll()
                return
            }
            for transfer in newTransfers {
                let lane = laneWithRoom()
                transfer.lane = lane.index
                lane.transfers += 1
                inFlight[transfer.easy] = transfer
                curl_multi_add_handle(lane.multi, transfer.easy)
            }
            var timeout: Int32 = 1000
            if let deadline = lanes.lazy.compactMap(\.deadline).min() {
                timeout = Int32(max(0, min(1000, (deadline - CurlHTTPClient.now()) * 1000).rounded(.up)))
            }
            let n = vxt_epoll_wait(epollFD, &fds, &flags, Int32(fds.count), timeout)
            if n > 0 {
                for i in 0..<Int(n) {
                    if fds[i] == wakeFD {
                        vxt_eventfd_drain(wakeFD)
                        continue
                    }
                    guard let lane = watched[fds[i]] else { continue }
                    var mask: Int32 = 0
                    if flags[i] & 1 != 0 { mask |= CURL_CSELECT_IN }
                    if flags[i] & 2 != 0 { mask |= CURL_CSELECT_OUT }
                    if flags[i] & 4 != 0 { mask |= CURL_CSELECT_ERR }
                    curl_multi_socket_action(lanes[lane].multi, fds[i], mask, &running)
                }
            }
            let now = CurlHTTPClient.now()
            for lane in lanes {
                if let deadline = lane.deadline, now >= deadline {
                    lane.deadline = nil
                    curl_multi_socket_action(lane.multi, CURL_SOCKET_TIMEOUT, 0, &running)
                }
            }
            for lane in lanes { collectFinished(lane) }
        }
    }

    private func collectFinished(_ lane: MultiLane) {
        var left: Int32 = 0
        while let message = curl_multi_info_read(lane.multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            var privatePointer: UnsafeMutableRawPointer?
            _ = vxt_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &privatePointer)
            curl_multi_remove_handle(lane.multi, easy)
            guard privatePointer != nil, let transfer = inFlight.removeValue(forKey: easy) else { continue }
            lane.transfers -= 1
            if code == CURLE_OK {
                var status = 0
                _ = vxt_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                transfer.finish(.success(HTTPResponse(status: status, body: transfer.received, retryAfter: transfer.retryAfter)))
            } else {
                let detail = CurlHTTPClient.withoutTimings(String(cString: transfer.errorBuffer))
                var error = HTTPTransportError(
                    curlCode: Int(code.rawValue), message: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
                if transfer.oversized {
                    error.isOversized = true
                    error.message = "the response passed \(CurlHTTPClient.largestResponse >> 20) MB; vxt stopped reading it"
                }
                transfer.finish(.failure(error))
            }
        }
    }

    private func abortAll() {
        // Handles still attached belong to requests in flight at shutdown.
        for (easy, transfer) in inFlight {
            curl_multi_remove_handle(lanes[transfer.lane].multi, easy)
            transfer.finish(.failure(HTTPTransportError(curlCode: -1, message: "HTTP client was shut down")))
        }
        inFlight.removeAll()
    }
}

/// One libcurl multi handle of the client and the transfers on it; all lanes share the one I/O
/// thread and its epoll set.
///
/// Why more than one: libcurl 7.88 (Debian 12's) walks a multi handle's connection cache when a
/// transfer is removed (until it meets the connection that transfer used), and the connections to
/// the host when a new transfer looks for one to reuse. At 12,000 requests in flight to one server
/// on one handle, that cost the bare client 0.48 ms of CPU per request against 0.20 ms at 750 in
/// flight; lanes of 500 brought it to 0.26 ms (bench/RESULTS.md).
final class MultiLane {
    let multi: UnsafeMutableRawPointer
    let index: Int
    /// Transfers added and not yet removed; touched on the I/O thread only.
    var transfers = 0
    /// When libcurl wants `CURL_SOCKET_TIMEOUT` on this handle (its timer callback).
    var deadline: Double?
    private unowned(unsafe) var client: CurlHTTPClient?

    init?(index: Int) {
        guard let multi = curl_multi_init() else { return nil }
        self.multi = multi
        self.index = index
    }

    /// Routes this handle's socket and timer callbacks to `client` (which owns its lanes, so
    /// outlives them).
    func attach(to client: CurlHTTPClient) {
        self.client = client
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = vxt_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, me)
        _ = vxt_multi_setopt_pointer(multi, CURLMOPT_TIMERDATA, me)
        _ = vxt_multi_setopt_socket_callback(multi) { _, socket, what, userp, _ in
            guard let userp else { return 0 }
            let lane = Unmanaged<MultiLane>.fromOpaque(userp).takeUnretainedValue()
            lane.client?.watch(socket: socket, what: what, lane: lane.index)
            return 0
        }
        _ = vxt_multi_setopt_timer_callback(multi) { _, timeoutMs, userp in
            guard let userp else { return 0 }
            let lane = Unmanaged<MultiLane>.fromOpaque(userp).takeUnretainedValue()
            lane.deadline = timeoutMs < 0 ? nil : CurlHTTPClient.now() + Double(timeoutMs) / 1000
            return 0
        }
    }
}

/// One request's easy handle and buffers; the client's `inFlight` table keeps it alive.
final class Transfer {
    let easy: UnsafeMutableRawPointer
    /// The index of the lane (multi handle) it was added to; set on the I/O thread.
    var lane = 0
    var received: [UInt8] = []
    /// Set when the response passed `CurlHTTPClient.largestResponse` and reading stopped.
    var oversized = false
    var retryAfter: String?
    /// The body until it has all been handed to libcurl, then empty.
    private var body: [UInt8]
    private var sent = 0
    /// Upload budget held until the body is out (or the transfer ends).
    private var reservation: (AsyncBudget, Int)?
    let errorBuffer: UnsafeMutablePointer<CChar>
    private var headerList: UnsafeMutablePointer<curl_slist>?
    /// Set before the transfer is handed to the I/O thread; resumed once.
    var continuation: CheckedContinuation<Result<HTTPResponse, HTTPTransportError>, Never>?

    private let live: LiveTransferCount

    init?(request: consuming HTTPRequest, reservation: (AsyncBudget, Int)?, live: LiveTransferCount) {
        guard let easy = curl_easy_init() else { return nil }
        self.live = live
        let uploadBuffer = live.enter() <= LiveTransferCount.largeBufferLimit ? 64 * 1024 : 16 * 1024
        self.reservation = reservation
        self.easy = easy
        body = request.body
        request.body = []
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = vxt_easy_setopt_pointer(easy, CURLOPT_URL, request.url)
        _ = vxt_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        if let caFile = request.caFile { _ = vxt_easy_setopt_pointer(easy, CURLOPT_CAINFO, caFile) }
        if request.isGet {
            _ = vxt_easy_setopt_long(easy, CURLOPT_HTTPGET, 1)
        } else {
            _ = vxt_easy_setopt_long(easy, CURLOPT_POST, 1)
            _ = vxt_easy_setopt_offset(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        }
        // Streamed from `body` by the read callback instead of copied by libcurl, so that it can be
        // freed as soon as the last byte is out.
        _ = vxt_easy_setopt_pointer(easy, CURLOPT_READDATA, me)
        _ = vxt_easy_setopt_data_callback(easy, CURLOPT_READFUNCTION) { buffer, size, count, user in
            guard let buffer, let user else { return Int(CURL_READFUNC_ABORT) }
            return Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue().read(into: buffer, capacity: size * count)
        }
        _ = vxt_easy_setopt_pointer(easy, CURLOPT_SEEKDATA, me)
        _ = vxt_easy_setopt_seek_callback(easy) { user, offset, origin in
            guard let user, origin == SEEK_SET else { return Int32(CURL_SEEKFUNC_CANTSEEK) }
            return Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue().rewind(to: Int(offset))
        }
        _ = vxt_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, Int(request.timeoutSeconds * 1000))
        _ = vxt_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeoutSeconds * 1000))
        _ = vxt_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1)
        // libcurl keeps a handle's upload buffer until the handle is cleaned up, i.e. while the
        // answer is awaited. 64 KiB sends a 130 KB body in three writes instead of nine (5% more
        // throughput at 512 in flight); past `largeBufferLimit` live handles the new ones get the
        // 16 KiB minimum, so that 12,000 in flight hold ~0.3 GB of buffers rather than ~0.8 GB.
        // Answers are small (a few KB of JSON), and libcurl before 8.7 keeps a receive buffer per
        // handle while the answer is awaited: 4 KiB instead of the default 16 KiB is ~140 MB less
        // at 12,000 in flight (heaptrack), for a few more write callbacks per answer.
        _ = vxt_easy_setopt_long(easy, CURLOPT_UPLOAD_BUFFERSIZE, uploadBuffer)
        _ = vxt_easy_setopt_long(easy, CURLOPT_BUFFERSIZE, 4 * 1024)
        _ = vxt_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = vxt_easy_setopt_pointer(easy, CURLOPT_PRIVATE, me)
        _ = vxt_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, me)
        _ = vxt_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, me)
        _ = vxt_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION) { data, size, count, user in
            guard let data, let user else { return 0 }
            let transfer = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
            let n = size * count
            if transfer.received.count + n > CurlHTTPClient.largestResponse {
                // Returning less than n makes libcurl abort the transfer (CURLE_WRITE_ERROR).
                transfer.oversized = true
                transfer.received = []
                return 0
            }
            data.withMemoryRebound(to: UInt8.self, capacity: n) {
                transfer.received.append(contentsOf: UnsafeBufferPointer(start: $0, count: n))
            }
            return n
        }
        _ = vxt_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION) { data, size, count, user in
            let n = size * count
            guard let data, let user else { return n }
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
            if line.lowercased().hasPrefix("retry-after:") {
                let transfer = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
                transfer.retryAfter = String(line.dropFirst("retry-after:".count)).trimmed
            }
            return n
        }
        // An empty Expect: stops libcurl from waiting ~1 s for "100 Continue" on every large POST.
        var list: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Expect:")
        list = curl_slist_append(list, "Content-Type: application/json")
        for header in request.headers { list = curl_slist_append(list, header) }
        headerList = list
        _ = vxt_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, list)
    }

    private func read(into buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        let n = min(capacity, body.count - sent)
        if n > 0 {
            body.withUnsafeBytes { bytes in
                if let base = bytes.baseAddress { UnsafeMutableRawPointer(buffer).copyMemory(from: base + sent, byteCount: n) }
            }
            sent += n
        }
        if sent == body.count && !body.isEmpty {
            body = []
            endReservation()
        }
        return n
    }

    /// Possible while the body is kept; after that the request fails with CURLE_SEND_FAIL_REWIND
    /// and the teacher sends it again.
    private func rewind(to offset: Int) -> Int32 {
        guard offset == 0 || offset <= body.count, !(body.isEmpty && sent > 0) else { return Int32(CURL_SEEKFUNC_CANTSEEK) }
        sent = offset
        return Int32(CURL_SEEKFUNC_OK)
    }

    private func endReservation() {
        if let (budget, bytes) = reservation { budget.release(bytes) }
        reservation = nil
    }

    func finish(_ result: Result<HTTPResponse, HTTPTransportError>) {
        endReservation()
        continuation?.resume(returning: result)
        continuation = nil
    }

    deinit {
        curl_slist_free_all(headerList)
        curl_easy_cleanup(easy)
        errorBuffer.deallocate()
        live.leave()
    }
}

/// How many easy handles exist, counted from any thread.
final class LiveTransferCount: Sendable {
    static let largeBufferLimit = 2048
    private let count = Atomic<Int>(0)

    /// Counts a new handle; returns how many are alive with it.
    func enter() -> Int { count.wrappingAdd(1, ordering: .relaxed).newValue }
    func leave() { count.wrappingSubtract(1, ordering: .relaxed) }
}
