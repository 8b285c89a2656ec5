import Foundation
import Testing
@testable import VisualExtraction

/// `image_transport: file`: prepared images as content-addressed files, found again by source.
@Suite struct PreparedImageFilesTests {
    let root = ImageRoot(path: TestSupport.sampleImages.path)

    func preparer(quality: Int) -> ImagePreparer {
        ImagePreparer(root: root, settings: ImageSettings(mode: .exact, width: 512, height: 512, jpegQuality: quality))
    }

    func files(_ dir: URL, under folder: String, suffix: String) -> [String] {
        (FileManager.default.enumerator(atPath: dir.appendingPathComponent(folder).path)?.compactMap { $0 as? String } ?? [])
            .filter { $0.hasSuffix(suffix) }
    }

    @Test func aSourcePreparedOnceIsFoundAgainByItsBytesAndSettings() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = PreparedImageFiles(directory: dir.path)

        let first = try store.prepare("sklearn/china.jpg", with: preparer(quality: 95))
        let url = try #require(first.fileURL)
        let written = try [UInt8](Data(contentsOf: try #require(URL(string: url))))
        #expect(url.hasSuffix("/\(ContentHasher.sha256(written)).jpg") && first.bytes.isEmpty)
        #expect(first.width == 512 && first.height == 512 && first.sourceWidth == 640 && first.sourceHeight == 427)
        #expect(files(dir, under: "by-source", suffix: ".json").count == 1)

        // The same bytes under the same settings: the index answers, with the same facts.
        let again = try store.prepare("sklearn/china.jpg", with: preparer(quality: 95))
        #expect(again.fileURL == url && again.bytes.isEmpty && again.placeholder == first.placeholder)
        #expect(again.sourceSHA256 == first.sourceSHA256 && again.sourceFormat == .jpeg)
        #expect(files(dir, under: ".", suffix: ".jpg").count == 1)

        // Other settings are another image.
        let other = try store.prepare("sklearn/china.jpg", with: preparer(quality: 80))
        #expect(other.fileURL != url)
        #expect(files(dir, under: ".", suffix: ".jpg").count == 2 && files(dir, under: "by-source", suffix: ".json").count == 2)

        // A damaged index entry or a deleted file is prepared again, never trusted.
        for entry in files(dir, under: "by-source", suffix: ".json") {
            try Data("{".utf8).write(to: dir.appendingPathComponent("by-source").appendingPathComponent(entry))
        }
        let file = try #require(URL(string: url))
        try FileManager.default.removeItem(at: file)
        let rebuilt = try store.prepare("sklearn/china.jpg", with: preparer(quality: 95))
        #expect(rebuilt.fileURL == url && FileManager.default.fileExists(atPath: file.path))
    }

    @Test func missingAndBrokenSourcesFailAsWithoutFiles() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = PreparedImageFiles(directory: dir.path)
        #expect(throws: ImageError.notFound(path: TestSupport.sampleImages.appendingPathComponent("missing.jpg").path)) {
            try store.prepare("missing.jpg", with: preparer(quality: 95))
        }
        #expect(throws: ImageError.self) { try store.prepare("../outside.jpg", with: preparer(quality: 95)) }
    }
}
