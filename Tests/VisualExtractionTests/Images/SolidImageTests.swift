import Testing
@testable import VisualExtraction

/// The sight check's image is a real PNG: libpng reads it back as the colour it was made of.
@Suite struct SolidImageTests {
    @Test(arguments: SightCheck.colors.map(\.name))
    func aPlainColourReadsBackAsItself(name: String) throws {
        let color = try #require(SightCheck.colors.first { $0.name == name })
        let image = SolidImage.prepared(width: 64, height: 48, red: color.red, green: color.green, blue: color.blue)
        #expect(image.mimeType == "image/png" && image.bytes.withUnsafeBytes { ImageFormat(magic: $0) } == .png)
        let decoded = try image.bytes.withUnsafeBytes {
            try ImageCodec.decode($0, format: .png, path: "sight.png", maxPixels: 1 << 20)
        }
        #expect(decoded.image.width == 64 && decoded.image.height == 48)
        let pixels = decoded.image.pixels
        #expect(pixels.count == 64 * 48 * 3)
        for i in stride(from: 0, to: pixels.count, by: 3)
        where (pixels[i], pixels[i + 1], pixels[i + 2]) != (color.red, color.green, color.blue) {
            Issue.record("pixel \(i / 3) of the \(name) image is \(pixels[i]),\(pixels[i + 1]),\(pixels[i + 2])")
            break
        }
    }
}
