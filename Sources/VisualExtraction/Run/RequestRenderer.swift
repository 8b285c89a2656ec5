import Foundation
import Logging

/// The request a done task sent, rendered again for `vxt show`: the store does not keep it (see
/// `JobStore.commit`), because it is the first request the task's stage renders from what the
/// store does keep (the record, the stored pipeline, the upstream outputs) and from the images,
/// prepared as the run prepared them. The stage executor itself renders it, so it is the run's
/// code, not a copy: it is run with a teacher that answers nothing, and the request it asked is
/// the one it logged. A failed task's request is stored as sent and needs none of this.
public struct RequestRenderer: Sendable {
    let pipeline: Pipeline
    let preparer: ImagePreparer
    let imageFiles: PreparedImageFiles?

    /// A renderer for the work directory's store: its pipeline, images and image transport.
    public init(store: JobStore, workDirectory: String) throws {
        guard let configuration = try store.configuration() else { throw JobStore.StoreError.noStore(workDirectory: workDirectory) }
        let pipeline = try Pipeline(definition: try store.storedPipeline(), path: "the pipeline stored in \(workDirectory)")
        let batch = BatchJob(store: store, pipeline: pipeline, workDirectory: workDirectory, imageRoot: configuration.imageRoot)
        self.pipeline = pipeline
        preparer = batch.preparer
        imageFiles = batch.imageFiles
    }

    /// What rendering gave: the logged request (images as placeholders), none (the stage sends
    /// nothing, e.g. every statement came from a rule), or why it cannot be rendered now (an
    /// image that is no longer readable, a stage no longer in the pipeline).
    public enum Rendering: Sendable, Equatable {
        case request(String)
        case none
        case unavailable(String)
    }

    /// The first request `stage` of the record sends, as `vxt run` logged it.
    public func render(_ detail: RecordDetail, stage: String) async -> Rendering {
        guard let definition = pipeline.stage(named: stage) else { return .unavailable("stage \(stage) is not in the stored pipeline") }
        var upstream: [String: String] = [:]
        for need in definition.node.needs {
            guard let output = detail.tasks.first(where: { $0.stage == need && $0.state == .done })?.output else {
                return .unavailable("its upstream stage \(need) is not done")
            }
            upstream[need] = output
        }
        let task = ClaimedTask(taskID: 0, recordKey: detail.key, stage: stage, record: detail.record, upstream: upstream)
        let result = await Runner.perform(
            task, pipeline: pipeline, logger: .disabled,
            prepareImage: Runner.imagePreparation(preparer: preparer, imageFiles: imageFiles),
            send: { _ in .failure(TeacherFailure(message: RequestRenderer.notSent, status: nil, attempts: 0)) })
        if let request = result.request { return .request(request) }
        switch result.outcome {
        case .done: return .none
        case let .failed(reason, _): return .unavailable(reason)
        }
    }

    static let notSent = "rendered only, not sent"
}
