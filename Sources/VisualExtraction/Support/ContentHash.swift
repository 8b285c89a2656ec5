import CHash

/// SHA-256 content hashes, hex encoded. Used for the input file, pipeline files and images:
/// anything whose change must be noticed (resume refusal, response cache keys).
public struct ContentHasher: ~Copyable {
    private let context: OpaquePointer?

    public init() {
        context = vxt_sha256_new()
    }

    /// A hash never finished (its input failed half-way) still frees its context: found by the
    /// record fuzzer (bench/fuzz) as a leak on every unreadable input.
    deinit {
        vxt_sha256_free(context)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let context, let base = bytes.baseAddress, bytes.count > 0 else { return }
        vxt_sha256_update(context, base, bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public consuming func finalize() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        let context = self.context
        // `finish` frees the context; the deinit must not free it again.
        discard self
        if let context { vxt_sha256_finish(context, &digest) }
        return ContentHasher.hex(digest)
    }

    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        vxt_sha256_oneshot(bytes.baseAddress, bytes.count, &digest)
        return hex(digest)
    }

    public static func sha256(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { sha256($0) }
    }

    public static func sha256(_ text: String) -> String {
        sha256(Array(text.utf8))
    }

    static func hex(_ digest: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(digest.count * 2)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
