import GRDB
import GRDBSQLite

/// One statement prepared and stepped through SQLite's C interface, for the ingest's insert of
/// every record. GRDB's `StatementArguments` hold each value as an existential in an array: at
/// 665k records, building, retaining and releasing those was more of the writing thread's CPU
/// than SQLite's own work. Lives inside one `write` (finalized when released), on its connection.
final class RawStatement {
    private let handle: OpaquePointer
    private let connection: OpaquePointer
    let sql: String

    init(_ db: Database, sql: String) throws {
        guard let connection = db.sqliteConnection else { throw DatabaseError(message: "the store's connection is closed", sql: sql) }
        var handle: OpaquePointer?
        let code = sqlite3_prepare_v2(connection, sql, -1, &handle, nil)
        guard code == SQLITE_OK, let handle else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)), sql: sql)
        }
        self.handle = handle
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    func bind(_ index: Int32, _ value: String?) {
        guard var value else {
            sqlite3_bind_null(handle, index)
            return
        }
        value.withUTF8 { bind(index, bytes: $0, asBlob: false) }
    }

    func bind(_ index: Int32, _ value: Int?) {
        guard let value else {
            sqlite3_bind_null(handle, index)
            return
        }
        sqlite3_bind_int64(handle, index, Int64(value))
    }

    func bind(_ index: Int32, _ value: Int64?) {
        guard let value else {
            sqlite3_bind_null(handle, index)
            return
        }
        sqlite3_bind_int64(handle, index, value)
    }

    /// Binds UTF-8 text, or a blob when `asBlob`; SQLite copies the bytes.
    func bind(_ index: Int32, bytes: [UInt8], asBlob: Bool) {
        bytes.withUnsafeBufferPointer { bind(index, bytes: $0, asBlob: asBlob) }
    }

    private func bind(_ index: Int32, bytes: UnsafeBufferPointer<UInt8>, asBlob: Bool) {
        // An empty buffer may have no address, and a null pointer would bind NULL, not "".
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            if asBlob { sqlite3_bind_zeroblob(handle, index, 0) } else { sqlite3_bind_text(handle, index, "", 0, RawStatement.transient) }
            return
        }
        if asBlob {
            sqlite3_bind_blob(handle, index, base, Int32(bytes.count), RawStatement.transient)
        } else {
            base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                _ = sqlite3_bind_text(handle, index, $0, Int32(bytes.count), RawStatement.transient)
            }
        }
    }

    /// Runs the statement once with what is bound. Bindings stay: a caller that binds every
    /// parameter for each row may rebind only what changes between two attempts of one row.
    func execute() throws {
        let code = sqlite3_step(handle)
        guard code == SQLITE_DONE else {
            let message = String(cString: sqlite3_errmsg(connection))
            sqlite3_reset(handle)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: sql)
        }
        sqlite3_reset(handle)
    }

    /// SQLite's SQLITE_TRANSIENT: copy the bound bytes now, they may be gone before the step.
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
}
