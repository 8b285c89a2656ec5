/// Separable convolution resize with Pillow's bicubic kernel (a = -0.5), widened by the
/// scale factor when shrinking so that downscaling averages instead of aliasing. This matches
/// what the authors' `Image.resize((512, 512))` does to within one level per channel.
///
/// Arithmetic is in `Float`: x86-64's baseline instruction set (SSE2) has no 32-bit integer
/// vector multiply, so the fixed-point version spent most of its time emulating one. Between the
/// passes values are rounded and clamped to 0...255 as Pillow does, so ringing from the negative
/// lobes is not carried into the second pass.
enum Resampler {
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
        /// Normalised weights, `stride` per output position.
        var weights: [Float]
        var stride: Int
    }

    static func taps(input: Int, output: Int) -> Taps {
        let scale = Double(input) / Double(output)
        let filterScale = max(scale, 1)
        let support = 2.0 * filterScale
        let stride = Int(support.rounded(.up)) * 2 + 1
        var starts = [Int](repeating: 0, count: output)
        var counts = [Int](repeating: 0, count: output)
        var weights = [Float](repeating: 0, count: output * stride)
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
            for k in 0..<n { weights[o * stride + k] = Float(total != 0 ? scratch[k] / total : 0) }
            starts[o] = lo
            counts[o] = n
        }
        return Taps(starts: starts, counts: counts, weights: weights, stride: stride)
    }

    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        if image.width == width && image.height == height { return image }
        let rows = image.width == width ? FloatRows(image) : resizeRows(image, width: width)
        if image.height == height { return rows.bytes() }
        return resizeColumns(rows, height: height)
    }

    /// Pixels as floats (`width * 3` per row) between the passes, with one spare float at the
    /// end so that the last pixel can be written as a four-lane vector.
    struct FloatRows {
        var width: Int
        var height: Int
        var values: [Float]

        init(width: Int, height: Int) {
            self.width = width
            self.height = height
            values = [Float](repeating: 0, count: width * height * 3 + 1)
        }

        init(_ image: RGBImage) {
            self.init(width: image.width, height: image.height)
            for i in 0..<image.pixels.count { values[i] = Float(image.pixels[i]) }
        }

        func bytes() -> RGBImage {
            RGBImage(width: width, height: height, pixels: values[0..<(width * height * 3)].map { UInt8(min(max($0, 0), 255)) })
        }
    }

    /// Rounds to nearest and clamps to 0...255 with bit operations only: adding 1.5 * 2^23 leaves
    /// the rounded integer in the low mantissa bits (for |x| < 2^22), and SSE2 has the integer
    /// shifts and masks but no vector min/max for Int32.
    @inline(__always)
    static func roundedBytes<V: SIMD>(_ x: V) -> V.MaskStorage where V.Scalar == Float, V.MaskStorage.Scalar == Int32 {
        let ints = unsafeBitCast(x + V(repeating: 12_582_912), to: V.MaskStorage.self) &- V.MaskStorage(repeating: 0x4B40_0000)
        // Negative → 0 (and with the inverted sign mask); above 255 → all ones, then masked to 255.
        return (ints | ((V.MaskStorage(repeating: 255) &- ints) &>> 31)) & ~(ints &>> 31) & V.MaskStorage(repeating: 255)
    }

    /// Resamples each row to `width` pixels; a pixel is one four-lane vector (R, G, B, 0) so that
    /// each tap is one multiply-add for all three channels.
    static func resizeRows(_ image: RGBImage, width: Int) -> FloatRows {
        let h = taps(input: image.width, output: width)
        let srcW = image.width, srcH = image.height
        var out = FloatRows(width: width, height: srcH)
        var pixels = [SIMD4<Float>](repeating: .zero, count: srcW)
        image.pixels.withUnsafeBufferPointer { srcBuffer in
            out.values.withUnsafeMutableBufferPointer { dstBuffer in
                pixels.withUnsafeMutableBufferPointer { pixelBuffer in
                    h.weights.withUnsafeBufferPointer { wBuffer in
                        guard let src = srcBuffer.baseAddress, let dst = dstBuffer.baseAddress,
                            let px = pixelBuffer.baseAddress, let wts = wBuffer.baseAddress
                        else { return }
                        let starts = h.starts, counts = h.counts, stride = h.stride
                        for y in 0..<srcH {
                            let row = src + y * srcW * 3
                            for x in 0..<srcW {
                                px[x] = SIMD4<Float>(Float(row[3 * x]), Float(row[3 * x + 1]), Float(row[3 * x + 2]), 0)
                            }
                            let line = UnsafeMutableRawPointer(dst + y * width * 3)
                            for x in 0..<width {
                                var p = px + starts[x]
                                var w = wts + x &* stride
                                // Two accumulators: the adds of consecutive taps do not wait on each other.
                                var even = SIMD4<Float>.zero, odd = SIMD4<Float>.zero
                                var k = counts[x]
                                while k >= 2 {
                                    even += w[0] * p[0]
                                    odd += w[1] * p[1]
                                    p += 2
                                    w += 2
                                    k &-= 2
                                }
                                if k > 0 { even += w[0] * p[0] }
                                let bytes = roundedBytes(even + odd)
                                let value = unsafeBitCast(bytes | SIMD4<Int32>(repeating: 0x4B00_0000), to: SIMD4<Float>.self) - 8_388_608
                                // Lane 3 lands on the next pixel's red, which that pixel overwrites.
                                line.storeBytes(of: value, toByteOffset: x &* 12, as: SIMD4<Float>.self)
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Resamples each column to `height` pixels, accumulating whole rows so that memory is read in order.
    static func resizeColumns(_ rows: FloatRows, height: Int) -> RGBImage {
        let v = taps(input: rows.height, output: height)
        let rowFloats = rows.width * 3
        var result = [UInt8](repeating: 0, count: rowFloats * height)
        rows.values.withUnsafeBufferPointer { srcBuffer in
            result.withUnsafeMutableBufferPointer { dstBuffer in
                v.weights.withUnsafeBufferPointer { wBuffer in
                    guard let src = srcBuffer.baseAddress, let dst = dstBuffer.baseAddress, let wts = wBuffer.baseAddress else { return }
                    let blocks = rowFloats / 16
                    for y in 0..<height {
                        let start = v.starts[y], n = v.counts[y]
                        let weights = wts + y * v.stride
                        let out = dst + y * rowFloats
                        for block in 0..<blocks {
                            var sum = SIMD16<Float>.zero
                            for k in 0..<n {
                                let p = UnsafeRawPointer(src + (start + k) * rowFloats + block * 16)
                                sum += weights[k] * p.loadUnaligned(as: SIMD16<Float>.self)
                            }
                            UnsafeMutableRawPointer(out + block * 16).storeBytes(
                                of: SIMD16<UInt8>(truncatingIfNeeded: roundedBytes(sum)),
                                as: SIMD16<UInt8>.self)
                        }
                        for i in (blocks * 16)..<rowFloats {
                            var sum: Float = 0
                            for k in 0..<n { sum += weights[k] * src[(start + k) * rowFloats + i] }
                            out[i] = UInt8(min(max(sum.rounded(), 0), 255))
                        }
                    }
                }
            }
        }
        return RGBImage(width: rows.width, height: height, pixels: result)
    }
}
