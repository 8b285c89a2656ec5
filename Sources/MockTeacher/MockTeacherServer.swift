import NIOCore
import NIOHTTP1
import NIOPosix
import VisualExtraction

/// An OpenAI-compatible chat-completions server on loopback that answers like a teacher
/// without a GPU: for the README's demo, for rehearsing a run, and for the tests.
public final class MockTeacherServer: Sendable {
    public let host: String
    public let port: Int
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup
    private let acceptor: MultiThreadedEventLoopGroup
    /// Answers served by outcome ("ok", "429", "500", "drop", "stall", "length").
    public let ledger: MockFaultLedger

    public var baseURL: String { "http://\(host):\(port)/v1" }

    public struct Options: Sendable {
        public var host: String
        public var port: Int
        public var latencyMs: Int
        public var statementFault: MockResponder.StatementFault?
        public var faults: MockFaults
        /// Event-loop threads; one is plenty below a few thousand requests per second.
        public var threads: Int
        /// Answer every chat completion with the same one-sentence answer without reading the
        /// body: the stand-in for benchmarks, where the server must cost as little as possible.
        public var fixedAnswer: Bool

        public init(
            host: String = "127.0.0.1", port: Int = 0, latencyMs: Int = 0, statementFault: MockResponder.StatementFault? = nil,
            faults: MockFaults = MockFaults(), threads: Int = 1, fixedAnswer: Bool = false
        ) {
            self.host = host
            self.port = port
            self.latencyMs = latencyMs
            self.statementFault = statementFault
            self.faults = faults
            self.threads = max(1, threads)
            self.fixedAnswer = fixedAnswer
        }
    }

    public static func start(_ options: Options = Options()) async throws -> MockTeacherServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
        // New connections are taken on a thread of their own. On a shared loop a busy server took
        // four per pass over thousands of ready connections, one pass every ~11 s in a 16-shard
        // run at 12,000 in flight: shards that lost connections to timeouts could not get new ones
        // for many minutes, and crawled while the others ran (bench/fullscale, 2026-12-03).
        let acceptor = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let latency = options.latencyMs
        let fault = options.statementFault
        let faults = options.faults
        let ledger = MockFaultLedger()
        let fixed = options.fixedAnswer
        let bootstrap = ServerBootstrap(group: acceptor, childGroup: group)
            .serverChannelOption(ChannelOptions.backlog, value: 4096)
            .serverChannelOption(ChannelOptions.maxMessagesPerRead, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                ledger.connectionAccepted()
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        MockHTTPHandler(
                            latencyMs: latency, statementFault: fault,
                            faults: faults, ledger: ledger, fixedAnswer: fixed))
                }
            }
            .childChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: options.host, port: options.port).get()
        } catch {
            try? await acceptor.shutdownGracefully()
            try? await group.shutdownGracefully()
            throw error
        }
        let port = channel.localAddress?.port ?? options.port
        return MockTeacherServer(host: options.host, port: port, channel: channel, group: group, acceptor: acceptor, ledger: ledger)
    }

    private init(
        host: String, port: Int, channel: any Channel, group: MultiThreadedEventLoopGroup, acceptor: MultiThreadedEventLoopGroup,
        ledger: MockFaultLedger
    ) {
        self.host = host
        self.port = port
        self.channel = channel
        self.group = group
        self.acceptor = acceptor
        self.ledger = ledger
    }

    public func shutdown() async {
        try? await channel.close()
        try? await acceptor.shutdownGracefully()
        try? await group.shutdownGracefully()
    }

    /// Serves until the channel closes (the `vxt mock-teacher` command).
    public func wait() async throws {
        try await channel.closeFuture.get()
    }
}

final class MockHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let latencyMs: Int
    private let statementFault: MockResponder.StatementFault?
    private let faults: MockFaults
    private let ledger: MockFaultLedger
    private let fixedAnswer: Bool
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(latencyMs: Int, statementFault: MockResponder.StatementFault?, faults: MockFaults, ledger: MockFaultLedger, fixedAnswer: Bool) {
        self.fixedAnswer = fixedAnswer
        self.latencyMs = latencyMs
        self.statementFault = statementFault
        self.faults = faults
        self.ledger = ledger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head):
            self.head = head
            body.removeAll(keepingCapacity: true)
        case var .body(buffer):
            if fixedAnswer { return }
            if let bytes = buffer.readBytes(length: buffer.readableBytes) { body.append(contentsOf: bytes) }
        case .end:
            guard let head else { return }
            var answer: MockResponder.Answer?
            var delay = latencyMs
            if head.method == .POST && head.uri.hasSuffix("/chat/completions") && fixedAnswer {
                answer = MockResponder.fixed
            } else if head.method == .POST && head.uri.hasSuffix("/chat/completions") {
                let hash = MockFaults.hash(body)
                let (fault, jitter) = faults.draw(bodyHash: hash, occurrence: ledger.arrival(hash))
                delay += jitter
                ledger.count(fault?.rawValue ?? "ok")
                switch fault {
                case nil: answer = MockResponder.answer(body: body, statementFault: statementFault)
                case .length?: answer = MockResponder.answer(body: body, statementFault: statementFault, truncated: true)
                case .rateLimit?:
                    answer = MockResponder.error(429, "rate limit reached (mock fault)")
                    answer?.retryAfter = String(faults.retryAfterSeconds)
                case .serverError?: answer = MockResponder.error(500, "internal server error (mock fault)")
                case .drop?: answer = nil
                case .stall?:
                    // Never answer: the client's timeout has to end this request.
                    self.head = nil
                    return
                }
            } else if head.method == .GET && head.uri.hasSuffix("/models") {
                // The latency stands for inference; listing models is instant on real servers, and
                // vxt's preflight asks before anything else.
                delay = 0
                answer = .init(
                    status: 200,
                    body:
                        "{\"object\":\"list\",\"data\":[{\"id\":\"mock\",\"object\":\"model\",\"owned_by\":\"\(OpenAITeacher.mockFingerprint)\"}]}"
                )
            } else {
                answer = .init(status: 404, body: "{\"error\":{\"message\":\"no route \(head.method) \(head.uri)\"}}")
            }
            let keepAlive = head.isKeepAlive
            let version = head.version
            let reply = answer
            if delay > 0 {
                // The handler and its context belong to this event loop; the delayed write runs there too.
                let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .milliseconds(Int64(delay))) {
                    bound.value.handler.respond(reply, keepAlive: keepAlive, version: version, context: bound.value.context)
                }
            } else {
                respond(reply, keepAlive: keepAlive, version: version, context: context)
            }
            self.head = nil
        }
    }

    /// An answer, or (a dropped-connection fault) none: the connection closes unanswered.
    private func respond(_ answer: MockResponder.Answer?, keepAlive: Bool, version: HTTPVersion, context: ChannelHandlerContext) {
        if let answer {
            write(answer, keepAlive: keepAlive, version: version, context: context)
        } else {
            context.close(promise: nil)
        }
    }

    private func write(_ answer: MockResponder.Answer, keepAlive: Bool, version: HTTPVersion, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(answer.body.utf8.count))
        headers.add(name: "connection", value: keepAlive ? "keep-alive" : "close")
        if let retryAfter = answer.retryAfter { headers.add(name: "retry-after", value: retryAfter) }
        let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: answer.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: answer.body.utf8.count)
        buffer.writeString(answer.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
