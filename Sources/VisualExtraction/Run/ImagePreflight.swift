import Foundation

/// Checks, before anything is ingested or sent, that `--images` is the folder the records'
/// image paths are relative to, and that the input's records are ones vxt can read. A wrong
/// folder or an unknown layout otherwise fails every record one by one, after the whole file
/// was ingested.
public struct ImagePreflight {
    public let inputPath: String
    public let imagesRoot: String
    public let followSymlinks: Bool
    /// How many records with an image are looked at (from the start of the input).
    public var sampleSize = 1000
    /// How many unusable records, with not one usable before them, show that vxt cannot read
    /// the input's layout. Fewer fail one by one at the run's pace, each with its reason.
    public var unusableLimit = 20

    public init(inputPath: String, imagesRoot: String, followSymlinks: Bool = false) {
        self.inputPath = inputPath
        self.imagesRoot = imagesRoot
        self.followSymlinks = followSymlinks
    }

    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public struct Report: Sendable, Equatable {
        /// Records with an image among those looked at.
        public var sampled: Int
        /// Of those, records whose images all resolve under `--images`.
        public var resolved: Int
    }

    private struct Enough: Error {}

    public func run() throws(Failure) -> Report {
        var isDirectory: ObjCBool = false
        let absolute = ExtractionJob.absolute(imagesRoot)
        guard FileManager.default.fileExists(atPath: imagesRoot, isDirectory: &isDirectory) else {
            throw Failure(message: "--images \(imagesRoot) does not exist; pass the folder the records' image paths are relative to")
        }
        guard isDirectory.boolValue else {
            throw Failure(
                message: "--images \(imagesRoot) is a file, not a folder; pass the folder the records' image paths are relative to")
        }
        let root = ImageRoot(path: imagesRoot, followSymlinks: followSymlinks)
        var sampled = 0
        var refusal: String?
        var resolved = 0
        var misses: [String] = []
        var usable = 0
        var unusable: [RecordProblem] = []
        do {
            _ = try RecordSplitter(path: inputPath).forEach { event in
                let raw: RawRecord
                switch event {
                case let .record(record): raw = record
                case let .problem(problem):
                    if usable == 0 {
                        unusable.append(
                            RecordProblem(
                                position: problem.index, byteOffset: problem.byteOffset, line: problem.line, recordID: nil,
                                reason: problem.reason))
                        if unusable.count >= unusableLimit { throw Enough() }
                    }
                    return
                }
                let record: CorpusRecord
                switch LLaVARecordDecoder.decode(raw) {
                case let .success(decoded):
                    usable += 1
                    record = decoded
                case let .failure(problem):
                    if usable == 0 {
                        unusable.append(problem)
                        if unusable.count >= unusableLimit { throw Enough() }
                    }
                    return
                }
                guard record.skipReason == nil, !record.images.isEmpty else { return }
                sampled += 1
                if record.images.allSatisfy({ (try? root.resolve($0)) != nil }) {
                    resolved += 1
                } else if misses.count < 3, let path = record.images.first(where: { (try? root.resolve($0)) == nil }),
                    !misses.contains(path)
                {
                    misses.append(path)
                    do throws(ImageError) { _ = try root.resolve(path) } catch {
                        if case .outsideRoot = error, refusal == nil { refusal = error.description }
                    }
                }
                if sampled >= sampleSize { throw Enough() }
            }
        } catch is Enough {
        } catch {
            // Reading the input fails again, with its own message, when the run ingests it.
            return Report(sampled: sampled, resolved: resolved)
        }
        // The whole file as one object wrapping its records: nothing in it can be read as it is.
        if usable == 0, let first = unusable.first, first.position == 0, first.reason.contains(WrappedRecords.marker) {
            throw Failure(
                message: """
                    \(inputPath) is one object, not a list of records: \(first.reason). Nothing was ingested or sent.
                    """)
        }
        if usable == 0 && unusable.count >= unusableLimit {
            let examples = unusable.prefix(3).map { "  \($0.description)" }.joined(separator: "\n")
            throw Failure(
                message: """
                    none of the first \(unusable.count) records of \(inputPath) can be used, for example:
                    \(examples)
                    vxt reads LLaVA's `conversations` of {"from", "value"} turns and `messages` of {"role", "content"} turns \
                    (content a string or a list of text and image parts) or alpaca's `instruction` and `output`, with `image` or \
                    `images` paths. \
                    Nothing was ingested or sent. `vxt inspect \(inputPath)` lists every unusable record.
                    """)
        }
        guard sampled > 0, resolved == 0 else { return Report(sampled: sampled, resolved: resolved) }
        if let url = misses.first(where: ImageError.isRemote) {
            throw Failure(
                message: """
                    none of the first \(sampled) records with an image finds it; the first: \(ImageError.remote(path: url)). \
                    Nothing was ingested or sent.
                    """)
        }
        let tried = misses.map { "  \($0.hasPrefix("/") ? $0 : (absolute as NSString).appendingPathComponent($0))" }
            .joined(separator: "\n")
        throw Failure(
            message: """
                none of the first \(sampled) records with an image finds it under --images \(imagesRoot); paths tried:
                \(tried)
                \(refusal.map { "\($0)\n" } ?? "")\(hint(misses))Nothing was ingested or sent. Pass the folder the records' `image` paths are relative to.
                """)
    }

