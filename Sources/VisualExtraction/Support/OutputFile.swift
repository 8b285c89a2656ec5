import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where an export or a report goes: a regular file written whole or not at all (a temporary
/// file in the same folder, fsynced, renamed over the old one, folder fsynced), standard output
/// for "-", or a device or pipe (`/dev/stdout`, `>(gzip > x)`) written straight through.
/// Nothing that is not a regular file is ever replaced.
public final class OutputFile {
    public let path: String
    private let fd: Int32
    /// Set for regular files: the temporary file renamed onto `destination` by `commit`.
    private let temporary: String?
    private let destination: String
    private var finished = false

    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public init(path: String) throws(Failure) {
        self.path = path
        if path == "-" {
            fd = 1
            temporary = nil
            destination = path
            return
        }
        var info = stat()
        if stat(path, &info) == 0 {
            let type = info.st_mode & S_IFMT
            if type == S_IFCHR || type == S_IFIFO || type == S_IFSOCK {
                let opened = open(path, O_WRONLY | O_CLOEXEC)
                guard opened >= 0 else { throw Failure(message: "cannot write to \(path): \(String(cString: strerror(errno)))") }
                fd = opened
                temporary = nil
                destination = path
                return
            }
            guard type == S_IFREG else { throw Failure(message: "\(path) exists and is not a regular file; name a file to write") }
        }
        // A symlink to a file: the file it names is replaced, not the link.
        let target = OutputFile.realPath(path) ?? path
        let folder = (target as NSString).deletingLastPathComponent.isEmpty ? "." : (target as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Failure(message: "folder \(folder) does not exist; create it first (mkdir -p \(folder))")
        }
        let temp = (folder as NSString).appendingPathComponent(".\((target as NSString).lastPathComponent).\(getpid()).partial")
        let opened = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard opened >= 0 else {
            throw Failure(message: "cannot write in \(folder): \(String(cString: strerror(errno)))")
        }
        fd = opened
        temporary = temp
        destination = target
    }

    public func write(_ bytes: [UInt8]) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return Glibc.write(fd, base + offset, raw.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                discard()
                throw Failure(message: "cannot write \(path): \(reason)")
            }
            offset += n
        }
    }

    public func write(_ text: String) throws(Failure) {
        try write(Array(text.utf8))
    }

    /// Makes the output visible: for a regular file, durable and in place in one rename.
    public func commit() throws(Failure) {
        guard !finished else { return }
        finished = true
        guard let temporary else {
            if fd != 1 { close(fd) }
            return
        }
        guard fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            unlink(temporary)
            throw Failure(message: "cannot write \(path): \(reason)")
        }
        close(fd)
        guard rename(temporary, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure(message: "cannot put \(path) in place: \(reason)")
        }
        let folder = open(
            (destination as NSString).deletingLastPathComponent.isEmpty ? "." : (destination as NSString).deletingLastPathComponent,
            O_RDONLY | O_CLOEXEC)
        if folder >= 0 {
            _ = fsync(folder)
            close(folder)
        }
    }

    /// Leaves nothing behind: the temporary file is removed; the old file, if any, is untouched.
    public func discard() {
        guard !finished else { return }
        finished = true
        if fd != 1 { close(fd) }
        if let temporary { unlink(temporary) }
    }

    deinit { discard() }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
