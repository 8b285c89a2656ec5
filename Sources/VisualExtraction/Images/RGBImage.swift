import CJPEG

/// 8-bit RGB pixels, row-major, no padding.
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage pixel count does not match its size")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The average colour, used by the mock teacher to say something true about an image.
    public var meanColor: (red: Int, green: Int, blue: Int) {
        guard width > 0 && height > 0 else { return (0, 0, 0) }
        var r = 0, g = 0, b = 0
        pixels.withUnsafeBufferPointer { p in
            var i = 0
            while i < p.count {
                r += Int(p[i]); g += Int(p[i + 1]); b += Int(p[i + 2])
                i += 3
            }
        }
        let n = width * height
        return ((r + n / 2) / n, (g + n / 2) / n, (b + n / 2) / n)
    }

    /// Applies an EXIF orientation (1...8) so that the pixels are upright.
    public func oriented(_ orientation: Int) -> RGBImage {
        guard (2...8).contains(orientation) else { return self }
        let swap = orientation >= 5
        let outW = swap ? height : width, outH = swap ? width : height
        var out = [UInt8](repeating: 0, count: outW * outH * 3)
        let w = width, h = height
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<outH {
                    for x in 0..<outW {
                        // Source coordinates for each EXIF orientation (see the EXIF 2.3 spec, tag 0x0112).
                        let (sx, sy): (Int, Int)
                        switch orientation {
                        case 2: (sx, sy) = (w - 1 - x, y)
                        case 3: (sx, sy) = (w - 1 - x, h - 1 - y)
                        case 4: (sx, sy) = (x, h - 1 - y)
                        case 5: (sx, sy) = (y, x)
                        case 6: (sx, sy) = (y, h - 1 - x)
                        case 7: (sx, sy) = (w - 1 - y, h - 1 - x)
                        default: (sx, sy) = (w - 1 - y, x)
                        }
                        let s = (sy * w + sx) * 3, d = (y * outW + x) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return RGBImage(width: outW, height: outH, pixels: out)
    }
}

/// Decoding and encoding through libjpeg and libpng.
public enum ImageCodec {
    public struct Decoded: Sendable {
        public var image: RGBImage
        public var sourceWidth: Int
        public var sourceHeight: Int
    }

    /// Width and height of a JPEG from its header, without decoding pixels.
    public static func jpegDimensions(_ bytes: UnsafeRawBufferPointer) -> (width: Int, height: Int)? {
        var w: Int32 = 0, h: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = vxt_jpeg_dimensions(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &w, &h, &err, err.count)
        return rc == 0 ? (Int(w), Int(h)) : nil
    }

    /// Decodes a JPEG, PNG, WebP or GIF (first frame) to upright RGB. For JPEG, `minWidth`/`minHeight` let libjpeg
    /// decode at 1/2, 1/4 or 1/8 scale when the target is that much smaller.
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, format: ImageFormat, path: String,
        minWidth: Int = 0, minHeight: Int = 0, maxPixels: Int
    ) throws(ImageError) -> Decoded {
        var raw = vxt_image()
        var err = [CChar](repeating: 0, count: 512)
        let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let rc: Int32
        switch format {
        case .jpeg:
            rc = vxt_jpeg_decode(base, bytes.count, Int32(clamping: minWidth), Int32(clamping: minHeight), maxPixels, &raw, &err, err.count)
        case .png:
            rc = vxt_png_decode(base, bytes.count, maxPixels, &raw, &err, err.count)
        case .webp:
            rc = vxt_webp_decode(base, bytes.count, maxPixels, &raw, &err, err.count)
        case .gif:
            rc = vxt_gif_decode(base, bytes.count, maxPixels, &raw, &err, err.count)
        default:
            throw .unsupported(path: path, format: format == .unknown ? "not a known image format" : format.rawValue.uppercased())
        }
        defer { vxt_image_free(&raw) }
        let message = String(decoding: err.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if rc == -2 {
            // The decoders say the size they refused (for a GIF, the frame's, which may exceed the screen's).
            throw .tooLarge(path: path, width: Int(raw.source_width), height: Int(raw.source_height), limit: maxPixels)
        }
        guard rc == 0, let pixels = raw.pixels else {
            throw .corrupt(path: path, reason: message.isEmpty ? "cannot decode" : message)
        }
        let count = Int(raw.width) * Int(raw.height) * 3
        let image = RGBImage(
            width: Int(raw.width), height: Int(raw.height),
            pixels: Array(UnsafeBufferPointer(start: pixels, count: count)))
        return Decoded(
            image: image.oriented(Int(raw.orientation)),
            sourceWidth: Int(raw.source_width), sourceHeight: Int(raw.source_height))
    }

    public static func encodeJPEG(_ image: RGBImage, quality: Int) throws(ImageError) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = image.pixels.withUnsafeBufferPointer { p in
            vxt_jpeg_encode(p.baseAddress, Int32(image.width), Int32(image.height), Int32(quality), &out, &length, &err, err.count)
        }
        defer { vxt_buffer_free(out) }
        guard rc == 0, let out else {
            throw .corrupt(
                path: "<encoder>", reason: String(decoding: err.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return Array(UnsafeBufferPointer(start: out, count: length))
    }
}
