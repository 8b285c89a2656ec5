import Foundation
import Testing
@testable import VisualExtraction

@Suite struct ImagePreparerTests {
    let root = ImageRoot(path: TestSupport.sampleImages.path)
    var paper: ImagePreparer { ImagePreparer(root: root, settings: ImageSettings(mode: .exact, width: 512, height: 512, jpegQuality: 95)) }

    func decode(_ prepared: PreparedImage) throws -> RGBImage {
        try prepared.bytes.withUnsafeBytes { raw in
            try ImageCodec.decode(raw, format: .jpeg, path: "out", maxPixels: 1 << 26).image
        }
    }

    static let photos = [
        "skimage/astronaut.png", "skimage/camera.png", "skimage/chelsea.png", "skimage/coffee.png",
        "skimage/coins.png", "skimage/hubble_deep_field.jpg", "skimage/retina.jpg", "skimage/rocket.jpg",
        "sklearn/china.jpg", "sklearn/flower.jpg"
    ]

    @Test(arguments: photos)
    func exact512KeepsTheImagesColours(_ path: String) throws {
        let prepared = try paper.prepare(path)
        #expect(prepared.mimeType == "image/jpeg")
        #expect(prepared.width == 512 && prepared.height == 512)
        let out = try decode(prepared)
        #expect(out.width == 512 && out.height == 512)
        // The resized image has about the colour of the original (DCT scaling + bicubic + JPEG).
        let original = try Data(contentsOf: TestSupport.sampleImages.appendingPathComponent(path))
        let full = try [UInt8](original).withUnsafeBytes { raw in
            try ImageCodec.decode(raw, format: ImageFormat(magic: raw), path: path, maxPixels: 1 << 26).image
        }
        let a = full.meanColor, b = out.meanColor
        #expect(abs(a.red - b.red) <= 4 && abs(a.green - b.green) <= 4 && abs(a.blue - b.blue) <= 4, "\(path): \(a) vs \(b)")
        #expect(prepared.sourceSHA256 == ContentHasher.sha256([UInt8](original)))
    }

    @Test func greyscalePNGBecomesRGB() throws {
        let out = try decode(try paper.prepare("skimage/camera.png"))
        var maxSpread = 0
        for i in stride(from: 0, to: out.pixels.count, by: 3) {
            let p = out.pixels[i..<i + 3]
            maxSpread = max(maxSpread, Int(p.max()!) - Int(p.min()!))
        }
        #expect(maxSpread <= 6, "greyscale stays grey after JPEG round trip")
    }

    @Test func bigJPEGDecodesAtReducedDCTScale() throws {
        let bytes = try [UInt8](Data(contentsOf: TestSupport.sampleImages.appendingPathComponent("skimage/retina.jpg")))
        let decoded = try bytes.withUnsafeBytes {
            try ImageCodec.decode($0, format: .jpeg, path: "retina", minWidth: 512, minHeight: 512, maxPixels: 1 << 26)
        }
        #expect(decoded.sourceWidth == 1411)
        #expect(decoded.image.width == 530, "3/8 of 1411 rounded up is the smallest scale covering 512")
    }

    @Test func maxSideKeepsAspect() throws {
        let preparer = ImagePreparer(root: root, settings: ImageSettings(mode: .maxSide, maxSide: 768))
        let hubble = try preparer.prepare("skimage/hubble_deep_field.jpg")
        #expect(hubble.width == 768 && hubble.height == 670)
        let small = try preparer.prepare("skimage/coins.png")
        #expect(small.width == 384 && small.height == 303, "never enlarged")
    }

    @Test func originalModeSendsBytesWithTheirRealType() throws {
        let preparer = ImagePreparer(root: root, settings: ImageSettings(mode: .original))
        let png = try preparer.prepare("skimage/chelsea.png")
        #expect(png.mimeType == "image/png")
        #expect(png.bytes == [UInt8](try Data(contentsOf: TestSupport.sampleImages.appendingPathComponent("skimage/chelsea.png"))))
    }

    @Test func brokenFilesFailWithAReason() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let rocket = try Data(contentsOf: TestSupport.sampleImages.appendingPathComponent("skimage/rocket.jpg"))
        try rocket.prefix(rocket.count / 2).write(to: dir.appendingPathComponent("truncated.jpg"))
        try Data().write(to: dir.appendingPathComponent("empty.jpg"))
        try Data("not an image".utf8).write(to: dir.appendingPathComponent("text.jpg"))
        let png = try Data(contentsOf: TestSupport.sampleImages.appendingPathComponent("skimage/coffee.png"))
        try png.write(to: dir.appendingPathComponent("png-named.jpg"))
        let preparer = ImagePreparer(root: ImageRoot(path: dir.path), settings: paper.settings)

        #expect {
            try preparer.prepare("truncated.jpg")
        } throws: { error in
            guard case let .corrupt(_, reason) = error as? ImageError else { return false }
            return reason.contains("truncated") || reason.contains("Premature")
        }
        #expect(throws: ImageError.self) { try preparer.prepare("empty.jpg") }
        #expect {
            try preparer.prepare("text.jpg")
        } throws: { error in
            if case .unsupported = error as? ImageError { return true } else { return false }
        }
        let fromPNG = try preparer.prepare("png-named.jpg")
        #expect(fromPNG.sourceFormat == .png && fromPNG.width == 512)
        #expect(throws: ImageError.self) { try preparer.prepare("missing.jpg") }
    }

    @Test func pathsOutsideTheImageRootAreRefused() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let inside = dir.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: inside, withIntermediateDirectories: true)
        try Data("secret".utf8).write(to: dir.appendingPathComponent("secret.jpg"))
        try FileManager.default.createSymbolicLink(
            atPath: inside.appendingPathComponent("link.jpg").path,
            withDestinationPath: dir.appendingPathComponent("secret.jpg").path)
        let root = ImageRoot(path: inside.path)
        for path in ["../secret.jpg", dir.appendingPathComponent("secret.jpg").path, "link.jpg", "a/../../secret.jpg"] {
            #expect(throws: ImageError.self, "\(path) must be refused") { try root.resolve(path) }
            do {
                _ = try root.resolve(path)
            } catch {
                if case .outsideRoot = error {} else { Issue.record("\(path): expected outsideRoot, got \(error)") }
            }
        }
    }

    @Test(.enabled(if: TestSupport.sharedData != nil, "../shared/data is not beside this checkout"))
    func llavaBenchWebPNamedJpgAndProgressiveJPEG() throws {
        let shared = try #require(TestSupport.sharedData)
        let preparer = ImagePreparer(
            root: ImageRoot(path: shared.appendingPathComponent("images/fetched/llava_bench").path), settings: paper.settings)
        let webp = try preparer.prepare("023.jpg")
        #expect(webp.sourceFormat == .webp)
        #expect(webp.mimeType == "image/jpeg" && webp.width == 512)
        let original = try ImagePreparer(root: preparer.root, settings: ImageSettings(mode: .original)).prepare("023.jpg")
        #expect(original.mimeType == "image/webp", "original mode sends the real type, not the extension's")
        let progressive = try preparer.prepare("024.jpg")
        #expect(progressive.width == 512 && progressive.sourceWidth == 2176)
    }
}
