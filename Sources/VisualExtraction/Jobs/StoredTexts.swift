import Foundation
import GRDB

/// How the store keeps its long texts: record pairs and each task's request, output and parsed
/// output are most of a store's bytes (~8 KB a record of a mix665k-shaped run, and the same
/// words several times: the pairs, the statements prompt that quotes them, the statements, their
/// JSON list, the description prompt that quotes those). A task's three texts go into one zstd
/// frame in `task_output.packed`, so that what they share is stored once, and a record's pairs
/// into a frame in `record.pairs`. Short texts stay plain, as do stores written before v12;
/// readers take either (`packedTexts`, `pairsText`), and SQL never looks inside these columns.
enum StoredTexts {
    /// Texts shorter than this in total stay plain: a frame's ~20 bytes of header would eat the gain.
    static let smallestPacked = 96

    /// The frame for a task's texts, or nil when they are stored plain.
    static func pack(request: String?, output: String?, parsed: String?) -> Data? {
        let fields = [request, output, parsed]
        let total = fields.reduce(0) { $0 + ($1?.utf8.count ?? 0) }
        guard total >= smallestPacked else { return nil }
        // A version byte, then per field its length + 1 as a varint (0: absent) and its bytes.
        var payload: [UInt8] = [1]
        payload.reserveCapacity(total + 16)
        for field in fields {
            guard let field else {
                payload.append(0)
                continue
            }
            var length = UInt64(field.utf8.count) + 1
            while length >= 0x80 {
                payload.append(UInt8(length & 0x7F) | 0x80)
                length >>= 7
            }
            payload.append(UInt8(length))
            payload.append(contentsOf: field.utf8)
        }
        return Zstd.compress(payload).map { Data($0) }
    }

    /// A task's texts from a frame `pack` wrote.
    static func unpack(_ frame: Data) throws -> (request: String?, output: String?, parsed: String?) {
        guard let payload = frame.withUnsafeBytes({ Zstd.decompress($0) }), payload.first == 1 else {
            throw DatabaseError(message: "task_output.packed holds no frame vxt wrote (\(frame.count) bytes)")
        }
        var fields: [String?] = []
        var at = 1
        while fields.count < 3 {
            var length: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard at < payload.count, shift < 64 else { throw DatabaseError(message: "task_output.packed is cut short") }
                let byte = payload[at]
                at += 1
                length |= UInt64(byte & 0x7F) << shift
                shift += 7
                if byte < 0x80 { break }
            }
            guard length > 0 else {
                fields.append(nil)
                continue
            }
            let count = Int(length - 1)
            guard count <= payload.count - at else { throw DatabaseError(message: "task_output.packed is cut short") }
            fields.append(String(decoding: payload[at..<(at + count)], as: UTF8.self))
            at += count
        }
        return (fields[0], fields[1], fields[2])
    }

    /// A record's pairs as `record.pairs` holds them: the JSON text
    /// (`[{"question":…,"answer":…},…]`), as a frame when that saves at least an eighth. Made on
    /// the ingest's worker threads, as bytes that the writer binds as they are.
    struct Pairs: Sendable {
        let bytes: [UInt8]
        let isFrame: Bool

        init(_ pairs: [QAPair]) {
            var json: [UInt8] = [UInt8(ascii: "[")]
            json.reserveCapacity(pairs.reduce(2) { $0 + $1.question.utf8.count + $1.answer.utf8.count + 30 })
            for (i, pair) in pairs.enumerated() {
                json.append(contentsOf: (i == 0 ? #"{"question":"# : #",{"question":"#).utf8)
                JSONValue.writeString(pair.question, to: &json)
                json.append(contentsOf: #","answer":"#.utf8)
                JSONValue.writeString(pair.answer, to: &json)
                json.append(UInt8(ascii: "}"))
            }
            json.append(UInt8(ascii: "]"))
            // Level 1: every record of a corpus passes here during ingest, where zstd took a sixth
            // of the CPU; level 3 made frames only 1% smaller, at a fifth more time.
            if json.count >= smallestPacked, let frame = Zstd.compress(json, level: 1), frame.count <= json.count - json.count / 8 {
                (bytes, isFrame) = (frame, true)
            } else {
                (bytes, isFrame) = (json, false)
            }
        }

        var databaseValue: DatabaseValue {
            isFrame ? Data(bytes).databaseValue : String(decoding: bytes, as: UTF8.self).databaseValue
        }
    }

    /// A record's pairs JSON from either form.
    static func pairsText(_ value: DatabaseValue) throws -> String {
        switch value.storage {
        case let .string(text): return text
        case let .blob(frame):
            guard let bytes = frame.withUnsafeBytes({ Zstd.decompress($0) }) else {
                throw DatabaseError(message: "record.pairs holds no frame vxt wrote (\(frame.count) bytes)")
            }
            return String(decoding: bytes, as: UTF8.self)
        default: throw DatabaseError(message: "record.pairs is neither text nor a frame")
        }
    }
}

extension JobStore {
    /// The texts of the `task_output` row selected under `prefix` (`<prefix>request`,
    /// `<prefix>output`, `<prefix>parsed`, `<prefix>packed`; a column not selected reads as nil).
    static func packedTexts(_ row: Row, prefix: String) throws -> (request: String?, output: String?, parsed: String?) {
        if let frame = row[prefix + "packed"] as Data? { return try StoredTexts.unpack(frame) }
        return (
            row.hasColumn(prefix + "request") ? row[prefix + "request"] : nil,
            row.hasColumn(prefix + "output") ? row[prefix + "output"] : nil,
            row.hasColumn(prefix + "parsed") ? row[prefix + "parsed"] : nil
        )
    }
}
