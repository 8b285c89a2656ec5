#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An image ready to send: encoded bytes, their MIME type, and facts for the job store.
public struct PreparedImage: Sendable {
    public var bytes: [UInt8]
    public var mimeType: String
    public var width: Int
    public var height: Int
    public var sourceWidth: Int
    public var sourceHeight: Int
    public var sourceFormat: ImageFormat
    /// SHA-256 of the file as read, so a changed image is noticed (cache keys, audit).
    public var sourceSHA256: String
    /// Set when the image travels as a `file://` URL (see `PreparedImageFiles`): the body then
    /// carries this, and `bytes` is empty (thousands of calls in flight must not hold the pixels).
    public var fileURL: String?
    /// Set when the bytes wait in a spool file (`ImageSpool`): `bytes` is then empty and the
    /// file is read when a body is built.
    var spooled: SpooledFile?

    /// The encoded image's size, wherever its bytes are.
    public var byteCount: Int { spooled?.count ?? bytes.count }

    /// The data URL OpenAI-compatible servers accept in `image_url`.
    public var dataURL: String {
        "data:\(mimeType);base64," + Base64.encode(spooled?.read() ?? bytes)
    }

    /// The image's URL written straight into a request body as a JSON string: the file URL, or
    /// the data URL (base64 needs no JSON escaping). A spool file that can no longer be read
    /// (its folder removed under a running vxt) gives an empty data URL, which servers refuse
    /// with a 4xx: the task fails as `http_status`, counted and retryable, not sent imageless.
    func appendURL(to out: inout [UInt8]) {
        if let fileURL {
            JSONValue.writeString(fileURL, to: &out)
            return
        }
        out.append(contentsOf: "\"data:\(mimeType);base64,".utf8)
        Base64.encode(spooled.map { $0.read() ?? [] } ?? bytes, appendingTo: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// Bytes `appendURL` writes, about.
    var urlByteCount: Int { fileURL.map { $0.utf8.count + 2 } ?? Base64.encodedCount(byteCount) + 64 }

    /// What the job store keeps instead of the pixels: enough to recognise the image.
    public var placeholder: String {
        "<image \(mimeType) \(width)x\(height) \(fileURL ?? "\(byteCount) bytes"), source sha256:\(sourceSHA256)>"
    }
}

/// Reads, checks and resizes record images according to the pipeline's `image` settings.
public struct ImagePreparer: Sendable {
    public let root: ImageRoot
    public let settings: ImageSettings

    public init(root: ImageRoot, settings: ImageSettings) {
        self.root = root
        self.settings = settings
    }

    public func prepare(_ relativePath: String) throws(ImageError) -> PreparedImage {
        let (path, bytes) = try source(relativePath)
        return try prepare(bytes: bytes, path: path)
    }

    /// The image a record names, identified by its source hash without being decoded or resized:
    /// what replaying a request whose answer is already known needs (`BatchJob`'s import), at the
    /// cost of a read instead of a resize. It carries no pixels and cannot be sent.
    public func identify(_ relativePath: String) throws(ImageError) -> PreparedImage {
        let (_, bytes) = try source(relativePath)
        let format = bytes.withUnsafeBytes { ImageFormat(magic: $0) }
        return PreparedImage(
            bytes: [], mimeType: format.mimeType, width: 0, height: 0, sourceWidth: 0, sourceHeight: 0, sourceFormat: format,
            sourceSHA256: ContentHasher.sha256(bytes))
    }

    /// The file a record names, resolved under the root and read whole; empty files are refused.
    func source(_ relativePath: String) throws(ImageError) -> (path: String, bytes: [UInt8]) {
        let path = try root.resolve(relativePath)
        let bytes = try ImagePreparer.readFile(path)
        if bytes.isEmpty { throw .empty(path: path) }
        return (path, bytes)
    }

    public func prepare(bytes: [UInt8], path: String) throws(ImageError) -> PreparedImage {
        let format = bytes.withUnsafeBytes { ImageFormat(magic: $0) }
        let hash = ContentHasher.sha256(bytes)
        if settings.mode == .original {
            guard format != .unknown else { throw .unsupported(path: path, format: "not a known image format") }
            return PreparedImage(
                bytes: bytes, mimeType: format.mimeType, width: 0, height: 0, sourceWidth: 0,
                sourceHeight: 0, sourceFormat: format, sourceSHA256: hash)
        }
        let outcome = bytes.withUnsafeBytes { (raw) -> Result<(Int, Int, ImageCodec.Decoded), ImageError> in
            // Decode no larger than needed: libjpeg's DCT scaling makes big photos cheap.
            var minW = 0, minH = 0
            if settings.mode == .exact, let w = settings.width, let h = settings.height {
                // EXIF rotation may swap the axes after decoding, so cover the larger side on both.
                minW = max(w, h); minH = minW
            } else if settings.mode == .maxSide, let side = settings.maxSide, format == .jpeg,
                let size = ImageCodec.jpegDimensions(raw), max(size.width, size.height) > side
            {
                // DCT scaling is uniform, so asking the longest source side to stay >= side is enough.
                if size.width >= size.height { minW = side } else { minH = side }
            }
            do throws(ImageError) {
                let decoded = try ImageCodec.decode(
                    raw, format: format, path: path, minWidth: minW, minHeight: minH,
                    maxPixels: settings.pixelLimit)
                let (w, h) = targetSize(width: decoded.image.width, height: decoded.image.height)
                return .success((w, h, decoded))
            } catch {
                return .failure(error)
            }
        }
        let target = try outcome.get()
        let resized = Resampler.resize(target.2.image, width: target.0, height: target.1)
        let jpeg = try ImageCodec.encodeJPEG(resized, quality: settings.quality)
        return PreparedImage(
            bytes: jpeg, mimeType: "image/jpeg", width: resized.width, height: resized.height,
            sourceWidth: target.2.sourceWidth, sourceHeight: target.2.sourceHeight,
            sourceFormat: format, sourceSHA256: hash)
    }

    func targetSize(width: Int, height: Int) -> (Int, Int) {
        switch settings.mode {
        case .exact:
            return (settings.width ?? width, settings.height ?? height)
        case .maxSide:
            let side = settings.maxSide ?? max(width, height)
            let longest = max(width, height)
            guard longest > side else { return (width, height) }
            let s = Double(side) / Double(longest)
            return (max(1, Int((Double(width) * s).rounded())), max(1, Int((Double(height) * s).rounded())))
        case .original:
            return (width, height)
        }
    }

    /// No image file vxt reads is larger (the largest photos of real corpora are tens of MB); a
    /// bigger file is refused from its size alone, before a byte of it is read.
    static let largestFile = 512 << 20

    static func readFile(_ path: String) throws(ImageError) -> [UInt8] {
        // O_NONBLOCK: opening a FIFO named like an image must not wait for a writer.
        let fd = open(path, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else {
            if errno == ENOENT { throw .notFound(path: path) }
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw .unreadable(path: path, reason: "it is a directory")
        case S_IFIFO: throw .notRegularFile(path: path, kind: "FIFO (named pipe)")
        case S_IFSOCK: throw .notRegularFile(path: path, kind: "socket")
        default: throw .notRegularFile(path: path, kind: "device")
        }
        if Int(st.st_size) > largestFile { throw .fileTooLarge(path: path, bytes: Int(st.st_size), limit: largestFile) }
        // What the file is, from its first bytes, before the rest is read: a large file that is
        // not an image costs one small read, not its size in memory.
        if st.st_size > 64 << 10 {
            var head = [UInt8](repeating: 0, count: 16)
            let got = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            if got == head.count, head.withUnsafeBytes({ ImageFormat(magic: $0) }) == .unknown {
                throw .unsupported(path: path, format: "not a known image format")
            }
        }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return 0 }
                return read(fd, base + filled, buffer.count - filled)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            filled += n
        }
        if filled < bytes.count { bytes.removeSubrange(filled...) }
        return bytes
    }
}
