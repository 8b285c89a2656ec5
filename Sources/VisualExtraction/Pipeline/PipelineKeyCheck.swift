import Yams

/// Checks a pipeline file's keys before it is decoded: a misspelled optional key (`rule: true`,
/// `jpeg_qualty`, `hint_stag`) would otherwise be ignored without a word and change what a
/// 665k-record run does. Every key the file uses must be one vxt reads, at the place it reads it.
enum PipelineKeyCheck {
    /// Keys allowed in one mapping, and the shape of each key's value.
    indirect enum Shape: Sendable {
        case mapping([String: Shape])
        case list(Shape)
        /// A mapping whose keys are the user's (header names, model names), with values of one shape.
        case dictionary(Shape)
        case value
    }

    static func keys<K: CodingKey & CaseIterable>(_ type: K.Type, _ nested: [String: Shape] = [:]) -> [String: Shape] {
        var out: [String: Shape] = [:]
        for key in K.allCases { out[key.stringValue] = nested[key.stringValue] ?? .value }
        return out
    }

    static let endpoints: Shape = .list(.mapping(keys(EndpointSettings.CodingKeys.self, ["headers": .dictionary(.value)])))

    static let pipeline: Shape = .mapping([
        "name": .value, "description": .value,
        "teacher": .mapping(
            keys(
                TeacherSettings.CodingKeys.self,
                [
                    "endpoints": endpoints,
                    "prices": .dictionary(.mapping(keys(TokenPrice.CodingKeys.self)))
                ])),
        "image": .mapping(keys(ImageSettings.CodingKeys.self)),
        "stages": .list(
            .mapping(
                keys(
                    PipelineDefinition.StageDefinition.CodingKeys.self,
                    ["teacher": .mapping(keys(PipelineDefinition.StageTeacher.CodingKeys.self, ["endpoints": endpoints]))]))),
        "export": .mapping(keys(PipelineDefinition.ExportSettings.CodingKeys.self))
    ])

    struct Problem: Error, CustomStringConvertible {
        let line: Int?
        let message: String
        var description: String { (line.map { "line \($0): " } ?? "") + message }
    }

    /// The first unknown key, with its line and the known key it most resembles.
    static func check(_ yaml: String) throws -> Problem? {
        guard let node = try Yams.compose(yaml: yaml) else { return nil }
        return check(node, against: pipeline, at: "")
    }

    static func check(_ node: Node, against shape: Shape, at path: String) -> Problem? {
        switch (shape, node) {
        case let (.mapping(allowed), .mapping(mapping)):
            for (keyNode, value) in mapping {
                guard let key = keyNode.scalar?.string else { continue }
                let here = path.isEmpty ? key : "\(path).\(key)"
                guard let inner = allowed[key] else {
                    let place = path.isEmpty ? "at the top level" : "in \(path)"
                    var message = "unknown key `\(key)` \(place)"
                    if let guess = closest(key, among: Array(allowed.keys)) { message += "; did you mean `\(guess)`?" }
                    message += " Known keys there: \(allowed.keys.sorted().joined(separator: ", "))"
                    return Problem(line: keyNode.mark?.line, message: message)
                }
                if let problem = check(value, against: inner, at: here) { return problem }
            }
        case let (.list(element), .sequence(sequence)):
            for (i, item) in sequence.enumerated() {
                if let problem = check(item, against: element, at: "\(path)[\(i)]") { return problem }
            }
        case let (.dictionary(value), .mapping(mapping)):
            for (keyNode, item) in mapping {
                if let problem = check(item, against: value, at: "\(path).\(keyNode.scalar?.string ?? "?")") { return problem }
            }
        default:
            // A value of the wrong shape is reported by decoding, with its line (`line(of:in:)`).
            break
        }
        return nil
    }

    /// The line of the value at a decoding path, for type errors.
    static func line(of codingPath: [any CodingKey], in yaml: String) -> Int? {
        guard var node = try? Yams.compose(yaml: yaml) else { return nil }
        var line = node.mark?.line
        for key in codingPath {
            if let index = key.intValue, let sequence = node.sequence, index < sequence.count {
                node = sequence[index]
            } else if let mapping = node.mapping, let entry = mapping.first(where: { $0.key.scalar?.string == key.stringValue }) {
                line = entry.key.mark?.line
                node = entry.value
                continue
            } else {
                break
            }
            line = node.mark?.line ?? line
        }
        return line
    }

    /// The known key within edit distance 2 (or sharing a long prefix), if one is that close.
    static func closest(_ key: String, among known: [String]) -> String? {
        let scored = known.map { ($0, distance(key, $0)) }.sorted { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        if let best = scored.first, best.1 <= max(2, key.count / 3) { return best.0 }
        return known.first { $0.hasPrefix(key) || key.hasPrefix($0) }
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where j <= b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
