import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Serves one text page, Prometheus' exposition format, at `GET /metrics` on 127.0.0.1: enough
/// for a scraper, with no HTTP library. One thread accepts and answers connections one by one
/// (a scrape every few seconds is the load); the page is made fresh for each request.
public final class MetricsServer: @unchecked Sendable {
    public let port: Int
    private let fd: Int32
    private let page: @Sendable () -> String

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Binds 127.0.0.1:`port` (0: a free port, see `port`) and starts answering.
    public init(port: Int, page: @escaping @Sendable () -> String) throws(Failure) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "metrics: cannot open a socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "metrics: cannot listen on 127.0.0.1:\(port): \(reason); pick another --metrics-port")
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
        self.page = page
        let thread = Thread { [self] in serve() }
        thread.name = "vxt-metrics"
        thread.start()
    }

    private func serve() {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return  // closed by `stop`
            }
            answer(client)
            close(client)
        }
    }

    private func answer(_ client: Int32) {
        // The request line is all that matters; a scraper's headers fit in one read.
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = read(client, &buffer, buffer.count)
        guard count > 0 else { return }
        let request = String(decoding: buffer[0..<count], as: UTF8.self)
        let isMetrics = request.hasPrefix("GET /metrics ") || request.hasPrefix("GET /metrics?")
        let body = isMetrics ? page() : "see /metrics\n"
        let head =
            "HTTP/1.1 \(isMetrics ? "200 OK" : "404 Not Found")\r\n"
            + "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        var bytes = Array((head + body).utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return write(client, base + offset, raw.count - offset)
            }
            if written <= 0 { return }
            offset += written
        }
    }

    /// Stops accepting (the serving thread ends at its next accept).
    public func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
