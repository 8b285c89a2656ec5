/// One slice of a sharded run: records whose input position is `index` modulo `count`.
///
/// Round-robin by position is deterministic (the same file always gives the same slices),
/// balanced to within one record, and needs no pass over the file to plan.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public func contains(position: Int) -> Bool {
        position % count == index
    }

    public var description: String { "\(index)/\(count)" }

    /// `shard-0003-of-0016`: the stem of this shard's store and lock files in the work directory.
    public var fileStem: String {
        func pad(_ n: Int) -> String { String(repeating: "0", count: max(0, 4 - String(n).count)) + String(n) }
        return "shard-\(pad(index))-of-\(pad(count))"
    }

    public struct ParseError: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Parses `i/n` (0-based i).
    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else {
            throw ParseError(message: "--shard takes i/n with 0 <= i < n, e.g. 3/16; got \"\(text)\"")
        }
        self.init(index: i, count: n)
    }

    /// The shard a scheduler assigned through the environment: a Slurm job array
    /// (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`, `SLURM_ARRAY_TASK_MIN`) or a Kubernetes
    /// indexed job (`JOB_COMPLETION_INDEX` with `VXT_SHARD_COUNT` set to its completions).
    ///
    /// With `VXT_SHARD_COUNT` set, a Slurm task id is the shard's index as is: an array that
    /// reruns only some shards (`sbatch --array=1,3 --export=ALL,VXT_SHARD_COUNT=4`, the line
    /// `vxt merge` prints) is neither 0-based nor as long as the run.
    public static func fromEnvironment(_ env: [String: String]) throws(ParseError) -> Shard? {
        if let id = env["SLURM_ARRAY_TASK_ID"].flatMap(Int.init), let count = env["VXT_SHARD_COUNT"].flatMap(Int.init) {
            guard id >= 0, id < count else {
                throw ParseError(message: "SLURM_ARRAY_TASK_ID \(id) is not a shard of VXT_SHARD_COUNT=\(count) (0 to \(count - 1))")
            }
            return Shard(index: id, count: count)
        }
        if let id = env["SLURM_ARRAY_TASK_ID"].flatMap(Int.init), let count = env["SLURM_ARRAY_TASK_COUNT"].flatMap(Int.init) {
            let index = id - (env["SLURM_ARRAY_TASK_MIN"].flatMap(Int.init) ?? 0)
            guard index >= 0, index < count else {
                throw ParseError(message: "SLURM_ARRAY_TASK_ID \(id) is outside an array of \(count) tasks; use --array=0-\(count - 1)")
            }
            return Shard(index: index, count: count)
        }
        if let index = env["JOB_COMPLETION_INDEX"].flatMap(Int.init) {
            guard let count = (env["VXT_SHARD_COUNT"] ?? env["JOB_COMPLETIONS"]).flatMap(Int.init) else {
                throw ParseError(message: "JOB_COMPLETION_INDEX is set but not VXT_SHARD_COUNT; set it to the job's completions")
            }
            guard index >= 0, index < count else {
                throw ParseError(message: "JOB_COMPLETION_INDEX \(index) is outside \(count) completions")
            }
            return Shard(index: index, count: count)
        }
        return nil
    }
}
