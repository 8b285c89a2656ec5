import Foundation
import GRDB
import Testing
@testable import VisualExtraction

/// The ingest's insert through SQLite's C interface stores what GRDB would store for the same
/// values, and its errors carry what GRDB's carry.
@Suite struct RawStatementTests {
    @Test func valuesAreStoredAsGRDBStoresThem() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (n INTEGER, label TEXT, text TEXT, data BLOB)")
            let insert = try RawStatement(db, sql: "INSERT INTO t (n, label, text, data) VALUES (?, ?, ?, ?)")
            let cases: [(Int?, String, String?, [UInt8]?)] = [
                (1, "plain", "a cup", [0x28, 0xB5, 0x2F, 0xFD]),
                (nil, "empty, not null", "", []),
                (Int(Int64.max), "null", nil, nil),
                (-7, "unicode and NUL-free controls", "Café \"crème\"\\\n\t日本語 \u{1}", [0])
            ]
            for (n, label, text, data) in cases {
                insert.bind(1, n)
                insert.bind(2, label)
                insert.bind(3, text)
                if let data { insert.bind(4, bytes: data, asBlob: true) } else { insert.bind(4, nil as String?) }
                try insert.execute()
                try db.execute(
                    sql: "INSERT INTO t (n, label, text, data) VALUES (?, ?, ?, ?)",
                    arguments: [n, label + " (GRDB)", text, data.map { Data($0) }])
            }
            let rows = try Row.fetchAll(
                db, sql: "SELECT n, typeof(n), text, typeof(text), hex(data), typeof(data) FROM t ORDER BY rowid")
            for i in stride(from: 0, to: rows.count, by: 2) {
                #expect(Array(rows[i].databaseValues) == Array(rows[i + 1].databaseValues), "case \(i / 2)")
            }
            #expect(rows[2]["typeof(text)"] as String == "text" && rows[2]["typeof(data)"] as String == "blob")
            #expect(rows[4]["typeof(text)"] as String == "null")
        }
    }

    @Test func aRefusedRowThrowsWithTheStatementAndLeavesItUsable() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (key TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            let insert = try RawStatement(db, sql: "INSERT INTO t (key, n) VALUES (?, ?)")
            insert.bind(1, "a")
            insert.bind(2, 1)
            try insert.execute()
            do {
                try insert.execute()
                Issue.record("a second row with key a was stored")
            } catch let error as DatabaseError {
                #expect(error.resultCode == .SQLITE_CONSTRAINT)
                #expect(error.sql == "INSERT INTO t (key, n) VALUES (?, ?)")
                #expect(error.message?.contains("t.key") == true, "\(error)")
            }
            insert.bind(1, "b")
            try insert.execute()
            #expect(try String.fetchAll(db, sql: "SELECT key FROM t ORDER BY key") == ["a", "b"])
        }
        #expect(throws: DatabaseError.self) {
            try queue.write { db in _ = try RawStatement(db, sql: "INSERT INTO missing VALUES (?)") }
        }
    }
}
