import Foundation
import GRDB

/// What a job store that cannot be written means to the person running vxt.
///
/// SQLite says "database or disk is full - while executing `COMMIT TRANSACTION`": true, but it
/// names neither the disk nor what became of the run. A run whose disk fills stops there (every
/// earlier commit is in the store, the tasks it held go back to work on the next start), so the
/// one thing to say is where space is missing and that the same command continues.
public enum StoreTrouble {
    /// A sentence naming the work directory, the free space on its disk and what to do, for
    /// SQLite's disk-full and I/O errors; nil for any other error.
    public static func explanation(of error: any Error, workDirectory: String) -> String? {
        guard let error = error as? DatabaseError else { return nil }
        let resume =
            "every commit before it is in the store: run the same command again once that is fixed, and it continues where it stopped"
        switch error.resultCode {
        case .SQLITE_FULL:
            return """
                the disk holding \(workDirectory) is full\(freeSpace(workDirectory).map { " (\($0) free)" } ?? ""): \
                the job store could not write \(what(error)); free space there, or move the work directory to a larger \
                disk (the whole folder, with its -wal file); \(resume)
                """
        case .SQLITE_IOERR:
            return """
                the job store in \(workDirectory) could not be read or written (\(error.message ?? "disk I/O error")): \
                check that disk's free space, quota and health (dmesg); \(resume)
                """
        default:
            return nil
        }
    }

    /// What was being written, in the words of the statement that failed.
    private static func what(_ error: DatabaseError) -> String {
        guard let sql = error.sql else { return "its latest changes" }
        if sql.contains("wal_checkpoint") { return "its log into vxt.sqlite (the work itself was committed)" }
        return "its latest changes (`\(sql.prefix(60))`)"
    }

    /// The space left on the disk that holds `path`, for people ("0 bytes", "1.2 GB").
    static func freeSpace(_ path: String) -> String? {
        var folder = path
        while !FileManager.default.fileExists(atPath: folder), folder != "/", !folder.isEmpty {
            folder = (folder as NSString).deletingLastPathComponent
        }
        guard let attributes = try? FileManager.default.attributesOfFileSystem(forPath: folder.isEmpty ? "." : folder),
            let free = (attributes[.systemFreeSize] as? NSNumber)?.int64Value
        else { return nil }
        return bytesForPeople(free)
    }

    static func bytesForPeople(_ bytes: Int64) -> String {
        let units = ["KB", "MB", "GB", "TB"]
        guard bytes >= 1000 else { return "\(bytes) bytes" }
        var value = Double(bytes) / 1000
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return String(format: value < 10 ? "%.1f" : "%.0f", value) + " " + units[unit]
    }
}
