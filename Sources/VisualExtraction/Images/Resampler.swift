/// Separable convolution resize with Pillow's bicubic kernel (a = -0.5), widened by the
/// scale factor when shrinking so that downscaling averages instead of aliasing. This matches
/// what the authors' `Image.resize((512, 512))` does closely enough for training data.
public enum Resampler {
    static func cubic(_ x: Double) -> Double {
        let a = -0.5
        let x = abs(x)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    struct Taps {
        var starts: [Int]
        var counts: [Int]
        /// Fixed-point weights (scaled by 2^14), `stride` per output position.
        var weights: [Int32]
        var stride: Int
    }

    static let precisionBits: Int32 = 14

    static func taps(input: Int, output: Int) -> Taps {
        let scale = Double(input) / Double(output)
        let filterScale = max(scale, 1)
        let support = 2.0 * filterScale
        let stride = Int(support.rounded(.up)) * 2 + 1
        var starts = [Int](repeating: 0, count: output)
        var counts = [Int](repeating: 0, count: output)
        var weights = [Int32](repeating: 0, count: output * stride)
        var scratch = [Double](repeating: 0, count: stride)
        for o in 0..<output {
            let center = (Double(o) + 0.5) * scale
            let lo = max(Int((center - support + 0.5).rounded(.down)), 0)
            let hi = min(Int((center + support + 0.5).rounded(.down)), input)
            let n = min(hi - lo, stride)
            var total = 0.0
            for k in 0..<n {
                let w = cubic((Double(lo + k) - center + 0.5) / filterScale)
                scratch[k] = w
                total += w
            }
            for k in 0..<n {
                let normalized = total != 0 ? scratch[k] / total : 0
                weights[o * stride + k] = Int32((normalized * Double(1 << precisionBits)).rounded())
            }
            starts[o] = lo
            counts[o] = n
        }
        return Taps(starts: starts, counts: counts, weights: weights, stride: stride)
    }

    @inline(__always)
    static func clamp(_ v: Int32) -> UInt8 {
        let shifted = (v + (1 << (precisionBits - 1))) >> precisionBits
        return UInt8(clamping: shifted)
    }

    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        if image.width == width && image.height == height { return image }
        let horizontal = image.width == width ? image : resizeRows(image, width: width)
        return image.height == height ? horizontal : resizeColumns(horizontal, height: height)
    }

    /// Resamples each row to `width` pixels.
    static func resizeRows(_ image: RGBImage, width: Int) -> RGBImage {
        let h = taps(input: image.width, output: width)
        let srcW = image.width, srcH = image.height
        // Horizontal pass: srcH rows of `width` pixels.
        var mid = [UInt8](repeating: 0, count: width * srcH * 3)
        image.pixels.withUnsafeBufferPointer { srcBuffer in
            mid.withUnsafeMutableBufferPointer { dstBuffer in
                h.weights.withUnsafeBufferPointer { wBuffer in
                    h.starts.withUnsafeBufferPointer { startBuffer in
                        h.counts.withUnsafeBufferPointer { countBuffer in
                            guard let src = srcBuffer.baseAddress, let dst = dstBuffer.baseAddress, let wts = wBuffer.baseAddress,
                                  let starts = startBuffer.baseAddress, let counts = countBuffer.baseAddress else { return }
                            for y in 0..<srcH {
                                let row = src + y * srcW * 3
                                var out = dst + y * width * 3
                                for x in 0..<width {
                                    var p = row + starts[x] * 3
                                    var w = wts + x * h.stride
                                    var r: Int32 = 0, g: Int32 = 0, b: Int32 = 0
                                    for _ in 0..<counts[x] {
                                        let k = w.pointee
                                        r &+= k &* Int32(p[0]); g &+= k &* Int32(p[1]); b &+= k &* Int32(p[2])
                                        p += 3
                                        w += 1
                                    }
                                    out[0] = clamp(r); out[1] = clamp(g); out[2] = clamp(b)
                                    out += 3
                                }
                            }
                        }
                    }
                }
            }
        }
        return RGBImage(width: width, height: srcH, pixels: mid)
    }

    /// Resamples each column to `height` pixels, accumulating whole rows so that memory is read in order.
    static func resizeColumns(_ image: RGBImage, height: Int) -> RGBImage {
        let v = taps(input: image.height, output: height)
        let width = image.width
        let mid = image.pixels
        var result = [UInt8](repeating: 0, count: width * height * 3)
        let rowBytes = width * 3
        mid.withUnsafeBufferPointer { srcBuffer in
            result.withUnsafeMutableBufferPointer { dstBuffer in
                v.weights.withUnsafeBufferPointer { wBuffer in
                    guard let src = srcBuffer.baseAddress, let dst = dstBuffer.baseAddress, let wts = wBuffer.baseAddress else { return }
                    let vectors = rowBytes / 16
                    for y in 0..<height {
                        let start = v.starts[y], n = v.counts[y]
                        // 16 bytes at a time in SIMD registers; the tail byte by byte.
                        for block in 0..<vectors {
                            var sum = SIMD16<Int32>(repeating: 0)
                            for k in 0..<n {
                                let weight = SIMD16<Int32>(repeating: wts[y * v.stride + k])
                                let bytes = UnsafeRawPointer(src + (start + k) * rowBytes + block * 16).loadUnaligned(as: SIMD16<UInt8>.self)
                                sum &+= weight &* SIMD16<Int32>(truncatingIfNeeded: bytes)
                            }
                            let rounded = (sum &+ SIMD16<Int32>(repeating: 1 << (precisionBits - 1))) &>> SIMD16<Int32>(repeating: precisionBits)
                            let clamped = rounded.clamped(lowerBound: SIMD16<Int32>(repeating: 0), upperBound: SIMD16<Int32>(repeating: 255))
                            UnsafeMutableRawPointer(dst + y * rowBytes + block * 16).storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: clamped), as: SIMD16<UInt8>.self)
                        }
                        for i in (vectors * 16)..<rowBytes {
                            var sum: Int32 = 0
                            for k in 0..<n { sum &+= wts[y * v.stride + k] &* Int32(src[(start + k) * rowBytes + i]) }
                            dst[y * rowBytes + i] = clamp(sum)
                        }
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: result)
    }
}
