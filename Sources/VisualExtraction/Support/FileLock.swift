import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs `body` while this process holds an exclusive `flock` on `path` (created if missing),
/// waiting for any other process that holds it first.
///
/// For a few milliseconds of work that processes sharing a file must not interleave, such as
/// creating a SQLite file and running its migrations: GRDB's migrator reads which migrations
/// are applied before it takes the write lock, so two processes opening a new file at once can
/// both run the first one, and the second fails ("duplicate column name"). The kernel drops the
/// lock if the process dies, so a crash never leaves it held.
func withExclusiveFileLock<T>(at path: String, _ body: () throws -> T) throws -> T {
    let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw FileLockError(path: path, reason: String(cString: strerror(errno))) }
    defer { close(descriptor) }
    while flock(descriptor, LOCK_EX) != 0 {
        guard errno == EINTR else { throw FileLockError(path: path, reason: String(cString: strerror(errno))) }
    }
    defer { flock(descriptor, LOCK_UN) }
    return try body()
}

/// Why `withExclusiveFileLock` could not take its lock.
struct FileLockError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { "cannot lock \(path): \(reason)" }
}
