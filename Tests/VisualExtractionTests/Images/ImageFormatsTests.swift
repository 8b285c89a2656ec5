import Foundation
import Testing
@testable import VisualExtraction

/// Real-world image variants (fixtures made from the sample photos, see Fixtures/images/README.md).
@Suite struct ImageFormatsTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/images")

    func decode(_ name: String, maxPixels: Int = 1 << 26) throws -> (ImageFormat, RGBImage) {
        let bytes = try [UInt8](Data(contentsOf: Self.fixtures.appendingPathComponent(name)))
        return try bytes.withUnsafeBytes { raw in
            let format = ImageFormat(magic: raw)
            return (format, try ImageCodec.decode(raw, format: format, path: name, maxPixels: maxPixels).image)
        }
    }

    func pixel(_ image: RGBImage, _ x: Int, _ y: Int) -> (Int, Int, Int) {
        let i = (y * image.width + x) * 3
        return (Int(image.pixels[i]), Int(image.pixels[i + 1]), Int(image.pixels[i + 2]))
    }

    @Test func cmykJPEGBecomesTheSameColoursAsItsRGBSource() throws {
        let (format, cmyk) = try decode("cmyk.jpg")
        let (_, rgb) = try decode("flower-small.png")
        #expect(format == .jpeg)
        #expect(cmyk.width == rgb.width && cmyk.height == rgb.height)
        let a = cmyk.meanColor, b = rgb.meanColor
        #expect(abs(a.red - b.red) <= 12 && abs(a.green - b.green) <= 12 && abs(a.blue - b.blue) <= 12, "\(a) vs \(b)")
    }

    @Test func exifOrientationIsApplied() throws {
        let (_, image) = try decode("exif-orientation-6.jpg")
        #expect(image.width == 80 && image.height == 120, "stored 120x80, displayed rotated")
        let top = pixel(image, 40, 10), bottom = pixel(image, 40, 110)
        #expect(top.0 > 200 && top.2 < 60, "left half (red) is on top after a 90° clockwise turn: \(top)")
        #expect(bottom.2 > 200 && bottom.0 < 60, "\(bottom)")
    }

    @Test func progressiveAndGreyscaleJPEGs() throws {
        let (_, progressive) = try decode("progressive.jpg")
        #expect(progressive.width == 200 && progressive.height == 133)
        let (_, grey) = try decode("grey.jpg")
        let p = pixel(grey, 64, 64)
        #expect(p.0 == p.1 && p.1 == p.2)
    }

    @Test func alphaIsCompositedOnWhite() throws {
        for name in ["alpha.png", "webp-named.jpg"] {
            let (_, image) = try decode(name)
            let left = pixel(image, 5, 32), right = pixel(image, 60, 32)
            #expect(left.0 >= 250 && left.1 >= 250 && left.2 >= 250, "\(name): transparent → white, got \(left)")
            #expect(right.0 >= 250 && right.1 <= 5 && right.2 <= 5, "\(name): opaque red stays red, got \(right)")
        }
    }

    @Test func formatComesFromTheBytesNotTheName() throws {
        let (webp, _) = try decode("webp-named.jpg")
        #expect(webp == .webp)
        let (gif, frame) = try decode("gif-named.png")
        #expect(gif == .gif)
        #expect(frame.width == 40 && frame.height == 30)
        let p = pixel(frame, 20, 15)
        #expect(p == (255, 0, 0), "the first frame of the animation")
    }

    @Test func pixelLimitRefusesDecompressionBombs() throws {
        for name in ["flower-small.png", "cmyk.jpg", "webp-named.jpg", "gif-named.png"] {
            #expect {
                _ = try decode(name, maxPixels: 100)
            } throws: { error in
                if case .tooLarge = error as? ImageError { return true } else { return false }
            }
        }
    }

    @Test func preparedForTheTeacherAsJPEG() throws {
        let preparer = ImagePreparer(
            root: ImageRoot(path: Self.fixtures.path), settings: ImageSettings(mode: .exact, width: 512, height: 512))
        for name in ["cmyk.jpg", "exif-orientation-6.jpg", "webp-named.jpg", "gif-named.png", "alpha.png"] {
            let prepared = try preparer.prepare(name)
            #expect(prepared.mimeType == "image/jpeg" && prepared.width == 512 && prepared.height == 512, "\(name)")
        }
    }
}
