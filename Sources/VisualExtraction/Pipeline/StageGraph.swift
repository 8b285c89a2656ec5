/// The stages of a pipeline as the job store and the exporter need them: names, what each needs,
/// and which stage holds the description, the statements, the hint and the answers. Derived from
/// the definition alone, so a store's stored pipeline gives the same graph as the file did.
public struct StageGraph: Sendable, Equatable {
    public struct Node: Sendable, Equatable {
        public let name: String
        public let needs: [String]

        public init(name: String, needs: [String] = []) {
            self.name = name
            self.needs = needs
        }
    }

    /// In pipeline order: every stage comes after the stages it needs.
    public let stages: [Node]
    /// The stage whose output is the training target: the one the export names, else the last.
    public let descriptionStage: String
    /// The stage whose output holds the declarative statements: the one the export names, else the
    /// first with `output: statements`.
    public let statementsStage: String?
    /// The stage whose output is the Extract+Think question hint, if the export names one.
    public let hintStage: String?
    /// The first stage with `output: answers` (the audit's answerability check), if any.
    public let answersStage: String?

    public init(_ definition: PipelineDefinition) {
        stages = definition.stages.map { Node(name: $0.name, needs: $0.needs ?? []) }
        descriptionStage = definition.export.descriptionStage ?? definition.stages.last?.name ?? ""
        statementsStage = definition.export.statementsStage ?? definition.stages.first { $0.output == .statements }?.name
        hintStage = definition.export.hintStage
        answersStage = definition.stages.first { $0.output == .answers }?.name
    }

    /// The description stage and every stage it needs, directly or not: what the corpus cannot
    /// do without. The rest (a hint, an answerability check) is optional.
    public var requiredStages: Set<String> {
        var required: Set<String> = [descriptionStage]
        for node in stages.reversed() where required.contains(node.name) { required.formUnion(node.needs) }
        return required
    }

    /// The order a run claims ready work in: required stages before optional ones, so that an
    /// optional stage never holds back the first descriptions; within each, later stages first, so
    /// that records finish one by one and memory stays flat.
    public var claimOrder: [Node] {
        let required = requiredStages
        return stages.reversed().filter { required.contains($0.name) } + stages.reversed().filter { !required.contains($0.name) }
    }

    public func stage(named name: String) -> Node? {
        stages.first { $0.name == name }
    }

    /// Stages that list `name` among their needs.
    public func dependents(of name: String) -> [Node] {
        stages.filter { $0.needs.contains(name) }
    }
}
