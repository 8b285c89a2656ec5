/// The pre-flight check of a corpus's images (`vxt images`): every image a record names is
/// resolved, read and decoded (JPEGs at 1/8 scale, which is enough to find corruption), so that
/// missing, corrupt, unsupported and oversized files are known before a teacher call is spent.
public struct ImageCheck: Sendable {
    public let root: ImageRoot
    public let maxPixels: Int

    public init(root: ImageRoot, maxPixels: Int) {
        self.root = root
        self.maxPixels = maxPixels
    }

    public struct Problem: Sendable, Codable, Equatable {
        public var record: String
        public var image: String
        public var reason: String
    }

    public struct Report: Sendable, Codable {
        public var records = 0
        public var recordsWithImages = 0
        public var images = 0
        public var ok = 0
        /// Count of readable images by real format (from magic bytes).
        public var formats: [String: Int] = [:]
        /// Images whose file extension names another format than their bytes.
        public var misnamed = 0
        public var missing: [Problem] = []
        public var outsideRoot: [Problem] = []
        public var corrupt: [Problem] = []
        public var unsupported: [Problem] = []
        public var oversized: [Problem] = []
        /// Records the check could not read at all (see `vxt run` for their reasons).
        public var unreadableRecords = 0
        public var problemCount: Int { missing.count + outsideRoot.count + corrupt.count + unsupported.count + oversized.count }
    }

    public func run(inputPath: String, progress: ((Int) -> Void)? = nil) throws -> Report {
        var report = Report()
        _ = try RecordSplitter(path: inputPath).forEach { event in
            report.records += 1
            guard case let .record(raw) = event, case let .success(record) = LLaVARecordDecoder.decode(raw) else {
                report.unreadableRecords += 1
                return
            }
            if !record.images.isEmpty { report.recordsWithImages += 1 }
            for path in record.images {
                report.images += 1
                check(path, record: record.displayID, into: &report)
                if report.images % 1000 == 0 { progress?(report.images) }
            }
        }
        return report
    }

    func check(_ path: String, record: String, into report: inout Report) {
        let problem = { (reason: String) in Problem(record: record, image: path, reason: reason) }
        let file: String
        do {
            file = try root.resolve(path)
        } catch {
            if case .outsideRoot = error {
                report.outsideRoot.append(problem(error.description))
            } else {
                report.missing.append(problem(error.description))
            }
            return
        }
        let bytes: [UInt8]
        do {
            bytes = try ImagePreparer.readFile(file)
        } catch {
            report.missing.append(problem(error.description))
            return
        }
        if bytes.isEmpty {
            report.corrupt.append(problem(ImageError.empty(path: file).description))
            return
        }
        let outcome = bytes.withUnsafeBytes { raw -> Result<ImageFormat, ImageError> in
            let format = ImageFormat(magic: raw)
            do throws(ImageError) {
                _ = try ImageCodec.decode(raw, format: format, path: file, minWidth: 1, minHeight: 1, maxPixels: maxPixels)
                return .success(format)
            } catch {
                return .failure(error)
            }
        }
        switch outcome {
        case let .success(format):
            report.ok += 1
            report.formats[format.rawValue, default: 0] += 1
            if !ImageCheck.extensionMatches(path, format) { report.misnamed += 1 }
        case let .failure(error):
            switch error {
            case .tooLarge: report.oversized.append(problem(error.description))
            case .unsupported: report.unsupported.append(problem(error.description))
            default: report.corrupt.append(problem(error.description))
            }
        }
    }

    static func extensionMatches(_ path: String, _ format: ImageFormat) -> Bool {
        guard let dot = path.lastIndex(of: ".") else { return true }
        let ext = path[path.index(after: dot)...].lowercased()
        switch format {
        case .jpeg: return ext == "jpg" || ext == "jpeg"
        case .png: return ext == "png"
        case .webp: return ext == "webp"
        case .gif: return ext == "gif"
        case .bmp: return ext == "bmp"
        case .unknown: return true
        }
    }
}
