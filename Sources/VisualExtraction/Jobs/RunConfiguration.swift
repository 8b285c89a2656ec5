/// What a work directory was created for. A resume must match it, or be refused: mixing two
/// pipelines or two inputs in one store would export a corpus nobody asked for.
public struct RunConfiguration: Sendable, Equatable {
    public var pipelineName: String
    public var pipelineHash: String
    /// The pipeline definition as canonical JSON, so `vxt show` and exports can cite it.
    public var pipelineJSON: String
    public var inputPath: String
    public var inputSize: Int64
    public var inputModified: Double
    public var inputSHA256: String?
    /// SHA-256 of the input's size, first MiB and last MiB, fixed before the first record is
    /// stored: a file replaced while ingest was incomplete (no full hash yet) is still told apart.
    public var inputProbe: String?
    public var imagesRoot: String
    public var teacherURL: String
    public var teacherModel: String
    public var vxtVersion: String
    public var createdAt: Double
    public var ingestComplete: Bool
    public var recordCount: Int
    public var problemCount: Int
    /// The slice of the input this store holds; nil for a whole (or merged) run.
    public var shard: Shard?
    /// Whether image symlinks that lead out of `imagesRoot` are followed (`--follow-symlinks`);
    /// audit thumbnails, retries and batch exports read images as the run did.
    public var followSymlinks = false

    /// The images folder as the run reads it.
    public var imageRoot: ImageRoot { ImageRoot(path: imagesRoot, followSymlinks: followSymlinks) }

    public init(
        pipelineName: String, pipelineHash: String, pipelineJSON: String, inputPath: String, inputSize: Int64,
        inputModified: Double, inputSHA256: String?, imagesRoot: String, teacherURL: String, teacherModel: String,
        vxtVersion: String, createdAt: Double, ingestComplete: Bool = false, recordCount: Int = 0, problemCount: Int = 0,
        shard: Shard? = nil, inputProbe: String? = nil
    ) {
        self.shard = shard
        self.inputProbe = inputProbe
        self.pipelineName = pipelineName
        self.pipelineHash = pipelineHash
        self.pipelineJSON = pipelineJSON
        self.inputPath = inputPath
        self.inputSize = inputSize
        self.inputModified = inputModified
        self.inputSHA256 = inputSHA256
        self.imagesRoot = imagesRoot
        self.teacherURL = teacherURL
        self.teacherModel = teacherModel
        self.vxtVersion = vxtVersion
        self.createdAt = createdAt
        self.ingestComplete = ingestComplete
        self.recordCount = recordCount
        self.problemCount = problemCount
    }
}

enum VXTVersion {
    public static let current = "0.1.0"
}
