/// The template language of pipeline files, small enough to reason about byte for byte:
///
/// - `{{name}}` inserts a text value;
/// - `{{#each list}}...{{/each}}` repeats its body for each item, whose fields shadow outer names;
/// - `{{#if name}}...{{/if}}` keeps its body when the value is true (or a non-empty text or list).
///
/// Everything else is literal text, including newlines, so a template written as a YAML `|-`
/// block renders exactly the bytes it shows.
public struct PromptTemplate: Sendable, Equatable {
    indirect enum Node: Sendable, Equatable {
        case text(String)
        case variable(String)
        case each(String, [Node])
        case when(String, [Node])
    }

    let nodes: [Node]
    public let source: String

    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public init(_ source: String) throws(SyntaxError) {
        self.source = source
        var tokens = PromptTemplate.tokenize(source)[...]
        let (nodes, closing) = try PromptTemplate.parse(&tokens, until: nil)
        if let closing { throw SyntaxError(message: "unexpected {{/\(closing)}} in template") }
        self.nodes = nodes
    }

    /// Names the template reads, so a pipeline can be checked before any record is seen.
    public var variables: Set<String> {
        var out = Set<String>()
        func visit(_ nodes: [Node]) {
            for node in nodes {
                switch node {
                case .text: break
                case let .variable(name): out.insert(name)
                case let .each(name, body), let .when(name, body):
                    out.insert(name)
                    visit(body)
                }
            }
        }
        visit(nodes)
        return out
    }

    private enum Token {
        case text(String)
        case tag(String)
    }

    private static func tokenize(_ source: String) -> [Token] {
        var tokens: [Token] = []
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { tokens.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                tokens.append(.text(String(rest[open.lowerBound...])))
                return tokens
            }
            tokens.append(.tag(String(rest[open.upperBound..<close.lowerBound]).trimmed))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { tokens.append(.text(String(rest))) }
        return tokens
    }

    private static func parse(_ tokens: inout ArraySlice<Token>, until block: String?) throws(SyntaxError) -> ([Node], String?) {
        var nodes: [Node] = []
        while let token = tokens.popFirst() {
            switch token {
            case let .text(text):
                nodes.append(.text(text))
            case let .tag(tag):
                if tag.hasPrefix("/") {
                    let name = String(tag.dropFirst())
                    guard name == block else {
                        throw SyntaxError(message: "{{/\(name)}} closes nothing open" + (block.map { " (open: {{#\($0)}})" } ?? ""))
                    }
                    return (nodes, name)
                }
                if tag.hasPrefix("#") {
                    let parts = tag.dropFirst().split(separator: " ", maxSplits: 1).map(String.init)
                    guard parts.count == 2, parts[0] == "each" || parts[0] == "if" else {
                        throw SyntaxError(message: "unknown block {{\(tag)}}; use {{#each list}} or {{#if name}}")
                    }
                    let (body, closing) = try parse(&tokens, until: parts[0])
                    guard closing == parts[0] else { throw SyntaxError(message: "{{#\(parts[0]) \(parts[1])}} is never closed") }
                    nodes.append(parts[0] == "each" ? .each(parts[1].trimmed, body) : .when(parts[1].trimmed, body))
                    continue
                }
                guard !tag.isEmpty, !tag.contains(" ") else { throw SyntaxError(message: "bad tag {{\(tag)}}") }
                nodes.append(.variable(tag))
            }
        }
        if let block { throw SyntaxError(message: "{{#\(block) ...}} is never closed") }
        return (nodes, nil)
    }

    /// Values a template is rendered with.
    public enum Value: Sendable, Equatable {
        case text(String)
        case flag(Bool)
        case list([[String: Value]])
    }

    public struct RenderError: Error, Sendable, CustomStringConvertible {
        public let name: String
        public var description: String { "template uses {{\(name)}}, which this stage does not provide" }
    }

    public func render(_ context: [String: Value]) throws(RenderError) -> String {
        var out = ""
        try PromptTemplate.render(nodes, scopes: [context], into: &out)
        return out
    }

    private static func lookup(_ name: String, _ scopes: [[String: Value]]) -> Value? {
        for scope in scopes.reversed() {
            if let value = scope[name] { return value }
        }
        return nil
    }

    private static func render(_ nodes: [Node], scopes: [[String: Value]], into out: inout String) throws(RenderError) {
        for node in nodes {
            switch node {
            case let .text(text):
                out += text
            case let .variable(name):
                switch lookup(name, scopes) {
                case let .text(text)?: out += text
                case let .flag(flag)?: out += flag ? "true" : "false"
                case .list?, nil: throw RenderError(name: name)
                }
            case let .each(name, body):
                guard case let .list(items)? = lookup(name, scopes) else { throw RenderError(name: name) }
                for item in items {
                    try render(body, scopes: scopes + [item], into: &out)
                }
            case let .when(name, body):
                guard let value = lookup(name, scopes) else { throw RenderError(name: name) }
                let truthy: Bool
                switch value {
                case let .flag(flag): truthy = flag
                case let .text(text): truthy = !text.isEmpty
                case let .list(items): truthy = !items.isEmpty
                }
                if truthy { try render(body, scopes: scopes, into: &out) }
            }
        }
    }
}
