import Foundation

/// What a run's store said a moment ago, left beside the store by the run (`vxt.status.json`,
/// `shard-0003-of-0016.status.json`) every few seconds and at its end.
///
/// `vxt status` on another machine reads this instead of the store: a store that a run writes is
/// read only on the run's host (`WorkDirectoryLock.Holder` says why), and on a cluster the shards
/// run on compute nodes while people look from a login node.
public struct StatusSnapshot: Sendable, Codable {
    /// When it was written (Unix seconds).
    public var writtenAt: Double
    public var host: String
    public var pid: Int32
    public var summary: StatusSummary

    /// Seconds between a run's snapshots: a status from afar is at most this old, and a 665k-record
    /// store's status costs ~0.03 s to read.
    public static let interval = 10.0

    /// `<work>/<stem>.status.json` for the store at `<work>/<stem>.sqlite`.
    public static func path(storePath: String) -> String {
        (storePath.hasSuffix(".sqlite") ? String(storePath.dropLast(".sqlite".count)) : storePath) + ".status.json"
    }

    /// Writes the store's status beside it, whole or not at all (a reader never sees half a file).
    public static func write(of store: JobStore, now: Double? = nil) throws {
        let now = now ?? Date().timeIntervalSince1970
        try write(try store.status(now: now), of: store, now: now)
    }

    /// Writes `summary`, just read from `store`, beside it.
    public static func write(_ summary: StatusSummary, of store: JobStore, now: Double? = nil) throws {
        let snapshot = StatusSnapshot(
            writtenAt: now ?? Date().timeIntervalSince1970, host: WorkDirectoryLock.hostName, pid: getpid(), summary: summary)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(snapshot).write(to: URL(fileURLWithPath: path(storePath: store.path)), options: .atomic)
    }

    /// The snapshot beside the store at `storePath`, if there is one that can be read.
    public static func read(storePath: String) -> StatusSnapshot? {
        guard let data = FileManager.default.contents(atPath: path(storePath: storePath)) else { return nil }
        return try? JSONDecoder().decode(StatusSnapshot.self, from: data)
    }
}
