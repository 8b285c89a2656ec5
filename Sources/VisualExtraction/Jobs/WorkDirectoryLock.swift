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
            let holder = Holder(lockFile: descriptor)
            close(descriptor)
            throw Busy(path: path, holder: holder.description)
        }
        fd = descriptor
        _ = ftruncate(fd, 0)
        // The host beside the pid: a command on another machine must not read this run's store
        // (see `Holder`).
        let holder = Array("\(getpid()) \(WorkDirectoryLock.hostName)\n".utf8)
        _ = pwrite(fd, holder, holder.count, 0)
    }

    /// The run that holds a lock, as its lock file names it.
    ///
    /// SQLite's write-ahead log keeps its index in shared memory (the `-shm` file), which only
    /// processes on one machine share: a reader on another host of a network file system may
    /// read pages the writer has moved on from, and its writes to `-shm` can damage the writer's
    /// index. So a store a run writes is read only on that run's host; elsewhere `vxt status`
    /// reads the snapshot the run leaves beside it, and other commands refuse.
    public struct Holder: Sendable, CustomStringConvertible {
        public var pid: String
        /// nil for a lock written by a vxt that did not name its host.
        public var host: String?

        init(lockFile descriptor: Int32) {
            var buffer = [UInt8](repeating: 0, count: 320)
            let n = pread(descriptor, &buffer, buffer.count, 0)
            let words = n > 0 ? String(decoding: buffer.prefix(n), as: UTF8.self).split(whereSeparator: \.isWhitespace) : []
            pid = words.first.map(String.init) ?? "unknown"
            host = words.count > 1 ? String(words[1]) : nil
        }

        /// Whether the run is on this machine (or did not say where it is).
        public var isOnThisHost: Bool { host.map { $0 == WorkDirectoryLock.hostName } ?? true }

        public var description: String { "pid \(pid)" + (host.map { " on \($0)" } ?? "") }
    }

    /// This machine's name, as runs write it into their lock files.
    public static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown-host" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "unknown-host" : name
    }()

    /// The run holding `<work>/<stem>.lock` now, or nil when none does. Probed by taking a shared
    /// lock and dropping it at once, which writes nothing, so this works on a read-only work
    /// directory too.
    public static func holder(workDirectory: String, stem: String) -> Holder? {
        let descriptor = open((workDirectory as NSString).appendingPathComponent(stem + ".lock"), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_SH | LOCK_NB) == 0 else { return errno == EWOULDBLOCK ? Holder(lockFile: descriptor) : nil }
        flock(descriptor, LOCK_UN)
        return nil
    }

    /// Whether a run holds a lock in `workDirectory` now: the whole run's (`vxt.lock`) or any shard's.
    public static func isHeld(workDirectory: String) -> Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: workDirectory)) ?? []
        return names.contains {
            $0.hasSuffix(".lock") && holder(workDirectory: workDirectory, stem: String($0.dropLast(".lock".count))) != nil
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
