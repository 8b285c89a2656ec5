import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive `flock` on `<work>/vxt.lock` held for the life of a run. The kernel drops it
/// when the process dies, even under `kill -9`, so a new run knows that every `running` task it
/// finds was abandoned and can safely return it to pending.
public final class WorkDirectoryLock: Sendable {
    private let fd: Int32
    public let path: String

    public struct Busy: Error, CustomStringConvertible {
        public let path: String
        public let holder: String
        public var description: String {
            "another vxt run (\(holder)) is using this work directory (\(path)); wait for it or stop it first"
        }
    }

    public struct ReadOnly: Error, CustomStringConvertible {
        public let workDirectory: String
        public var description: String {
            """
            the work directory \(workDirectory) is read-only: a run writes its store there. Use a writable --work (copy \
            this one, or make it writable); status, show and export read a read-only work directory as it is.
            """
        }
    }

    /// Locks `<work>/<stem>.lock`: `vxt.lock` for a whole run, `shard-0003-of-0016.lock` for a shard.
    ///
    /// - Parameter retries: tries 20 ms apart before the directory counts as busy (see below).
    public init(workDirectory: String, stem: String = "vxt", retries: Int = 10) throws {
        path = (workDirectory.hasSuffix("/") ? workDirectory : workDirectory + "/") + stem + ".lock"
        // `fd` is set only once the lock is held: a class whose stored properties are all set
        // runs its deinit when the init throws, and that deinit would close the descriptor a
        // second time, by then perhaps another thread's file.
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            if errno == EACCES || errno == EROFS { throw ReadOnly(workDirectory: workDirectory) }
            throw Busy(path: path, holder: "cannot open lock file: \(String(cString: strerror(errno)))")
        }
        // A few short tries before calling the directory busy: `isHeld` (vxt status) holds a
        // shared lock for a moment, and a run started in that moment should not fail for it.
        func tryLock() -> Int32 { flock(descriptor, LOCK_EX | LOCK_NB) == 0 ? 0 : errno }
        var failure = tryLock()
        for _ in 0..<max(retries, 0) where failure == EWOULDBLOCK {
            usleep(20_000)
            failure = tryLock()
        }
        if failure != 0 {
            var buffer = [UInt8](repeating: 0, count: 64)
            let n = read(descriptor, &buffer, buffer.count)
            let pid = n > 0 ? String(decoding: buffer.prefix(n), as: UTF8.self).trimmed : "unknown pid"
            close(descriptor)
            throw Busy(path: path, holder: "pid \(pid)")
        }
        fd = descriptor
        _ = ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pwrite(fd, pid, pid.count, 0)
    }

    /// Whether a run holds a lock in `workDirectory` now: the whole run's (`vxt.lock`) or any
    /// shard's. Probed by taking a shared lock and dropping it at once, which writes nothing, so
    /// `vxt status` can ask this of a read-only work directory too.
    public static func isHeld(workDirectory: String) -> Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: workDirectory)) ?? []
        return names.filter { $0.hasSuffix(".lock") }.contains { name in
            let descriptor = open((workDirectory as NSString).appendingPathComponent(name), O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { return false }
            defer { close(descriptor) }
            guard flock(descriptor, LOCK_SH | LOCK_NB) == 0 else { return errno == EWOULDBLOCK }
            flock(descriptor, LOCK_UN)
            return false
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
