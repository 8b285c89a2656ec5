import Foundation
import Testing
@testable import VisualExtraction

/// Image paths and files a corpus from strangers may hold: each fails its record with a reason,
/// quickly, without reading what it must not.
@Suite struct HostileImageFileTests {
    @Test func aFIFONamedLikeAnImageIsRefusedWithoutWaiting() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(mkfifo(dir.appendingPathComponent("pipe.jpg").path, 0o600) == 0)
        let preparer = ImagePreparer(root: ImageRoot(path: dir.path), settings: ImageSettings(mode: .original))
        #expect(throws: ImageError.notRegularFile(path: dir.appendingPathComponent("pipe.jpg").path, kind: "FIFO (named pipe)")) {
            _ = try preparer.prepare("pipe.jpg")
        }
    }

    @Test func aLargeFileThatIsNotAnImageIsRefusedFromItsFirstBytes() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("video.jpg").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(repeating: 0x41, count: 2 << 20)))
        #expect(throws: ImageError.unsupported(path: path, format: "not a known image format")) {
            _ = try ImagePreparer.readFile(path)
        }
    }

    @Test func theImagesFolderItselfIsNotAnImage() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for path in [".", "./"] {
            #expect {
                _ = try ImageRoot(path: dir.path).resolve(path)
            } throws: { "\($0)".contains("names the --images folder itself") }
        }
    }

    @Test func aPreparedImageIndexPointingOutsideItsFolderIsIgnored() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = PreparedImageFiles(directory: dir.appendingPathComponent("prepared").path)
        let preparer = ImagePreparer(
            root: ImageRoot(path: TestSupport.sampleImages.path), settings: ImageSettings(mode: .exact, width: 64, height: 64))
        let first = try files.prepare("skimage/coffee.png", with: preparer)
        // Someone edits the index entry to name another file.
        let index = try #require(
            FileManager.default.enumerator(atPath: files.directory + "/by-source")?.allObjects
                .compactMap { $0 as? String }.first { $0.hasSuffix(".json") })
        let indexPath = files.directory + "/by-source/" + index
        let edited = try String(contentsOfFile: indexPath, encoding: .utf8)
            .replacingOccurrences(of: try #require(first.fileURL), with: "file:///etc/hostname")
        try edited.write(toFile: indexPath, atomically: true, encoding: .utf8)
        let second = try files.prepare("skimage/coffee.png", with: preparer)
        #expect(second.fileURL == first.fileURL, "prepared again, not taken from the edited index")
        #expect(files.contains("/etc/hostname") == false)
        #expect(files.contains(files.directory + "/by-source/" + index) == false)
    }

    /// GIF pieces: a 1x1 frame (LZW minimum code size 2, one data block) and a frame header
    /// whose pixels never need to be present: the size alone must stop the decoder.
    static func gifHeader(width: UInt16, height: UInt16) -> [UInt8] {
        Array("GIF89a".utf8) + le(width) + le(height) + [0x80, 0x00, 0x00] + [0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00]
    }
    static func frame(width: UInt16, height: UInt16) -> [UInt8] {
        [0x2C] + le(0) + le(0) + le(width) + le(height) + [0x00] + [0x02, 0x02, 0x44, 0x01, 0x00]
    }
    static func le(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }

    static func decode(_ bytes: [UInt8], format: ImageFormat = .gif, path: String = "bomb.gif") throws -> RGBImage {
        try bytes.withUnsafeBytes { try ImageCodec.decode($0, format: format, path: path, maxPixels: 50_000_000).image }
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    @Test func aGIFFrameLargerThanItsScreenIsMeasuredByItsOwnSize() {
        // A 100x100 screen holding a 14000x14000 frame (196 megapixels).
        let bomb = Self.gifHeader(width: 100, height: 100) + Self.frame(width: 14000, height: 14000) + [0x3B]
        #expect(throws: ImageError.tooLarge(path: "bomb.gif", width: 14000, height: 14000, limit: 50_000_000)) {
            _ = try Self.decode(bomb)
        }
    }

    @Test func onlyTheFirstFrameOfAnAnimatedGIFIsDecoded() throws {
        // A valid first frame, then a 12000x12000 one: the second is never read.
        let animated =
            Self.gifHeader(width: 1, height: 1) + Self.frame(width: 1, height: 1) + Self.frame(width: 12000, height: 12000) + [0x3B]
        let image = try Self.decode(animated)
        #expect(image.width == 1 && image.height == 1)
    }

    @Test func aPNGOverThePixelLimitIsReportedWithItsSize() throws {
        // The IHDR of a 100000x100000 PNG is enough to refuse it; report the size, not "0x0".
        var ihdr: [UInt8] = Array("IHDR".utf8) + [0x00, 0x01, 0x86, 0xA0, 0x00, 0x01, 0x86, 0xA0, 8, 2, 0, 0, 0]
        let crc = Self.crc32(ihdr)
        ihdr = [0, 0, 0, 13] + ihdr + [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
        func chunk(_ type: String) -> [UInt8] {
            let crc = Self.crc32(Array(type.utf8))
            return [0, 0, 0, 0] + Array(type.utf8) + [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
        }
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + ihdr + chunk("IDAT") + chunk("IEND")
        #expect(throws: ImageError.tooLarge(path: "big.png", width: 100_000, height: 100_000, limit: 50_000_000)) {
            _ = try Self.decode(png, format: .png, path: "big.png")
        }
    }

    @Test(.enabled(if: TestSupport.sharedData != nil, "../shared/data is not beside this checkout"))
    func aProgressiveJPEGWithHundredsOfScansIsRefusedQuickly() throws {
        // A real progressive photo (7 scans), with its smallest scan repeated 400 times: each
        // repeat is another pass over every coefficient.
        let shared = try #require(TestSupport.sharedData)
        let photo = try [UInt8](Data(contentsOf: shared.appendingPathComponent("images/fetched/llava_bench/024.jpg")))
        var starts: [Int] = []
        for i in 0..<(photo.count - 1) where photo[i] == 0xFF && photo[i + 1] == 0xDA { starts.append(i) }
        let end = try #require((0..<(photo.count - 1)).last { photo[$0] == 0xFF && photo[$0 + 1] == 0xD9 })
        let scans = zip(starts, starts.dropFirst().map { $0 } + [end]).map { Array(photo[$0..<$1]) }
        #expect(scans.count == 7)
        let smallest = try #require(scans.min { $0.count < $1.count })
        let bomb = Array(photo[..<end]) + Array(repeating: smallest, count: 400).flatMap { $0 } + [0xFF, 0xD9]
        #expect(throws: ImageError.self) { _ = try Self.decode(bomb, format: .jpeg, path: "bomb.jpg") }
        do {
            _ = try Self.decode(bomb, format: .jpeg, path: "bomb.jpg")
        } catch let error as ImageError {
            #expect(error.description.contains("more than 100 scans"), "\(error)")
        }
        // The photo itself decodes as before.
        #expect(try Self.decode(photo, format: .jpeg, path: "024.jpg").width > 0)
    }

    @Test func anAnimatedWebPIsItsFirstFrame() throws {
        // The still fixture's VP8L bitstream as both frames of an animation on its own canvas.
        let still = try [UInt8](
            Data(
                contentsOf: TestSupport.packageRoot.appendingPathComponent(
                    "Tests/VisualExtractionTests/Fixtures/images/webp-named.jpg")))
        let size = try Self.decode(still, format: .webp, path: "still.webp")
        let vp8l = Array(still[12...])  // the one chunk after RIFF....WEBP, header and padding included
        func u24(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF)] }
        func chunk(_ tag: String, _ payload: [UInt8]) -> [UInt8] {
            let n = UInt32(payload.count)
            return Array(tag.utf8) + [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)] + payload
                + (payload.count % 2 == 1 ? [0] : [])
        }
        let frame = chunk("ANMF", u24(0) + u24(0) + u24(size.width - 1) + u24(size.height - 1) + u24(100) + [0] + vp8l)
        let body =
            Array("WEBP".utf8) + chunk("VP8X", [0x02, 0, 0, 0] + u24(size.width - 1) + u24(size.height - 1))
            + chunk("ANIM", [255, 255, 255, 255, 0, 0]) + frame + frame
        let n = UInt32(body.count)
        let animated = Array("RIFF".utf8) + [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)] + body
        let image = try Self.decode(animated, format: .webp, path: "animated.webp")
        #expect(image.width == size.width && image.height == size.height)
        #expect(image.pixels == size.pixels, "the first frame on an opaque canvas is the still image")
    }
}
