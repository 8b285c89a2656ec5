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

    public var baseURL: String { "http://\(host):\(port)/v1" }

    public struct Options: Sendable {
        public var host: String
        public var port: Int
        public var latencyMs: Int
        public var statementFault: MockResponder.StatementFault?

        public init(host: String = "127.0.0.1", port: Int = 0, latencyMs: Int = 0, statementFault: MockResponder.StatementFault? = nil) {
            self.host = host
            self.port = port
            self.latencyMs = latencyMs
            self.statementFault = statementFault
        }
    }

    public static func start(_ options: Options = Options()) async throws -> MockTeacherServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let latency = options.latencyMs
        let fault = options.statementFault
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 4096)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MockHTTPHandler(latencyMs: latency, statementFault: fault))
                }
            }
            .childChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        let channel = try await bootstrap.bind(host: options.host, port: options.port).get()
        let port = channel.localAddress?.port ?? options.port
        return MockTeacherServer(host: options.host, port: port, channel: channel, group: group)
    }

    private init(host: String, port: Int, channel: any Channel, group: MultiThreadedEventLoopGroup) {
        self.host = host
        self.port = port
        self.channel = channel
        self.group = group
    }

    public func shutdown() async {
        try? await channel.close()
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
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(latencyMs: Int, statementFault: MockResponder.StatementFault?) {
        self.latencyMs = latencyMs
        self.statementFault = statementFault
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head):
            self.head = head
            body.removeAll(keepingCapacity: true)
        case var .body(buffer):
            if let bytes = buffer.readBytes(length: buffer.readableBytes) { body.append(contentsOf: bytes) }
        case .end:
            guard let head else { return }
            let answer: MockResponder.Answer
            if head.method == .POST && head.uri.hasSuffix("/chat/completions") {
                answer = MockResponder.answer(body: body, statementFault: statementFault)
            } else if head.method == .GET && head.uri.hasSuffix("/models") {
                answer = .init(status: 200, body: "{\"object\":\"list\",\"data\":[{\"id\":\"mock\",\"object\":\"model\"}]}")
            } else {
                answer = .init(status: 404, body: "{\"error\":{\"message\":\"no route \(head.method) \(head.uri)\"}}")
            }
            let keepAlive = head.isKeepAlive
            if latencyMs > 0 {
                // The handler and its context belong to this event loop; the delayed write runs there too.
                let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
                let version = head.version
                context.eventLoop.scheduleTask(in: .milliseconds(Int64(latencyMs))) {
                    bound.value.handler.write(answer, keepAlive: keepAlive, version: version, context: bound.value.context)
                }
            } else {
                write(answer, keepAlive: keepAlive, version: head.version, context: context)
            }
            self.head = nil
        }
    }

    private func write(_ answer: MockResponder.Answer, keepAlive: Bool, version: HTTPVersion, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(answer.body.utf8.count))
        headers.add(name: "connection", value: keepAlive ? "keep-alive" : "close")
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
