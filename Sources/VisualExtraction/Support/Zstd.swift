import CZstd

/// One-shot zstd frames: the job store's long texts are kept compressed (`StoredTexts`).
enum Zstd {
    /// One frame holding `bytes` (and their size, so decompression allocates once), or nil when
    /// libzstd fails, which it does only when out of memory.
    static func compress(_ bytes: [UInt8], level: Int32 = 3) -> [UInt8]? {
        let capacity = vxt_zstd_compress_bound(bytes.count)
        var failed = false
        let frame = [UInt8](unsafeUninitializedCapacity: capacity) { out, count in
            count = bytes.withUnsafeBytes { src in
                vxt_zstd_compress(out.baseAddress, capacity, src.baseAddress, src.count, level)
            }
            failed = count == 0
        }
        return failed ? nil : frame
    }

    /// The bytes of one frame written by `compress`, or nil when `frame` is not one.
    static func decompress(_ frame: UnsafeRawBufferPointer) -> [UInt8]? {
        let size = vxt_zstd_frame_content_size(frame.baseAddress, frame.count)
        guard size >= 0 else { return nil }
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: Int(size)) { out, count in
            let n = vxt_zstd_decompress(out.baseAddress, Int(size), frame.baseAddress, frame.count)
            failed = n != size
            count = failed ? 0 : Int(n)
        }
        return failed ? nil : bytes
    }
}
