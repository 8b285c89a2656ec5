import Foundation
import Yams

/// A loaded, checked pipeline: its definition, compiled templates and a hash that changes
/// whenever anything that affects outputs changes (comments and spacing do not count).
public struct Pipeline: Sendable {
    public let definition: PipelineDefinition
    public let stages: [Stage]
    /// Stage names and needs, and which stage holds what: all the job store knows of a pipeline.
    public let graph: StageGraph
    public let hash: String
    /// Where it was loaded from, for messages.
    public let path: String

    public struct LoadError: Error, CustomStringConvertible {
        public let path: String
        public let message: String
        public var description: String { "pipeline \(path): \(message)" }
    }

    /// Loads a pipeline file, or a built-in pipeline by name ("paper", "clean") when no file of
    /// that name exists.
    public static func load(path: String) throws -> Pipeline {
        if !path.contains("/"), !FileManager.default.fileExists(atPath: path), let yaml = BuiltInPipelines.yaml(named: path) {
            return try parse(yaml: yaml, path: path)
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw LoadError(
                path: path,
                message: """
                    cannot read the file (\(error.localizedDescription)); pass a pipeline file, or a built-in pipeline by name: \
                    \(BuiltInPipelines.names.joined(separator: ", ")) (`vxt init --from paper` writes one to edit)
                    """)
        }
        return try parse(yaml: text, path: path)
    }

    public static func parse(yaml: String, path: String = "<string>") throws -> Pipeline {
        let definition: PipelineDefinition
        do {
            if let problem = try PipelineKeyCheck.check(yaml) { throw LoadError(path: path, message: problem.description) }
            definition = try YAMLDecoder().decode(PipelineDefinition.self, from: yaml)
        } catch let error as LoadError {
            throw error
        } catch let error as DecodingError {
            throw LoadError(path: path, message: describe(error, yaml: yaml))
        } catch {
            throw LoadError(path: path, message: "not valid YAML: \(error)")
        }
        return try Pipeline(definition: definition, path: path)
    }

