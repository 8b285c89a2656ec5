#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Messages for people go to stderr; stdout is kept for data (JSON, JSONL) other tools read.
enum Output {
    static func info(_ message: String) {
        let bytes = Array((message + "\n").utf8)
        bytes.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
    }

    static func data(_ text: String) {
        print(text)
    }

    static var stderrIsTerminal: Bool { isatty(2) == 1 }
}
