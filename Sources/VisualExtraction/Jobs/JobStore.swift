import Foundation
import GRDB

/// The SQLite job store of a work directory (`<work>/vxt.sqlite`, WAL mode).
///
/// It holds the run's configuration, every input record, and one task per record and stage
/// with its state, attempts, timings and usage, pointing at its texts (exact request, output,
/// parsed output), which are written once. Exports are derived from it, so "each sample exactly once"
/// is a property of this store, not of an output file.
public final class JobStore: Sendable {
    public let path: String
    /// A pool (WAL, readers beside the writer); a plain queue for a store in a read-only folder.
    let pool: any DatabaseWriter

    public static let fileName = "vxt.sqlite"

    public init(path: String, readOnly: Bool = false) throws {
        self.path = path
        // A store a run on another machine is writing cannot be read safely from here.
        if let writer = JobStore.writer(ofStoreAt: path), !writer.isOnThisHost {
            throw StoreError.writtenOnAnotherHost(path: path, writer: writer.description)
        }
        // Commits not yet checkpointed live in the `-wal` file beside the store: without it the
        // store looks older (or empty) than the run. Say so rather than show that older state.
        let wal = path + "-wal"
        if FileManager.default.fileExists(atPath: wal), !FileManager.default.isReadableFile(atPath: wal) {
            throw StoreError.unreadableLog(path: wal)
        }
        let folder = (path as NSString).deletingLastPathComponent
        if readOnly, !FileManager.default.isWritableFile(atPath: folder.isEmpty ? "." : folder) {
            pool = try JobStore.openImmutable(path: path)
            return
        }
        var configuration = Configuration()
        configuration.readonly = readOnly
        // Readers in other processes (`vxt status` on a live run) wait instead of failing.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL + NORMAL survives a killed process; only a power cut can lose the last commits.
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                // The writer's page cache holds the hot index pages of a 665k-record store (64 MB;
                // SQLite's default 2 MB re-read them from the OS at every batch of ingest).
                try db.execute(sql: "PRAGMA cache_size = -\(JobStore.ingestCacheKiB)")
            }
        }
        var pool = try DatabasePool(path: path, configuration: configuration)
        if !readOnly {
            try JobStore.migrator.migrate(pool)
        } else if try !pool.read({ try JobStore.migrator.hasCompletedMigrations($0) }) {
            // A store written by an earlier vxt is brought to the current schema by whichever
            // command opens it first, so `vxt status` or `export` work on it too.
            try pool.close()
            var writable = configuration
            writable.readonly = false
            let upgrade = try DatabasePool(path: path, configuration: writable)
            try JobStore.migrator.migrate(upgrade)
            try upgrade.close()
            pool = try DatabasePool(path: path, configuration: configuration)
        }
        self.pool = pool
    }

    /// The writer's page cache in KiB while records stream in, and once they are all in: a run's
    /// commits touch few pages, and with 12,000 requests in flight the 48 MB are better left to them
    /// (the cache filled through a long run and was part of its slow rise in memory).
    static let ingestCacheKiB = 65536
    static let runCacheKiB = 16384

    /// Shrinks the writer's page cache to `runCacheKiB`, freeing what it held beyond: for when
    /// ingest is over.
    public func useRunCacheSize() throws {
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA cache_size = -\(JobStore.runCacheKiB)") }
    }

    /// A store in a folder this process cannot write (an archive, a shared read-only mount):
    /// SQLite cannot make the `-shm` file a WAL reader needs, so the file is read as it is,
    /// which is complete when its `-wal` is empty (every run ends with a checkpoint).
    static func openImmutable(path: String) throws -> DatabaseQueue {
        let wal = path + "-wal"
        if let size = (try? FileManager.default.attributesOfItem(atPath: wal))?[.size] as? Int, size > 0 {
            throw StoreError.readOnlyWithLog(path: path)
        }
        var configuration = Configuration()
        configuration.readonly = true
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let encoded = absolute.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? absolute
        let queue = try DatabaseQueue(path: "file:\(encoded)?immutable=1", configuration: configuration)
        guard try queue.read({ try JobStore.migrator.hasCompletedMigrations($0) }) else {
            throw StoreError.readOnlyOutdated(path: path)
        }
        return queue
    }

    /// Opens the store of a work directory: the given shard's, else the whole (or merged) run's,
    /// else the only shard's; says clearly what to do otherwise.
    public static func open(workDirectory: String, shard: Shard? = nil, readOnly: Bool = true) throws -> JobStore {
        try JobStore(path: storePath(workDirectory: workDirectory, shard: shard), readOnly: readOnly)
    }

    /// The store `open` opens: the given shard's, else the whole (or merged) run's, else the only
    /// shard's.
    public static func storePath(workDirectory: String, shard: Shard? = nil) throws -> String {
        if let shard {
            let path = (workDirectory as NSString).appendingPathComponent(shard.fileStem + ".sqlite")
            guard FileManager.default.fileExists(atPath: path) else { throw StoreError.noStore(workDirectory: workDirectory) }
            return path
        }
        let path = (workDirectory as NSString).appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: path) { return path }
        let shards = shardStorePaths(workDirectory: workDirectory)
        if shards.count == 1 { return shards[0] }
        if shards.count > 1 { throw StoreError.sharded(workDirectory: workDirectory, count: shards.count) }
        throw StoreError.noStore(workDirectory: workDirectory)
    }

    /// The run writing the store at `path` now, from the lock beside it (`vxt.lock` for
    /// `vxt.sqlite`, `shard-…-of-….lock` for a shard's); nil when no run holds it.
    public static func writer(ofStoreAt path: String) -> WorkDirectoryLock.Holder? {
        let name = (path as NSString).lastPathComponent
        guard name.hasSuffix(".sqlite") else { return nil }
        return WorkDirectoryLock.holder(
            workDirectory: (path as NSString).deletingLastPathComponent, stem: String(name.dropLast(".sqlite".count)))
    }

    /// The `shard-*-of-*.sqlite` stores of a work directory, sorted.
    public static func shardStorePaths(workDirectory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: workDirectory)) ?? []
        return names.filter { $0.hasPrefix("shard-") && $0.hasSuffix(".sqlite") }.sorted()
            .map { (workDirectory as NSString).appendingPathComponent($0) }
    }

    public enum StoreError: Error, CustomStringConvertible {
        case noStore(workDirectory: String)
        case sharded(workDirectory: String, count: Int)
        case unknownRecord(String)
        case unreadableLog(path: String)
        case readOnlyWithLog(path: String)
        case readOnlyOutdated(path: String)
        case writtenOnAnotherHost(path: String, writer: String)

        public var description: String {
            switch self {
            case let .noStore(work):
                return "no job store in \(work) (expected \(work)/\(JobStore.fileName)); start one with `vxt run ... --work \(work)`"
            case let .sharded(work, count):
                return "\(work) holds \(count) shard stores: merge them with `vxt merge --work \(work)`, or name one with --shard i/n"
            case let .unknownRecord(id): return "no record with id or key \"\(id)\" in this work directory"
            case let .readOnlyWithLog(path):
                return """
                    \(path) is in a folder vxt cannot write, and its -wal file still holds commits that only a writer can bring \
                    in: copy the work directory somewhere writable (or run any vxt command there once as its owner)
                    """
            case let .readOnlyOutdated(path):
                return
                    "\(path) was written by an earlier vxt and is in a folder vxt cannot write, so it cannot be upgraded: copy it somewhere writable"
            case let .writtenOnAnotherHost(path, writer):
                return """
                    \(path) is being written by a vxt run on another machine (\(writer)), and SQLite's write-ahead log \
                    cannot be read safely from a second machine: a reader here could see pages the run has moved on from, \
                    or damage its log index. `vxt status` works from here (it reads the snapshot the run leaves beside its \
                    store); run this command on that machine, or once the run has ended
                    """
            case let .unreadableLog(path):
                return
                    "\(path) holds the store's latest commits but cannot be read (permissions?); fix its permissions, or run as its owner"
            }
        }
    }

    static func refreshProblemCount(_ db: Database) throws {
        try db.execute(sql: "UPDATE run SET problem_count = (SELECT COUNT(*) FROM record WHERE problem IS NOT NULL) WHERE id = 1")
    }

    /// Copies everything in the write-ahead log into the database file and empties the log, so
    /// that `vxt.sqlite` alone holds the run (a copy of it without its `-wal` is complete).
    public func checkpoint() throws {
        try pool.writeWithoutTransaction { db in
            _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

}