    /// Where the paths would resolve instead: one folder up or in a subfolder up to two levels
    /// down, or, without their first folders, under one of those.
    func hint(_ misses: [String]) -> String {
        guard let example = misses.first else { return "" }
        // A corpus written on Windows: `coco\\train2017\\x.jpg` names one file called that here.
        if example.contains("\\") {
            let forward = example.replacingOccurrences(of: "\\", with: "/")
            let rewrite = """
                The paths use Windows separators (\\), which name no folder here; rewrite them with / \
                (a JSON file holds each as \\\\: e.g. `sed 's#\\\\\\\\#/#g'` on it)
                """
            if (try? ImageRoot(path: ExtractionJob.absolute(imagesRoot)).resolve(forward)) != nil {
                return "\(rewrite): then \(forward) is found under --images\n"
            }
            let found = hint([forward])
            if !found.isEmpty { return "\(rewrite). Then: \(found)" }
        }
        if example.hasPrefix("/") {
            // Absolute paths are read inside --images: the folder that holds them all will do.
            let folders = misses.filter { $0.hasPrefix("/") }.map { ($0 as NSString).deletingLastPathComponent.split(separator: "/") }
            var common = folders[0]
            for folder in folders.dropFirst() {
                common = Array(zip(common, folder).prefix { $0.0 == $0.1 }.map(\.0))
            }
            let holder = "/" + common.joined(separator: "/")
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: holder, isDirectory: &isDirectory), isDirectory.boolValue else { return "" }
            return "The records name absolute paths, read when they lie inside --images: try --images \(holder) (or a folder above it)\n"
        }
        let root = ExtractionJob.absolute(imagesRoot)
        // Folders where the paths might resolve: one up, --images itself, and two levels down.
        // Read lazily and only so far: a folder of a corpus' images holds 100,000s of files.
        func subfolders(of folder: String, limit: Int) -> [String] {
            guard
                let entries = FileManager.default.enumerator(
                    at: URL(fileURLWithPath: folder), includingPropertiesForKeys: [.isDirectoryKey],
                    options: [.skipsSubdirectoryDescendants, .skipsHiddenFiles])
            else { return [] }
            var found: [String] = []
            var read = 0
            while read < 5000, found.count < limit, let entry = entries.nextObject() as? URL {
                read += 1
                if (try? entry.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true { found.append(entry.path) }
            }
            return found.sorted()
        }
        let children = subfolders(of: root, limit: 200)
        var grandchildren: [String] = []
        for child in children where grandchildren.count < 1000 { grandchildren += subfolders(of: child, limit: 200) }
        let candidates = [(root as NSString).deletingLastPathComponent, root] + children + grandchildren.prefix(1000)
        for candidate in candidates where candidate != root && (try? ImageRoot(path: candidate).resolve(example)) != nil {
            return "They resolve under \(candidate): try --images \(candidate)\n"
        }
        // The paths' first folders may be ones the files were never under (`images/x.jpg` for a
        // download that made `fetched/x.jpg`): no --images works, a folder of one link does.
        let parts = example.split(separator: "/")
        for dropped in 1..<min(3, parts.count) {
            let prefix = parts.prefix(dropped).joined(separator: "/")
            let tail = parts.dropFirst(dropped).joined(separator: "/")
            for candidate in candidates where (try? ImageRoot(path: candidate).resolve(tail)) != nil {
                let parent = (prefix as NSString).deletingLastPathComponent
                return """
                    They are there without the paths' first folder\(dropped > 1 ? "s" : "") \(prefix)/: \(example) is \
                    \((candidate as NSString).appendingPathComponent(tail)). Make a folder where the paths resolve, \
                    `mkdir -p vxt-images\(parent.isEmpty ? "" : "/" + parent) && ln -s \(candidate) vxt-images/\(prefix)`, and pass \
                    --images vxt-images --follow-symlinks

                    """
            }
        }
        return ""
    }
}
