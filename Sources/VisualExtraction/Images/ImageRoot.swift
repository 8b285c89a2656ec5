import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `--images` folder. Record paths are resolved inside it and nowhere else: corpora are
/// downloaded from strangers, and `../../etc/passwd` or a symlink out must not be read. A
/// symlink out is followed only when asked (`--follow-symlinks`): LLaVA setups link `coco/`,
/// `gqa/`… from a shared data disk. An absolute path is read when it lies inside the folder
/// (corpora written on the machine that holds the images name them so); `..` is refused.
public struct ImageRoot: Sendable {
    public let path: String
    /// Whether a symlink inside the folder may lead out of it.
    public let followSymlinks: Bool
    /// The root with symlinks resolved, to compare resolved image paths against.
    let resolvedRoot: String
    /// The root as an absolute path, as given (symlinks kept), for absolute record paths.
    let absoluteRoot: String
    /// Folders already resolved, shared by copies of this root.
    private let folders = ResolvedFolders()

    public init(path: String, followSymlinks: Bool = false) {
        self.path = path
        self.followSymlinks = followSymlinks
        resolvedRoot = ImageRoot.realPath(path) ?? path
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        absoluteRoot = (absolute as NSString).standardizingPath
    }

    /// An absolute record path as a path inside the root, or nil when it lies elsewhere.
    func insideRoot(_ absolute: String) -> String? {
        for root in [absoluteRoot, resolvedRoot] {
            if root == "/" { return String(absolute.drop { $0 == "/" }) }
            let prefix = root.hasSuffix("/") ? root : root + "/"
            if absolute.hasPrefix(prefix) { return String(absolute.dropFirst(prefix.count).drop { $0 == "/" }) }
        }
        return nil
    }

    /// The file a record's image path names, or why it may not be read.
    public func resolve(_ relative: String) throws(ImageError) -> String {
        if ImageError.isRemote(relative) { throw .remote(path: relative) }
        if relative.hasPrefix("/") {
            guard let inside = insideRoot(relative), !inside.isEmpty else {
                throw .outsideRoot(
                    path: relative,
                    reason: "the absolute path lies outside --images \(path); pass --images with a folder that holds the images")
            }
            do {
                return try resolve(inside)
            } catch {
                // Named as the record names it.
                if case .notFound = error { throw .notFound(path: relative) }
                throw error
            }
        }
        if relative.split(separator: "/").contains("..") {
            throw .outsideRoot(path: relative, reason: "the path climbs out of --images with '..'")
        }
        let joined = path.hasSuffix("/") ? path + relative : path + "/" + relative
        guard let real = resolvedFile(joined) else {
            throw .notFound(path: joined)
        }
        if real == resolvedRoot {
            throw .unreadable(path: relative, reason: "the path names the --images folder itself, not an image file")
        }
        let prefix = resolvedRoot.hasSuffix("/") ? resolvedRoot : resolvedRoot + "/"
        guard real.hasPrefix(prefix) || followSymlinks else {
            throw .outsideRoot(
                path: relative,
                reason: "it is a symlink to \(real), outside --images; pass --follow-symlinks to follow links to other folders")
        }
        return real
    }

