/// Standard base64 (RFC 4648, with padding) for image data URLs: a request body for a
/// 512x512 JPEG is mostly this, so it writes bytes directly instead of going through Data.
public enum Base64 {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: encodedCount(bytes.count)) { out in
            bytes.withUnsafeBufferPointer { encode($0, into: out) }
        }
    }

    /// Appends the encoding to `out` without an intermediate string (request bodies).
    public static func encode(_ bytes: [UInt8], appendingTo out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: encodedCount(bytes.count)))
        out.withUnsafeMutableBufferPointer { all in
            let target = UnsafeMutableBufferPointer(rebasing: all[start...])
            _ = bytes.withUnsafeBufferPointer { encode($0, into: target) }
        }
    }

    public static func encodedCount(_ count: Int) -> Int { (count + 2) / 3 * 4 }

    /// Writes `encodedCount(src.count)` bytes to `out`; returns that count.
    @discardableResult
    static func encode(_ src: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        alphabet.withUnsafeBufferPointer { a in
            var i = 0, o = 0
            let n = src.count
            while i + 3 <= n {
                let v = UInt32(src[i]) << 16 | UInt32(src[i + 1]) << 8 | UInt32(src[i + 2])
                out[o] = a[Int(v >> 18 & 63)]; out[o + 1] = a[Int(v >> 12 & 63)]
                out[o + 2] = a[Int(v >> 6 & 63)]; out[o + 3] = a[Int(v & 63)]
                i += 3; o += 4
            }
            let rest = n - i
            if rest > 0 {
                var v = UInt32(src[i]) << 16
                if rest == 2 { v |= UInt32(src[i + 1]) << 8 }
                out[o] = a[Int(v >> 18 & 63)]; out[o + 1] = a[Int(v >> 12 & 63)]
                out[o + 2] = rest == 2 ? a[Int(v >> 6 & 63)] : UInt8(ascii: "=")
                out[o + 3] = UInt8(ascii: "=")
                o += 4
            }
            return o
        }
    }

    public static func decode(_ text: Substring) -> [UInt8]? {
        var table = [UInt8](repeating: 255, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count / 4 * 3)
        var buffer: UInt32 = 0, bits = 0
        for c in text.utf8 {
            if c == UInt8(ascii: "=") { break }
            if c == 0x0a || c == 0x0d || c == 0x20 { continue }
            let v = table[Int(c)]
            if v == 255 { return nil }
            buffer = buffer << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }
}
