import Foundation

/// Prepared images as files, for `image_transport: file`: a teacher that reads the same file
/// system gets a ~100-byte `file://` URL instead of a ~130 KB base64 body, which is what limits
/// one client feeding a large fleet (1,400 calls a second of inline images are ~1.5 Gbit/s).
///
/// Files are content-addressed (`<directory>/<first two hex digits>/<sha256 of the bytes>.jpg`),
/// so records sharing an image share its file, a resumed or repeated run rewrites nothing, and
/// the URL (part of the response-cache key) still changes whenever the pixels do. Each file is
/// written to a temporary name and renamed, so a server never reads half an image. An index by
/// source (`by-source/`: hash of the source bytes + image settings → file and sizes) lets records
/// that share a photo (COCO images serve several corpora) skip its decode, resize and encode.
public struct PreparedImageFiles: Sendable {
    public let directory: String

    /// - Parameter directory: made absolute, since servers resolve the URL on their side.
    public init(directory: String) {
        let url = URL(fileURLWithPath: directory).standardizedFileURL
        self.directory = url.path
    }

    private func publish(_ image: PreparedImage) throws(ImageError) -> PreparedImage {
        let hash = ContentHasher.sha256(image.bytes)
        let path = (directory as NSString).appendingPathComponent(
            "\(hash.prefix(2))/\(hash)" + PreparedImageFiles.fileExtension(image.mimeType))
        if !FileManager.default.fileExists(atPath: path) {
            do {
                try PreparedImageFiles.writeAtomically(image.bytes, to: path)
            } catch {
                throw .unreadable(
                    path: path, reason: "cannot write the prepared image (image_transport file, image_dir \(directory)): \(error)")
            }
        }
        var published = image
        published.fileURL = URL(fileURLWithPath: path).absoluteString
        published.bytes = []
        return published
    }

    /// Bumped when vxt's image preparation changes its output, so that old files are not reused.
    static let preparationVersion = "float-resampler-1"

    /// The source's prepared file when an earlier record prepared the same bytes with the same
    /// settings; else prepares and publishes it and records it in the index. Reading and hashing
    /// the source is all a repeated image costs.
    public func prepare(_ relativePath: String, with preparer: ImagePreparer) throws(ImageError) -> PreparedImage {
        let (path, source) = try preparer.source(relativePath)
        let sourceHash = ContentHasher.sha256(source)
        let settings = (try? PreparedImageFiles.canonical.encode(preparer.settings)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let key = ContentHasher.sha256(Array("\(sourceHash)\n\(settings)\n\(PreparedImageFiles.preparationVersion)".utf8))
        let indexPath = (directory as NSString).appendingPathComponent("by-source/\(key.prefix(2))/\(key).json")
        if let known = indexed(indexPath, sourceHash: sourceHash) { return known }
        let published = try publish(try preparer.prepare(bytes: source, path: path))
        // Only an optimisation: a failure to write the index costs a re-preparation later, nothing else.
        if let fileURL = published.fileURL {
            var fields: [(String, JSONValue)] = [
                ("file_url", .string(fileURL)), ("mime_type", .string(published.mimeType)),
                ("source_format", .string(published.sourceFormat.rawValue))
            ]
            let sizes: [(String, Int)] = [
                ("width", published.width), ("height", published.height),
                ("source_width", published.sourceWidth), ("source_height", published.sourceHeight)
            ]
            for (name, value) in sizes { fields.append((name, .number(String(value)))) }
            let entry = JSONValue.object(fields)
            try? PreparedImageFiles.writeAtomically(Array(entry.jsonText.utf8), to: indexPath)
        }
        return published
    }

    private func indexed(_ indexPath: String, sourceHash: String) -> PreparedImage? {
        guard let data = FileManager.default.contents(atPath: indexPath), let entry = try? JSONParser.parse([UInt8](data)),
            let fileURL = entry["file_url"]?.stringValue, let url = URL(string: fileURL), url.isFileURL,
            contains(url.path), FileManager.default.fileExists(atPath: url.path), let mimeType = entry["mime_type"]?.stringValue,
            let format = entry["source_format"]?.stringValue.flatMap(ImageFormat.init(rawValue:))
        else { return nil }
        func int(_ key: String) -> Int {
            if case let .number(n)? = entry[key] { return Int(n) ?? 0 }
            return 0
        }
        return PreparedImage(
            bytes: [], mimeType: mimeType, width: int("width"), height: int("height"), sourceWidth: int("source_width"),
            sourceHeight: int("source_height"), sourceFormat: format, sourceSHA256: sourceHash, fileURL: fileURL)
    }

    /// Whether `path` is a prepared image of this directory: an index entry is only a hint, and
    /// one edited to point elsewhere (`/etc/hostname`) must not send that file to the teacher.
    func contains(_ path: String) -> Bool {
        let resolved = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        let root = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        let name = (resolved as NSString).lastPathComponent
        return resolved.hasPrefix(root + "/") && !resolved.hasPrefix(root + "/by-source/")
            && name.count > 64 && name.prefix(64).allSatisfy(\.isHexDigit)
    }

    private static let canonical: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let temporary = path + ".\(getpid()).\(UInt64.random(in: 0...UInt64.max)).tmp"
        try Data(bytes).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw ImageError.unreadable(path: path, reason: "cannot rename into place: \(reason)")
        }
    }

    static func fileExtension(_ mimeType: String) -> String {
        switch mimeType {
        case "image/jpeg": return ".jpg"
        case "image/png": return ".png"
        case "image/webp": return ".webp"
        case "image/gif": return ".gif"
        default: return ".img"
        }
    }
}
