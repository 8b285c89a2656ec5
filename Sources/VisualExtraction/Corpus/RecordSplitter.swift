import CZlib
import CZstd
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The bytes of one top-level record of an input file, with where it was found.
public struct RawRecord: Sendable {
    /// 0-based position among the records of the file.
    public let index: Int
    /// Byte offset of the record's first byte in the file.
    public let byteOffset: Int64
    /// 1-based line of the record's first byte.
    public let line: Int
    public let bytes: [UInt8]

    public init(index: Int, byteOffset: Int64, line: Int, bytes: [UInt8]) {
        self.index = index
        self.byteOffset = byteOffset
        self.line = line
        self.bytes = bytes
    }
}

/// A part of the file that could not be cut into a record (truncation, stray text).
public struct SplitProblem: Sendable, Error {
    public let index: Int
    public let byteOffset: Int64
    public let line: Int
    public let reason: String
}

public enum SplitEvent: Sendable {
    case record(RawRecord)
    case problem(SplitProblem)
}

/// How the records are laid out in the file.
public enum RecordLayout: String, Sendable {
    /// One JSON array of records (LLaVA's `llava_v1_5_mix665k.json`).
    case jsonArray = "json-array"
    /// One record per line.
    case jsonLines = "jsonl"
    /// Records one after another, possibly pretty-printed over many lines.
    case concatenated
}

/// Cuts a JSON array or JSONL file into records while reading it in fixed-size chunks, so a
/// 1 GB corpus is never held in memory. It only tracks nesting and strings; each record is
/// parsed separately, so one bad record does not stop the rest. It also hashes every byte read.
public struct RecordSplitter {
    public let path: String
    public var chunkSize = 1 << 20
    /// Records larger than this are reported as problems and not held in memory.
    public var largestRecord = 64 << 20

    public init(path: String) {
        self.path = path
    }

    public struct Summary: Sendable {
        public var layout: RecordLayout
        public var records: Int
        public var problems: Int
        public var bytes: Int64
        public var sha256: String
    }

    public enum OpenError: Error, CustomStringConvertible {
        case cannotOpen(path: String, reason: String)
        case readFailed(path: String, reason: String)
        case notRecords(path: String, reason: String)

        public var description: String {
            switch self {
            case let .cannotOpen(path, reason): return "cannot open input \(path): \(reason)"
            case let .readFailed(path, reason): return "cannot read input \(path): \(reason)"
            case let .notRecords(path, reason): return "\(path) is not a JSON array or JSONL file of records: \(reason)"
            }
        }
    }

    /// Calls `body` for every record and problem in file order.
    public func forEach(_ body: (SplitEvent) throws -> Void) throws -> Summary {
        var input = try InputFile(path: path)
        defer { input.close() }
        var scanner = Scanner()
        scanner.largestRecord = largestRecord
        var hasher = ContentHasher()
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        var total: Int64 = 0
        while true {
            let n = try chunk.withUnsafeMutableBytes { try input.read(into: $0) }
            if n == 0 { break }
            try chunk.withUnsafeBytes { raw in
                let slice = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                hasher.update(slice)
                try scanner.feed(slice, at: total, emit: body)
            }
            total += Int64(n)
        }
        try scanner.finish(at: total, emit: body)
        // An empty file, a gzip of nothing or an empty array is never the corpus someone meant.
        if scanner.records == 0 && scanner.problems == 0 {
            throw OpenError.notRecords(path: path, reason: total == 0 ? "it is empty (0 bytes after decompression)" : "no records found")
        }
        return Summary(
            layout: scanner.layout ?? .jsonLines, records: scanner.records, problems: scanner.problems,
            bytes: total, sha256: hasher.finalize())
    }
}

