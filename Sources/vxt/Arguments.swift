public import ArgumentParser
public import MockTeacher
public import VisualExtraction

// Option values as types: parsed once, by swift-argument-parser, with the valid values in
// `--help` and in its error message, instead of strings checked by hand in each command.

extension ExportFormat: ExpressibleByArgument {}

extension MockResponder.StatementFault: ExpressibleByArgument {}

extension Shard: ExpressibleByArgument {
    public init?(argument: String) {
        guard let shard = try? Shard(parsing: argument) else { return nil }
        self = shard
    }

    public var defaultValueDescription: String { "\(index)/\(count)" }
}

/// A comma-separated list of failure kinds, as `--kind` takes them.
struct FailureKinds: ExpressibleByArgument {
    var kinds: [FailureKind]

    init?(argument: String) {
        guard let kinds = try? FailureKind.parseList(argument) else { return nil }
        self.kinds = kinds
    }

    static var allValueStrings: [String] { FailureKind.allCases.map(\.rawValue) }
}

/// A comma-separated list of the mock teacher's faults, as `--mock-faults` takes them.
struct MockFaultKinds: ExpressibleByArgument {
    var kinds: [MockFaults.Kind]

    static let all = MockFaultKinds(kinds: MockFaults.Kind.allCases)

    init(kinds: [MockFaults.Kind]) { self.kinds = kinds }

    init?(argument: String) {
        guard let kinds = try? MockFaults.parseKinds(argument) else { return nil }
        self.kinds = kinds
    }

    var defaultValueDescription: String { kinds.map(\.rawValue).joined(separator: ",") }
    static var allValueStrings: [String] { MockFaults.Kind.allCases.map(\.rawValue) }
}