    public init(definition: PipelineDefinition, path: String) throws {
        self.definition = definition
        self.path = path
        var stages: [Stage] = []
        var seen = Set<String>()
        for stageDefinition in definition.stages {
            let name = stageDefinition.name
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw LoadError(path: path, message: "stage name \"\(name)\" must be letters, digits, '_' or '-'")
            }
            guard seen.insert(name).inserted else { throw LoadError(path: path, message: "two stages are named \"\(name)\"") }
            for need in stageDefinition.needs ?? [] where !seen.contains(need) {
                throw LoadError(path: path, message: "stage \"\(name)\" needs \"\(need)\", which is not an earlier stage")
            }
            let template: PromptTemplate
            do {
                template = try PromptTemplate(stageDefinition.template)
            } catch {
                throw LoadError(path: path, message: "stage \"\(name)\" template: \(error.message)")
            }
            let known: Set<String> = [
                "pairs", "count", "many", "id", "number", "question", "answer", "clean_question", "clean_answer", "context"
            ]
            let unknown = template.variables.subtracting(known).subtracting(stageDefinition.needs ?? [])
            if let first = unknown.sorted().first {
                throw LoadError(
                    path: path,
                    message:
                        "stage \"\(name)\" template uses {{\(first)}}; known names are \(known.sorted().joined(separator: ", ")) and the stages it needs"
                )
            }
            var correction: PromptTemplate?
            if let text = stageDefinition.countCorrection {
                do {
                    correction = try PromptTemplate(text)
                } catch {
                    throw LoadError(path: path, message: "stage \"\(name)\" count_correction: \(error.message)")
                }
            }
            stages.append(Stage(definition: stageDefinition, template: template, countCorrection: correction))
        }
        guard !stages.isEmpty else { throw LoadError(path: path, message: "no stages") }
        for named in [definition.export.descriptionStage, definition.export.statementsStage, definition.export.hintStage].compactMap({ $0 })
        where !seen.contains(named) {
            throw LoadError(path: path, message: "export names stage \"\(named)\", which the pipeline does not have")
        }
        do {
            let instruction = try PromptTemplate(definition.export.instruction)
            if let other = instruction.variables.subtracting(["hint"]).sorted().first {
                throw LoadError(path: path, message: "export instruction uses {{\(other)}}; only {{hint}} is available there")
            }
        } catch let error as PromptTemplate.SyntaxError {
            throw LoadError(path: path, message: "export instruction: \(error.message)")
        }
        if definition.image.mode == .exact && (definition.image.width ?? 0 <= 0 || definition.image.height ?? 0 <= 0) {
            throw LoadError(path: path, message: "image mode exact needs width and height")
        }
        if definition.image.mode == .maxSide && (definition.image.maxSide ?? 0) <= 0 {
            throw LoadError(path: path, message: "image mode max-side needs max_side")
        }
        for (key, value) in [
            ("timeout_seconds", definition.teacher.timeoutSeconds), ("connect_timeout_seconds", definition.teacher.connectTimeoutSeconds),
            ("retry_window_seconds", definition.teacher.retryWindowSeconds)
        ] {
            // 0 would reach libcurl as "no timeout at all".
            if let value, !(value >= 0.001) {
                throw LoadError(path: path, message: "teacher.\(key) is a number of seconds greater than 0 (got \(value))")
            }
        }
        let extraBodies =
            [("teacher.extra_body", definition.teacher.extraBody)]
            + definition.stages.map { ("stage \($0.name): teacher.extra_body", $0.teacher?.extraBody) }
        for case let (place, body?) in extraBodies {
            if let own = body.keys.sorted().first(where: TeacherSettings.ownBodyFields.contains) {
                throw LoadError(
                    path: path,
                    message: "\(place) sets `\(own)`, which vxt writes itself (model and temperature under teacher, max_tokens per stage)")
            }
        }
        if let attempts = definition.teacher.maxAttempts, attempts < 1 {
            throw LoadError(path: path, message: "teacher.max_attempts is at least 1 (got \(attempts))")
        }
        self.stages = stages
        graph = StageGraph(definition)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Where the teacher runs, what it costs and how images travel to it do not change outputs:
        // none is hashed, so a run resumes on a different fleet.
        var hashed = definition
        hashed.teacher.endpoints = nil
        hashed.teacher.prices = nil
        hashed.teacher.retryWindowSeconds = nil
        hashed.teacher.imageTransport = nil
        hashed.teacher.imageDirectory = nil
        for i in hashed.stages.indices { hashed.stages[i].teacher?.endpoints = nil }
        let canonical = (try? encoder.encode(hashed)) ?? Data()
        self.hash = canonical.withUnsafeBytes { ContentHasher.sha256($0) }
    }

    /// The model a stage asks for: its own teacher's, else the pipeline's.
    public func model(forStage name: String) -> String {
        stage(named: name)?.definition.teacher?.model ?? definition.teacher.model
    }

    /// The fields a stage adds to each request body, sorted by name: its own teacher's
    /// `extra_body`, else the pipeline's.
    public func extraBody(forStage name: String) -> [(key: String, value: JSONValue)] {
        TeacherSettings.bodyFields(stage(named: name)?.definition.teacher?.extraBody ?? definition.teacher.extraBody)
    }

    public func stage(named name: String) -> Stage? {
        stages.first { $0.name == name }
    }

    /// The stage whose output is the training target.
    public var descriptionStage: Stage {
        stage(named: graph.descriptionStage) ?? stages[stages.count - 1]
    }

    /// The stage whose output holds the declarative statements, if any.
    public var statementsStage: Stage? {
        graph.statementsStage.flatMap(stage(named:))
    }

    /// A decoding error in plain words, with the line of the value it is about.
    static func describe(_ error: DecodingError, yaml: String) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let joined = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                .replacingOccurrences(of: ".[", with: "[")
            return joined.isEmpty ? "the top level" : "`\(joined)`"
        }
        func at(_ context: DecodingError.Context) -> String {
            PipelineKeyCheck.line(of: context.codingPath, in: yaml).map { "line \($0): " } ?? ""
        }
        switch error {
        case let .keyNotFound(key, context):
            return "\(at(context))\(path(context)) needs `\(key.stringValue)`"
        case let .typeMismatch(type, context):
            return "\(at(context))\(path(context)) should be \(plainType(type))"
        case let .dataCorrupted(context):
            return "\(at(context))\(path(context)): \(context.debugDescription)"
        case let .valueNotFound(type, context):
            return "\(at(context))\(path(context)) has no value; it should be \(plainType(type))"
        @unknown default:
            return "\(error)"
        }
    }

    static func plainType(_ type: Any.Type) -> String {
        let name = String(describing: type)
        if name.hasPrefix("Array") || name.hasPrefix("[") && !name.contains(":") { return "a list (lines starting with '- ')" }
        if name.hasPrefix("Dictionary") || name.contains(":") { return "a mapping (key: value lines)" }
        if name.contains("Int") { return "a whole number" }
        if name.contains("Double") || name.contains("Float") { return "a number" }
        if name.contains("Bool") { return "true or false" }
        if name.contains("String") { return "text" }
        return "a mapping (key: value lines)"
    }
}

/// One step of a pipeline: a prompt template, whether the image goes along, and the kind of
/// output its executor reads from the answer.
public struct Stage: Sendable {
    public let definition: PipelineDefinition.StageDefinition
    public let template: PromptTemplate
    /// Set for statement stages that re-ask when the count is wrong.
    public let countCorrection: PromptTemplate?
    /// Whether the template (or its count correction) reads values that need the questions parsed;
    /// decided once, since prompts are rendered for every task.
    let usesCleanValues: Bool

    public init(definition: PipelineDefinition.StageDefinition, template: PromptTemplate, countCorrection: PromptTemplate? = nil) {
        self.definition = definition
        self.template = template
        self.countCorrection = countCorrection
        usesCleanValues =
            !template.variables.isDisjoint(with: PromptContext.cleanNames)
            || !(countCorrection?.variables.isDisjoint(with: PromptContext.cleanNames) ?? true)
    }

    public var name: String { definition.name }
    public var needs: [String] { definition.needs ?? [] }
    public var sendsImage: Bool { definition.image ?? false }
    /// The stage as the job store sees it: its name and needs.
    public var node: StageGraph.Node { StageGraph.Node(name: name, needs: needs) }

    /// The exact prompt text for a record, given the outputs of the stages it needs.
    public func prompt(for record: CorpusRecord, upstream: [String: String]) throws -> String {
        try template.render(PromptContext.values(for: record, upstream: upstream, clean: usesCleanValues))
    }
}