extension RecordSplitter {
    /// Cuts the file into batches of events that pass `keep`, has `map`'s workers transform them, and
    /// hands the results to `consume` in file order; the map is finished (or drained) either way.
    func forEachBatch<Output: Sendable>(
        _ map: OrderedParallelMap<[SplitEvent], Output>, batchSize: Int = 256,
        keep: (SplitEvent) -> Bool = { _ in true },
        consume: (Output) throws -> Void
    ) throws -> Summary {
        var batch: [SplitEvent] = []
        batch.reserveCapacity(batchSize)
        let summary: Summary
        do {
            summary = try forEach { event in
                guard keep(event) else { return }
                batch.append(event)
                if batch.count == batchSize {
                    try map.submit(batch, consume: consume)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            if !batch.isEmpty { try map.submit(batch, consume: consume) }
        } catch {
            try? map.finish { _ in }
            throw error
        }
        try map.finish(consume: consume)
        return summary
    }
}

/// A plain, gzip- or zstd-compressed input file (recognised by its magic bytes). Offsets, lines
/// and the content hash all refer to the decompressed bytes, the records as vxt reads them.
struct InputFile {
    private var fd: Int32 = -1
    private var gz: OpaquePointer?
    private var zstd: OpaquePointer?
    /// Bytes read to recognise the format that could not be read again (a pipe cannot seek back):
    /// handed out before the rest of the stream.
    private var pushback: [UInt8] = []
    let path: String

    init(path: String) throws {
        self.path = path
        let probe = open(path, O_RDONLY)
        guard probe >= 0 else { throw RecordSplitter.OpenError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        var magic: [UInt8] = [0, 0, 0, 0]
        var n = 0
        while n < 4 {
            let got = magic.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return Glibc.read(probe, base + n, 4 - n)
            }
            if got < 0 && errno == EINTR { continue }
            if got <= 0 { break }
            n += got
        }
        let compressed = (n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd]) || (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        if compressed && lseek(probe, 0, SEEK_SET) < 0 {
            _ = Glibc.close(probe)
            throw RecordSplitter.OpenError.cannotOpen(
                path: path,
                reason: """
                    a compressed stream from a pipe cannot be read twice; pass the file itself, or decompress into the pipe \
                    (e.g. <(zcat file.json.gz))
                    """)
        }
        if n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
            _ = Glibc.close(probe)
            guard let handle = vxt_zstd_open(path) else {
                throw RecordSplitter.OpenError.cannotOpen(path: path, reason: "cannot open as zstd")
            }
            zstd = handle
        } else if n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
            _ = Glibc.close(probe)
            guard let handle = vxt_gz_open(path) else {
                throw RecordSplitter.OpenError.cannotOpen(path: path, reason: "cannot open as gzip")
            }
            gz = handle
        } else {
            // A pipe or a FIFO cannot seek back: the probed bytes are handed out first instead.
            if lseek(probe, 0, SEEK_SET) < 0 { pushback = Array(magic.prefix(max(n, 0))) }
            fd = probe
        }
    }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if let zstd {
            let n = vxt_zstd_read(zstd, buffer.baseAddress, buffer.count)
            if n < 0 { throw RecordSplitter.OpenError.readFailed(path: path, reason: "zstd: " + String(cString: vxt_zstd_error(zstd))) }
            return n
        }
        if let gz {
            let n = vxt_gz_read(gz, buffer.baseAddress, buffer.count)
            // A truncated stream ends with 0 bytes and an error zlib only reports when asked.
            if n < 0 || (n == 0 && vxt_gz_error_code(gz) != 0) {
                throw RecordSplitter.OpenError.readFailed(
                    path: path,
                    reason: """
                        gzip: \(String(cString: vxt_gz_error(gz))) (the file is truncated or damaged; records read before this \
                        point are kept, the rest is missing)
                        """)
            }
            return n
        }
        if !pushback.isEmpty {
            let n = min(pushback.count, buffer.count)
            for i in 0..<n { buffer[i] = pushback[i] }
            pushback.removeFirst(n)
            return n
        }
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno != EINTR { throw RecordSplitter.OpenError.readFailed(path: path, reason: String(cString: strerror(errno))) }
        }
    }

    mutating func close() {
        if let gz { vxt_gz_close(gz) }
        if let zstd { vxt_zstd_close(zstd) }
        if fd >= 0 { _ = Glibc.close(fd) }
        gz = nil
        zstd = nil
        fd = -1
    }
}

/// The byte-level state machine behind `RecordSplitter`.
struct Scanner {
    private(set) var layout: RecordLayout?
    private(set) var records = 0
    private(set) var problems = 0

    private enum State {
        case start  // before the first significant byte
        case between  // between records (array: after '[' or ',')
        case inRecord  // inside a record
        case afterArray  // after the closing ']'
        /// Array only: after a record cut inside a string, skipping to the next line that starts a
        /// record at the records' indentation, so one cut record does not take the rest with it.
        case skipping
    }

    private var state = State.start
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var current: [UInt8] = []
    private var recordOffset: Int64 = 0
    private var recordLine = 1
    private var line = 1
    private var sawBOM = false
    /// In JSONL the first record decides whether records end at newlines or span lines.
    private var firstRecordPending = true
    /// Where the current line starts (absolute offset) and whether it has held anything but
    /// whitespace yet: a record that opens a line at the records' indentation is where reading
    /// can resume after a cut one.
    private var lineStart: Int64 = 0
    private var lineHasContent = false
    /// The column at which records of a pretty-printed array open (`  {`), once seen.
    private var recordIndent: Int64?
    /// No record of a real corpus comes near this (mix665k's largest is a few KB); a larger one
    /// is reported, not held in memory.
    var largestRecord = 64 << 20
    private var oversized = false
    /// The first bytes of an oversized record, kept to say what it is (`WrappedRecords`).
    private var oversizedHead: [UInt8] = []

