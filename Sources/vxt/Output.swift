#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation
import VisualExtraction

/// Messages for people go to stderr; stdout is kept for data (JSON, JSONL) other tools read.
/// With `--log-format json` every stderr line is a JSON object instead (messages, progress and
/// log entries alike), so a cluster's log collector reads the whole stream.
enum Output {
    /// Set once by `LogOptions.bootstrap`, before any output.
    nonisolated(unsafe) static var format: LogFormat = .text

    static func info(_ message: String) {
        switch format {
        case .text: write(message)
        case .json:
            // Blank lines space out the text for people; a collector has no use for them.
            if !message.isEmpty { writeJSON([("level", "info"), ("label", "vxt"), ("message", message)]) }
        }
    }

    /// The progress line: apart from log entries (never filtered by level), marked as progress in
    /// JSON. On a terminal it is redrawn in place, always the last line, so the screen shows one
    /// progress line however many messages come between updates; elsewhere (a Slurm log, a pipe)
    /// each update is a line.
    static func progress(_ line: String) {
        switch format {
        case .text where stderrIsTerminal:
            lock.lock()
            defer { lock.unlock() }
            // Carriage return and erase-line, then the line without its newline: the next update
            // overwrites it, and a message takes its place and draws it again below (`write`).
            // Cut to the terminal's width: a wrapped line leaves its first rows behind at each redraw.
            var shown = visible(line)
            if let width = terminalWidth, shown.count >= width { shown = String(shown.prefix(max(width - 2, 1))) + "…" }
            shownProgress = shown
            writeBytes(Array((eraseLine + shown).utf8))
        case .text: write(line)
        case .json: writeJSON([("level", "info"), ("label", "vxt.progress"), ("message", line)])
        }
    }

    /// The last progress line, kept: on a terminal it ends with its newline and stays above what
    /// follows (the run's summary); no later message redraws it, so it is shown whole.
    static func finalProgress(_ line: String) {
        switch format {
        case .text where stderrIsTerminal:
            lock.lock()
            defer { lock.unlock() }
            shownProgress = nil
            writeBytes(Array((eraseLine + visible(line) + "\n").utf8))
        case .text, .json: progress(line)
        }
    }

    private static let lock = NSLock()
    private static let eraseLine = "\r\u{1b}[2K"
    /// The progress line on the terminal, without its newline; nil when none is shown.
    nonisolated(unsafe) private static var shownProgress: String?

    static func data(_ text: String) {
        print(visible(text))
    }

    /// `text` with control characters other than newline and tab shown as `\u{1b}`: ids, paths
    /// and model output come from strangers, and an ESC sequence in them must not drive the
    /// terminal (JSON output is unchanged: JSON escapes them already).
    static func visible(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        (scalar.value < 0x20 && scalar != "\n" && scalar != "\t") || (0x7F...0x9F).contains(scalar.value)
    }

    /// One line on stderr, written whole (one write call) so that lines of threads do not interleave.
    static func write(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        // A message replaces the progress line shown, which is drawn again below it: one write,
        // so the terminal never shows the line twice or the message half-drawn.
        if let shownProgress {
            writeBytes(Array((eraseLine + visible(line) + "\n" + shownProgress).utf8))
        } else {
            writeBytes(Array((visible(line) + "\n").utf8))
        }
    }

    private static func writeBytes(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }

    /// One JSON object per line, the time first.
    static func writeJSON(_ fields: [(String, String)]) {
        let time = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        let object = JSONValue.object([(key: "ts", value: .string(time))] + fields.map { (key: $0.0, value: .string($0.1)) })
        write(object.jsonText)
    }

    static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// Columns of the terminal on stderr, when it says.
    static var terminalWidth: Int? {
        var size = winsize()
        guard ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }
}
