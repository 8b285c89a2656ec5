/// A whole corpus written as one object with its records in a list (`{"version": 1, "data": [...]}`,
/// as some exporters and dataset cards do). To vxt that is one record holding none it can use; the
/// advice says how to take the list out, the same wherever the object is found: decoded whole, or
/// too large to read (a 1 GB file is one "record" over `RecordSplitter.largestRecord`).
enum WrappedRecords {
    /// What every such reason says, so that the preflight can tell the case apart.
    static let marker = "take the list out first"

    /// The reason's advice, with the list's key and, when the object was read, its length.
    static func advice(key: String, count: Int?) -> String {
        let holds = count.map { "this object holds \($0) records in its `\(key)` list" } ?? "this object holds records in its `\(key)` list"
        return holds + "; vxt reads a JSON array of records or JSON Lines: \(marker), e.g. `jq '.\(key)' FILE > records.json`"
    }

    /// Keys that make an object a record (`LLaVARecordDecoder`), not a wrapper of records.
    static let recordKeys: Set<String> = ["conversations", "messages", "instruction", "output"]

    /// The key of the first member of the object that `head` (its first bytes) opens whose value
    /// opens a list of objects: `data` for `{"version": 1, "data": [{...`. nil when `head` is not
    /// such an object, the list opens beyond it, or a key before it is a record's.
    static func listKey(inHead head: [UInt8]) -> String? {
        var i = 0
        func skipSpace() { while i < head.count, head[i] == 0x20 || head[i] == 0x0a || head[i] == 0x0d || head[i] == 0x09 { i += 1 } }
        /// The string opening at `i` (raw bytes; escapes are kept as written), `i` after its closing quote.
        func string() -> String? {
            guard i < head.count, head[i] == UInt8(ascii: "\"") else { return nil }
            let start = i + 1
            i += 1
            while i < head.count, head[i] != UInt8(ascii: "\"") { i += head[i] == UInt8(ascii: "\\") ? 2 : 1 }
            guard i < head.count else { return nil }
            defer { i += 1 }
            return String(decoding: head[start..<i], as: UTF8.self)
        }
        skipSpace()
        guard i < head.count, head[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        while true {
            skipSpace()
            // A record's own lists are not records: a huge record is not a wrapper.
            guard let key = string(), !recordKeys.contains(key) else { return nil }
            skipSpace()
            guard i < head.count, head[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            skipSpace()
            guard i < head.count else { return nil }
            if head[i] == UInt8(ascii: "[") {
                i += 1
                skipSpace()
                if i < head.count, head[i] == UInt8(ascii: "{") { return key }
            }
            // Past this member's value, to the comma at the object's own depth.
            var depth = 0
            scan: while i < head.count {
                switch head[i] {
                case UInt8(ascii: "\""):
                    _ = string()
                    continue scan
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return nil }
                    depth -= 1
                case UInt8(ascii: ",") where depth == 0:
                    i += 1
                    break scan
                default: break
                }
                i += 1
            }
            guard i < head.count else { return nil }
        }
    }
}
