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
        let h = taps(input: image.width, output: width)
        let v = taps(input: image.height, output: height)
        // Horizontal pass: image.height rows of `width` pixels.
        var mid = [UInt8](repeating: 0, count: width * image.height * 3)
        let srcW = image.width
        image.pixels.withUnsafeBufferPointer { src in
            mid.withUnsafeMutableBufferPointer { dst in
                h.weights.withUnsafeBufferPointer { wts in
                    for y in 0..<image.height {
                        let row = y * srcW * 3
                        let outRow = y * width * 3
                        for x in 0..<width {
                            let start = h.starts[x], n = h.counts[x], base = x * h.stride
                            var r: Int32 = 0, g: Int32 = 0, b: Int32 = 0
                            var p = row + start * 3
                            for k in 0..<n {
                                let w = wts[base + k]
                                r &+= w &* Int32(src[p]); g &+= w &* Int32(src[p + 1]); b &+= w &* Int32(src[p + 2])
                                p += 3
                            }
                            let o = outRow + x * 3
                            dst[o] = clamp(r); dst[o + 1] = clamp(g); dst[o + 2] = clamp(b)
                        }
                    }
                }
            }
        }
        // Vertical pass.
        var out = [UInt8](repeating: 0, count: width * height * 3)
        let rowBytes = width * 3
        mid.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                v.weights.withUnsafeBufferPointer { wts in
                    var acc = [Int32](repeating: 0, count: rowBytes)
                    for y in 0..<height {
                        let start = v.starts[y], n = v.counts[y], base = y * v.stride
                        for i in 0..<rowBytes { acc[i] = 0 }
                        for k in 0..<n {
                            let w = wts[base + k]
                            let row = (start + k) * rowBytes
                            for i in 0..<rowBytes { acc[i] &+= w &* Int32(src[row + i]) }
                        }
                        let outRow = y * rowBytes
                        for i in 0..<rowBytes { dst[outRow + i] = clamp(acc[i]) }
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}
