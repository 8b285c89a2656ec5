import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where prepared images wait for their answer on disk instead of in memory. A request keeps its
/// image from preparation until the teacher answers (a retry builds the body again); at 12,000
/// in flight against an 8.5 s server that was ~0.7 GB of JPEG bytes, most of a run's peak RSS.
/// Spooled, an image is one file, read and base64-encoded when its body is built (the body
/// itself is freed once sent), and deleted when the last request holding it is gone.
///
/// One folder per process (`vxt-spool-<host>-<pid>`): shards on several nodes may share a work
/// directory, so a run removes only folders of its own host whose process is gone (a `kill -9`).
public final class ImageSpool: Sendable {
    public let directory: String
    private let counter = Atomic<Int>(0)

    /// Below this many calls in flight (plus the prepared tasks waiting for a slot) images stay in
    /// memory: a few hundred ~100 KB images are not worth a file each.
    public static let worthAboveConcurrency = 256

    /// - Parameter parent: the folder to hold this process's spool folder.
    public init(parent: String) throws {
        let host = ProcessInfo.processInfo.hostName.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
        let prefix = "vxt-spool-\(host)-"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] where name.hasPrefix(prefix) {
            if let pid = Int32(name.dropFirst(prefix.count)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
                try? FileManager.default.removeItem(atPath: (parent as NSString).appendingPathComponent(name))
            }
        }
        directory = (parent as NSString).appendingPathComponent(prefix + "\(getpid())")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// The folder a run spools into: `$TMPDIR` when set (on clusters, node-local scratch; a work
    /// directory on a network file system would carry every image over the network twice), else
    /// the work directory.
    public static func parent(workDirectory: String, environment: [String: String]? = nil) -> String {
        if let tmp = (environment ?? ProcessInfo.processInfo.environment)["TMPDIR"], !tmp.isEmpty { return tmp }
        return workDirectory
    }

    /// The image with its bytes in a spool file; the image as it was when the file cannot be
    /// written (a full disk costs memory, not the task).
    public func spool(_ image: PreparedImage) -> PreparedImage {
        guard image.fileURL == nil, !image.bytes.isEmpty else { return image }
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let path = (directory as NSString).appendingPathComponent("\(n).img")
        guard let file = SpooledFile(path: path, bytes: image.bytes) else { return image }
        var spooled = image
        spooled.spooled = file
        spooled.bytes = []
        return spooled
    }

    /// Removes the folder (at the end of a run; files of requests still alive go with it).
    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// One spooled image: deleted with the last request that holds it.
final class SpooledFile: Sendable {
    let path: String
    let count: Int

    init?(path: String, bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return write(fd, base + written, buffer.count - written)
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                unlink(path)
                return nil
            }
            written += n
        }
        self.path = path
        count = bytes.count
    }

    /// The bytes, or nil if the file is gone or short (someone removed the spool folder).
    func read() -> [UInt8]? {
        guard let bytes = try? ImagePreparer.readFile(path), bytes.count == count else { return nil }
        return bytes
    }

    deinit { unlink(path) }
}
