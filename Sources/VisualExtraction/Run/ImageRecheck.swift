/// Looks again for the images of records that failed because an image was missing, and puts the
/// records whose images are there now back to work. A wrong `--images` must cost a rerun with the
/// right one, not a new work directory; images added later are picked up the same way.
public struct ImageRecheck {
    public let store: JobStore
    public let root: ImageRoot
    public let stages: [StageGraph.Node]

    public init(store: JobStore, root: ImageRoot, stages: [StageGraph.Node]) {
        self.store = store
        self.root = root
        self.stages = stages
    }

    public struct Outcome: Sendable, Equatable {
        /// Records that had a missing image.
        public var checked: Int
        /// Of those, records whose images all resolve now: back to work.
        public var found: Int
    }

    public func run() throws -> Outcome {
        let candidates = try store.recordsWithMissingImages()
        let found = candidates.filter { record in
            record.images.allSatisfy { path in (try? root.resolve(path)) != nil }
        }.map(\.key)
        try store.revive(recordKeys: found, stages: stages)
        return Outcome(checked: candidates.count, found: found.count)
    }
}
