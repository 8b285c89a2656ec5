import CZlib

/// An image of one colour, as a PNG: what the teacher's sight check shows a server. PNG because
/// every OpenAI-compatible server takes it and a stand-in server reads it with zlib alone.
enum SolidImage {
    static func png(width: Int, height: Int, red: UInt8, green: UInt8, blue: UInt8) -> [UInt8] {
        // Each row: filter type 0, then the pixels.
        var rows: [UInt8] = []
        rows.reserveCapacity(height * (1 + 3 * width))
        for _ in 0..<height {
            rows.append(0)
            for _ in 0..<width { rows += [red, green, blue] }
        }
        var compressed = [UInt8](repeating: 0, count: vxt_zlib_bound(rows.count))
        let size = compressed.withUnsafeMutableBytes { out in
            rows.withUnsafeBytes { vxt_zlib_compress($0.baseAddress, $0.count, out.baseAddress, out.count) }
        }
        compressed.removeSubrange(size...)
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func chunk(_ type: String, _ data: [UInt8]) {
            png += bigEndian(UInt32(data.count))
            let typed = Array(type.utf8) + data
            png += typed
            png += bigEndian(UInt32(truncatingIfNeeded: typed.withUnsafeBytes { vxt_crc32(0, $0.baseAddress, $0.count) }))
        }
        // 8 bits per sample, colour type 2 (RGB), no interlace.
        chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, 2, 0, 0, 0])
        chunk("IDAT", compressed)
        chunk("IEND", [])
        return png
    }

    private static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// The PNG ready to send.
    static func prepared(width: Int, height: Int, red: UInt8, green: UInt8, blue: UInt8) -> PreparedImage {
        let bytes = png(width: width, height: height, red: red, green: green, blue: blue)
        return PreparedImage(
            bytes: bytes, mimeType: "image/png", width: width, height: height, sourceWidth: width, sourceHeight: height,
            sourceFormat: .png, sourceSHA256: ContentHasher.sha256(bytes))
    }
}