    /// The index of the first `"`, `\\` or newline at or after `start`, or `bytes.count`.
    @inline(__always)
    static func nextStringStop(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var i = start
        let quote = SIMD16<UInt8>(repeating: UInt8(ascii: "\"")), backslash = SIMD16<UInt8>(repeating: UInt8(ascii: "\\"))
        let newline = SIMD16<UInt8>(repeating: 0x0a)
        while i + 16 <= bytes.count {
            let chunk = bytes.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
            if any((chunk .== quote) .| (chunk .== backslash) .| (chunk .== newline)) { break }
            i += 16
        }
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b == 0x0a { return i }
            i += 1
        }
        return i
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer, at base: Int64, emit: (SplitEvent) throws -> Void) throws {
        var i = 0
        var copyStart = -1
        let count = bytes.count
        func flushCopy(_ end: Int) {
            if copyStart >= 0 && end > copyStart {
                if current.count + (end - copyStart) > largestRecord {
                    // Read on to the record's end, keeping none of it but its first bytes.
                    if !oversized {
                        oversizedHead = Array(current.prefix(4096))
                        let more = min(end, copyStart + 4096 - oversizedHead.count)
                        if more > copyStart { oversizedHead += UnsafeRawBufferPointer(rebasing: bytes[copyStart..<more]) }
                    }
                    oversized = true
                    current = []
                } else if !oversized {
                    current.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[copyStart..<end]))
                }
            }
            copyStart = -1
        }
        if state == .inRecord { copyStart = 0 }
        while i < count {
            let b = bytes[i]
            switch state {
            case .skipping:
                if b == 0x0a {
                    line += 1
                    lineStart = base + Int64(i) + 1
                    lineHasContent = false
                } else if b != 0x20 && b != 0x09 && b != 0x0d {
                    let column = base + Int64(i) - lineStart
                    if !lineHasContent, let indent = recordIndent {
                        if b == UInt8(ascii: "{") && column == indent {
                            state = .between
                            continue
                        }
                        if b == UInt8(ascii: "]") && column < indent {
                            state = .afterArray
                            i += 1
                            continue
                        }
                    }
                    lineHasContent = true
                }
                i += 1
                continue
            case .start, .between, .afterArray:
                if b == 0x0a {
                    line += 1
                    lineStart = base + Int64(i) + 1
                    lineHasContent = false
                    i += 1
                    continue
                }
                if b == 0x20 || b == 0x09 || b == 0x0d { i += 1; continue }
                if state == .start, base + Int64(i) < 3, b == 0xEF || b == 0xBB || b == 0xBF { i += 1; continue }
                if state == .start {
                    if b == UInt8(ascii: "[") {
                        layout = .jsonArray
                        state = .between
                        i += 1
                        continue
                    }
                    layout = .jsonLines
                    state = .between
                }
                if state == .afterArray {
                    try report(base + Int64(i), "unexpected text after the closing ']' of the array", emit)
                    return
                }
                if layout == .jsonArray {
                    if b == UInt8(ascii: ",") { lineHasContent = true; i += 1; continue }
                    if b == UInt8(ascii: "]") { state = .afterArray; i += 1; continue }
                    if b == UInt8(ascii: "}") {
                        // A stray closing brace between records: reported, and the next record read as usual.
                        try report(base + Int64(i), "unexpected '}' between records", emit)
                        lineHasContent = true
                        i += 1
                        continue
                    }
                    if b == UInt8(ascii: "{") && !lineHasContent && recordIndent == nil {
                        recordIndent = base + Int64(i) - lineStart
                    }
                }
                lineHasContent = true
                state = .inRecord
                recordOffset = base + Int64(i)
                recordLine = line
                depth = 0
                inString = false
                escaped = false
                current.removeAll(keepingCapacity: true)
                copyStart = i
                continue
            case .inRecord:
                if inString {
                    if !escaped && b != UInt8(ascii: "\\") && b != UInt8(ascii: "\"") && b != 0x0a {
                        // Most bytes of a corpus are inside strings: skip to the next quote,
                        // backslash or newline sixteen bytes at a time.
                        i = Scanner.nextStringStop(bytes, from: i + 1)
                        continue
                    }
                    if escaped {
                        escaped = false
                    } else if b == UInt8(ascii: "\\") {
                        escaped = true
                    } else if b == UInt8(ascii: "\"") {
                        inString = false
                    }
                    if b == 0x0a {
                        line += 1
                        lineStart = base + Int64(i) + 1
                        lineHasContent = false
                        // A raw newline is never inside a JSON string: in JSONL the record was cut
                        // (even the first one, which would otherwise swallow the file as "concatenated").
                        if layout == .jsonLines {
                            flushCopy(i)
                            try endRecord(complete: false, reason: "record ends inside a string at the end of its line", emit)
                            i += 1
                            continue
                        }
                        // In a pretty-printed array, reading resumes at the next record.
                        if layout == .jsonArray && recordIndent != nil {
                            flushCopy(i)
                            try endRecord(
                                complete: false,
                                reason: "record ends inside a string at the end of its line (cut?); reading resumed at the next record",
                                emit)
                            state = .skipping
                            i += 1
                            continue
                        }
                    }
                    i += 1
                    continue
                }
                switch b {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 && layout == .jsonArray && b == UInt8(ascii: "]") {
                        // A scalar element followed by the end of the array.
                        flushCopy(i)
                        try endRecord(complete: true, reason: nil, emit)
                        state = .afterArray
                        i += 1
                        continue
                    }
                    depth -= 1
                    if depth == 0 {
                        flushCopy(i + 1)
                        try endRecord(complete: true, reason: nil, emit)
                        if layout == .jsonLines { firstRecordPending = false }
                        i += 1
                        continue
                    }
                case UInt8(ascii: ","):
                    if depth == 0 && layout == .jsonArray {
                        flushCopy(i)
                        try endRecord(complete: true, reason: nil, emit)
                        i += 1
                        continue
                    }
                case 0x0a:
                    line += 1
                    lineStart = base + Int64(i) + 1
                    lineHasContent = false
                    if layout == .jsonLines {
                        if depth == 0 {
                            flushCopy(i)
                            try endRecord(complete: true, reason: nil, emit)
                            i += 1
                            continue
                        }
                        if firstRecordPending {
                            // The first record spans lines: records are pretty-printed one after another.
                            layout = .concatenated
                        } else {
                            flushCopy(i)
                            try endRecord(complete: false, reason: "record is not complete JSON on its line", emit)
                            i += 1
                            continue
                        }
                    }
                default: break
                }
                i += 1
            }
        }
        if state == .inRecord { flushCopy(count) }
    }

    mutating func finish(at end: Int64, emit: (SplitEvent) throws -> Void) throws {
        switch state {
        case .inRecord:
            if depth == 0 && !inString && layout != .jsonArray {
                try endRecord(complete: true, reason: nil, emit)
            } else {
                try endRecord(complete: false, reason: "file ends inside this record (truncated file?)", emit)
            }
        case .between where layout == .jsonArray, .skipping:
            try report(end, "file ends before the closing ']' of the array (truncated file?)", emit)
        default:
            break
        }
    }

    private mutating func endRecord(complete: Bool, reason: String?, _ emit: (SplitEvent) throws -> Void) throws {
        let index = records + problems
        state = .between
        if oversized {
            oversized = false
            problems += 1
            let size = largestRecord >= 1 << 20 ? "\(largestRecord >> 20) MB" : "\(largestRecord) bytes"
            let wrapped = WrappedRecords.listKey(inHead: oversizedHead).map { "; " + WrappedRecords.advice(key: $0, count: nil) } ?? ""
            try emit(
                .problem(
                    SplitProblem(
                        index: index, byteOffset: recordOffset, line: recordLine,
                        reason: "record is larger than \(size); it was not read" + wrapped)))
            current = []
            oversizedHead = []
            return
        }
        if complete {
            // Trailing whitespace of a scalar or a JSONL line.
            while let last = current.last, last == 0x20 || last == 0x0d || last == 0x09 || last == 0x0a { current.removeLast() }
            records += 1
            // An exact-size copy: handing out `current` itself would make the scratch buffer reallocate
            // at its full capacity (the largest record so far) for every record still in flight.
            try emit(.record(RawRecord(index: index, byteOffset: recordOffset, line: recordLine, bytes: Array(current))))
        } else {
            problems += 1
            try emit(.problem(SplitProblem(index: index, byteOffset: recordOffset, line: recordLine, reason: reason ?? "malformed record")))
        }
        current.removeAll(keepingCapacity: true)
    }

    private mutating func report(_ offset: Int64, _ reason: String, _ emit: (SplitEvent) throws -> Void) throws {
        problems += 1
        try emit(.problem(SplitProblem(index: records + problems - 1, byteOffset: offset, line: line, reason: reason)))
    }
}
