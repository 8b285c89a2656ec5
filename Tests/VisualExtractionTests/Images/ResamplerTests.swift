import Foundation
import Testing
@testable import VisualExtraction

/// The vectorised resampler against the textbook computation of the same filter in `Double`
/// (Pillow's bicubic, support widened when shrinking, rounding and clamping between the passes).
@Suite struct ResamplerTests {
    static func reference(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        func weights(input: Int, output: Int, at o: Int) -> [(Int, Double)] {
            let scale = Double(input) / Double(output), filterScale = max(scale, 1), support = 2 * filterScale
            let center = (Double(o) + 0.5) * scale
            let lo = max(Int((center - support + 0.5).rounded(.down)), 0)
            let hi = min(Int((center + support + 0.5).rounded(.down)), input)
            let raw = (lo..<hi).map { ($0, Resampler.cubic((Double($0) - center + 0.5) / filterScale)) }
            let total = raw.reduce(0) { $0 + $1.1 }
            return raw.map { ($0.0, $0.1 / total) }
        }
        func byte(_ v: Double) -> UInt8 { UInt8(min(max(v.rounded(), 0), 255)) }
        var mid = [UInt8](repeating: 0, count: width * image.height * 3)
        for x in 0..<width {
            let taps = image.width == width ? [(x, 1.0)] : weights(input: image.width, output: width, at: x)
            for y in 0..<image.height {
                for c in 0..<3 {
                    mid[(y * width + x) * 3 + c] = byte(
                        taps.reduce(0) { $0 + $1.1 * Double(image.pixels[(y * image.width + $1.0) * 3 + c]) })
                }
            }
        }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let taps = image.height == height ? [(y, 1.0)] : weights(input: image.height, output: height, at: y)
            for i in 0..<(width * 3) {
                out[y * width * 3 + i] = byte(taps.reduce(0) { $0 + $1.1 * Double(mid[$1.0 * width * 3 + i]) })
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    static func photo(_ path: String) throws -> RGBImage {
        let bytes = try [UInt8](Data(contentsOf: TestSupport.sampleImages.appendingPathComponent(path)))
        return try bytes.withUnsafeBytes { try ImageCodec.decode($0, format: ImageFormat(magic: $0), path: path, maxPixels: 1 << 26).image }
    }

    /// Shrinking one side and enlarging the other (the paper's 512×512 from a 640×427 photo),
    /// shrinking both, enlarging both, and one side only (each pass alone).
    @Test(arguments: [(512, 512), (320, 200), (700, 500), (640, 300), (301, 427)])
    func matchesTheDoubleComputation(_ size: (Int, Int)) throws {
        let image = try Self.photo("sklearn/china.jpg")
        #expect(image.width == 640 && image.height == 427)
        let fast = Resampler.resize(image, width: size.0, height: size.1)
        let exact = Self.reference(image, width: size.0, height: size.1)
        #expect(fast.width == size.0 && fast.height == size.1)
        var worst = 0, differing = 0
        for (a, b) in zip(fast.pixels, exact.pixels) where a != b {
            worst = max(worst, abs(Int(a) - Int(b)))
            differing += 1
        }
        // A value at x.5 may round the other way in Float; one level off between the passes can
        // become two after an enlarging second pass (its weights sum to more than 1 in magnitude).
        #expect(worst <= (size.0 == image.width || size.1 == image.height ? 1 : 2), "largest difference \(worst) levels")
        #expect(differing * 100 <= fast.pixels.count, "\(differing) of \(fast.pixels.count) values differ (float rounding at .5)")
    }

    /// Hard edges make the bicubic lobes overshoot; the result must clamp, not wrap around.
    @Test func overshootClampsInsteadOfWrapping() {
        var pixels = [UInt8](repeating: 0, count: 64 * 64 * 3)
        for y in 0..<64 { for x in 32..<64 { for c in 0..<3 { pixels[(y * 64 + x) * 3 + c] = 255 } } }
        let image = RGBImage(width: 64, height: 64, pixels: pixels)
        let up = Resampler.resize(image, width: 200, height: 150)
        #expect(up == Self.reference(image, width: 200, height: 150))
        // Left of the edge stays black and right of it white: no 255 ringing to 0 or 0 to 255.
        #expect(up.pixels[(75 * 200 + 10) * 3] == 0 && up.pixels[(75 * 200 + 190) * 3] == 255)
    }
}
