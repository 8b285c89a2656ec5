import Foundation

/// Prepared images as files, for `image_transport: file`: a teacher that reads the same file
/// system gets a ~100-byte `file://` URL instead of a ~130 KB base64 body, which is what limits
/// one client feeding a large fleet (1,400 calls a second of inline images are ~1.5 Gbit/s).
///
/// Files are content-addressed (`<directory>/<first two hex digits>/<sha256 of the bytes>.jpg`),
/// so records sharing an image share its file, a resumed or repeated run rewrites nothing, and
/// the URL (part of the response-cache key) still changes whenever the pixels do. Each file is
/// written to a temporary name and renamed, so a server never reads half an image.
public struct PreparedImageFiles: Sendable {
    public let directory: String

    /// - Parameter directory: made absolute, since servers resolve the URL on their side.
    public init(directory: String) {
        let url = URL(fileURLWithPath: directory).standardizedFileURL
        self.directory = url.path
    }

    public func publish(_ image: PreparedImage) throws(ImageError) -> PreparedImage {
        let hash = ContentHasher.sha256(image.bytes)
        let folder = (directory as NSString).appendingPathComponent(String(hash.prefix(2)))
        let path = (folder as NSString).appendingPathComponent(hash + PreparedImageFiles.fileExtension(image.mimeType))
        if !FileManager.default.fileExists(atPath: path) {
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let temporary = path + ".\(getpid()).\(UInt64.random(in: 0...UInt64.max)).tmp"
                try Data(image.bytes).write(to: URL(fileURLWithPath: temporary))
                if rename(temporary, path) != 0 {
                    let reason = String(cString: strerror(errno))
                    try? FileManager.default.removeItem(atPath: temporary)
                    throw ImageError.unreadable(path: path, reason: "cannot publish the prepared image: \(reason)")
                }
            } catch let error as ImageError {
                throw error
            } catch {
                throw .unreadable(path: path, reason: "cannot write the prepared image (image_transport file, image_dir \(directory)): \(error.localizedDescription)")
            }
        }
        var published = image
        published.fileURL = URL(fileURLWithPath: path).absoluteString
        published.bytes = []
        return published
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