    /// What `realpath` gives for `path`, with its folder resolved once: `realpath` reads each
    /// component's link (six system calls for `coco/train2017/x.jpg` under `/data/llava`), and a
    /// corpus names 665k files in a few folders. A file that is itself a symlink is resolved whole.
    private func resolvedFile(_ path: String) -> String? {
        guard let slash = path.lastIndex(of: "/") else { return ImageRoot.realPath(path) }
        let name = path[path.index(after: slash)...]
        guard !name.isEmpty, name != ".", name != ".." else { return ImageRoot.realPath(path) }
        let folder = slash == path.startIndex ? "/" : String(path[..<slash])
        guard let realFolder = folders.resolve(folder) else { return nil }
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        if info.st_mode & S_IFMT == S_IFLNK { return ImageRoot.realPath(path) }
        return realFolder == "/" ? "/\(name)" : "\(realFolder)/\(name)"
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Folders resolved by `realpath`, for the life of an `ImageRoot` (one command) and its copies.
private final class ResolvedFolders: @unchecked Sendable {
    private let lock = NSLock()
    private var resolved: [String: String] = [:]
    /// Enough for any real corpus's folders; a corpus with a folder per image resolves the rest each time.
    private let capacity = 100_000

    func resolve(_ folder: String) -> String? {
        if let known = lock.withLock({ resolved[folder] }) { return known }
        guard let real = ImageRoot.realPath(folder) else { return nil }
        lock.withLock {
            if resolved.count < capacity { resolved[folder] = real }
        }
        return real
    }
}

/// Why an image could not be used. Each case fails its record, never the run.
public enum ImageError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(path: String)
    case outsideRoot(path: String, reason: String)
    case unreadable(path: String, reason: String)
    case empty(path: String)
    case unsupported(path: String, format: String)
    case corrupt(path: String, reason: String)
    case tooLarge(path: String, width: Int, height: Int, limit: Int)
    /// The file is larger than any image vxt reads (`ImagePreparer.largestFile`).
    case fileTooLarge(path: String, bytes: Int, limit: Int)
    /// A FIFO, device or socket: reading it could block forever or never end.
    case notRegularFile(path: String, kind: String)
    /// A URL (`https://…`, `s3://…`) or inline data where a file path belongs: vxt reads images
    /// from disk and never fetches one (a run would depend on a host it does not control).
    case remote(path: String)

    /// Whether a record's image path is a URL or a `data:` URI rather than a file path.
    /// On bytes: every image of every record passes here at ingest.
    static func isRemote(_ path: String) -> Bool {
        let bytes = path.utf8
        if bytes.starts(with: "data:".utf8) { return true }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon != bytes.startIndex,
            bytes[colon...].starts(with: "://".utf8)
        else { return false }
        return bytes[..<colon].allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "-"):
                return true
            default: return false
            }
        }
    }

    /// How `vxt status` groups it and whether a rerun checks it again.
    public var failureKind: FailureKind {
        switch self {
        case .notFound, .remote: return .imageMissing
        case .outsideRoot: return .imageRefused
        case .unreadable, .empty, .unsupported, .corrupt, .tooLarge, .fileTooLarge, .notRegularFile: return .imageUnreadable
        }
    }

    public var description: String {
        switch self {
        case let .notFound(path): return "image file not found: \(path) (check --images and the record's `image` path)"
        case let .remote(path) where path.hasPrefix("data:"):
            return """
                image \(path.prefix(40))… (\(path.utf8.count) bytes) is inline data, not a file: vxt reads images from disk; \
                write each to a file and put its path in the record
                """
        case let .remote(path):
            return """
                image \(path.prefix(200)) is a URL, not a file: vxt reads images from disk; download them first (e.g. \
                img2dataset), write the records' paths relative to that folder and pass it as --images
                """
        case let .outsideRoot(path, reason): return "image path \(path) refused: \(reason)"
        case let .unreadable(path, reason): return "cannot read image \(path): \(reason)"
        case let .empty(path): return "image file \(path) is empty (0 bytes)"
        case let .unsupported(path, format): return "image \(path) is \(format), which vxt cannot decode yet; convert it to JPEG or PNG"
        case let .corrupt(path, reason): return "image \(path) is corrupt: \(reason)"
        case let .tooLarge(path, width, height, limit):
            return "image \(path) is \(width)x\(height), more than the \(limit)-pixel limit (image.max_pixels)"
        case let .fileTooLarge(path, bytes, limit):
            return "image file \(path) is \(bytes) bytes, more than the \(limit) bytes an image may have; it was not read"
        case let .notRegularFile(path, kind):
            return "image \(path) is a \(kind), not a file; it was not read"
        }
    }
}
