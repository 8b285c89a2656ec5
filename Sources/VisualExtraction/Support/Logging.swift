public import Logging

extension Logger {
    /// Drops everything: the default of library types, so that using vxt as a library never
    /// prints unless the caller passes a logger (swift-log's own default writes to stdout).
    public static let disabled = Logger(label: "vxt", factory: { _ in SwiftLogNoOpLogHandler() })
}
