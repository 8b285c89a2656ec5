import ArgumentParser
import Foundation
import Logging

/// `--log-level` and `--log-format`, for the commands that do long work.
struct LogOptions: ParsableArguments {
    @Option(
        help:
            "Least severe log level shown on stderr: trace, debug (every failed attempt and task), info, notice, warning, error, critical.")
    var logLevel: LogLevel = .info

    @Option(help: "text for people; json for log collectors: every message, log entry and progress line on stderr is one JSON object.")
    var logFormat: LogFormat = .text

    /// Sets up swift-log and `Output` once, before anything logs.
    func bootstrap() {
        let level = logLevel.level
        let format = logFormat
        Output.format = format
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label, format: format, logLevel: level) }
    }

    /// The logger the library is given.
    func logger() -> Logger {
        var logger = Logger(label: "vxt")
        logger.logLevel = logLevel.level
        return logger
    }
}

enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text
    case json
}

struct LogLevel: ExpressibleByArgument {
    var level: Logger.Level

    static let info = LogLevel(level: .info)

    init(level: Logger.Level) { self.level = level }

    init?(argument: String) {
        guard let level = Logger.Level(rawValue: argument) else { return nil }
        self.level = level
    }

    var defaultValueDescription: String { level.rawValue }
    static var allValueStrings: [String] { Logger.Level.allCases.map(\.rawValue) }
}

/// Writes log entries to stderr, which is kept for people and log collectors (stdout carries data).
/// Text: `vxt: warning: message key=value ...`; JSON: one object per line with `ts`, `level`,
/// `label`, `message` and the metadata under its dotted keys (`record.key`, `endpoint.url`).
struct StderrLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(label: String, format: LogFormat, logLevel: Logger.Level) {
        self.label = label
        self.format = format
        self.logLevel = logLevel
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        switch format {
        case .text:
            let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            Output.write(([label + ":", event.level.rawValue + ":", event.message.description] + fields).joined(separator: " "))
        case .json:
            var object: [(String, String)] = [("level", event.level.rawValue), ("label", label), ("message", event.message.description)]
            object += all.sorted { $0.key < $1.key }.map { ($0.key, $0.value.description) }
            Output.writeJSON(object)
        }
    }
}
