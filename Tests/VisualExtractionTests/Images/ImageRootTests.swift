import Foundation
import Testing

@testable import VisualExtraction

/// `ImageRoot.resolve` resolves each folder once and then only looks at the file: these pin that
/// it answers as `realpath` of the whole path does, for the shapes folders take in real setups.
@Suite struct ImageRootTests {
    /// A folder with the links LLaVA setups make: a linked folder inside, one leading out, a linked
    /// file, a file where a folder is expected, a dangling link.
    func makeTree() throws -> (dir: URL, images: URL) {
        let dir = try TestSupport.temporaryDirectory()
        let images = dir.appendingPathComponent("images")
        let manager = FileManager.default
        for folder in ["images/coco/train2017", "images/gqa", "shared/vg"] {
            try manager.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        for file in ["images/coco/train2017/1.jpg", "images/gqa/2.jpg", "shared/vg/3.jpg", "shared/4.jpg"] {
            try Data("x".utf8).write(to: dir.appendingPathComponent(file))
        }
        try manager.createSymbolicLink(atPath: images.appendingPathComponent("coco2").path, withDestinationPath: "coco")
        try manager.createSymbolicLink(
            atPath: images.appendingPathComponent("vg").path, withDestinationPath: dir.appendingPathComponent("shared/vg").path)
        try manager.createSymbolicLink(
            atPath: images.appendingPathComponent("gqa/linked.jpg").path, withDestinationPath: "../coco/train2017/1.jpg")
        try manager.createSymbolicLink(
            atPath: images.appendingPathComponent("gqa/out.jpg").path, withDestinationPath: dir.appendingPathComponent("shared/4.jpg").path)
        try manager.createSymbolicLink(atPath: images.appendingPathComponent("gqa/dangling.jpg").path, withDestinationPath: "nowhere.jpg")
        return (dir, images)
    }

    static let paths = [
        "coco/train2017/1.jpg", "coco2/train2017/1.jpg", "./coco/train2017/1.jpg", "coco/./train2017/1.jpg",
        "coco//train2017/1.jpg", "gqa/2.jpg", "gqa/linked.jpg", "gqa/dangling.jpg", "gqa/missing.jpg", "nofolder/1.jpg",
        "gqa/2.jpg/inside", "gqa/", "gqa/.", ".", "", "vg/3.jpg", "gqa/out.jpg", "coco/train2017"
    ]

    @Test(arguments: [false, true])
    func resolvesEachPathAsRealpathOfTheWholePathDoes(followSymlinks: Bool) throws {
        let (dir, images) = try makeTree()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = ImageRoot(path: images.path, followSymlinks: followSymlinks)
        let realRoot = try #require(ImageRoot.realPath(images.path))
        // Twice each, so that the second asks a root that has the folder already.
        for path in Self.paths + Self.paths {
            let whole = ImageRoot.realPath(images.path + "/" + path)
            let expected: String?
            if let whole, whole != realRoot, followSymlinks || whole.hasPrefix(realRoot + "/") {
                expected = whole
            } else {
                expected = nil
            }
            let resolved = try? root.resolve(path)
            #expect(resolved == expected, "\(path): resolved \(resolved ?? "nil"), realpath says \(whole ?? "nil")")
        }
    }

    /// Corpora written beside their images name them by absolute path (`/data/llava/coco/…`):
    /// such a path is read when it lies inside --images, given with or without its links
    /// resolved, and is refused, as any path is, when it leads elsewhere.
    @Test func absolutePathsAreReadInsideTheFolderAndNowhereElse() throws {
        let (dir, images) = try makeTree()
        defer { try? FileManager.default.removeItem(at: dir) }
        let real = try #require(ImageRoot.realPath(images.path))
        let linkedRoot = dir.appendingPathComponent("images-link")
        try FileManager.default.createSymbolicLink(atPath: linkedRoot.path, withDestinationPath: images.path)
        for root in [ImageRoot(path: images.path), ImageRoot(path: linkedRoot.path), ImageRoot(path: dir.path)] {
            #expect(try root.resolve(images.path + "/coco/train2017/1.jpg") == real + "/coco/train2017/1.jpg")
            #expect(try root.resolve(real + "/gqa/linked.jpg") == real + "/coco/train2017/1.jpg")
            #expect(throws: ImageError.notFound(path: images.path + "/gqa/missing.jpg")) {
                try root.resolve(images.path + "/gqa/missing.jpg")
            }
        }
        let root = ImageRoot(path: images.path)
        for outside in [
            dir.appendingPathComponent("shared/4.jpg").path, images.path + "/../shared/4.jpg", images.path + "/gqa/out.jpg",
            "/etc/hostname",
            images.path + "-other/1.jpg", images.path
        ] {
            do {
                let read = try root.resolve(outside)
                Issue.record("\(outside) leads out of --images and must be refused, read \(read)")
            } catch {
                if case .notFound = error { Issue.record("\(outside): refused for the wrong reason, \(error)") }
            }
        }
        #expect(try ImageRoot(path: "/").resolve(dir.path + "/shared/4.jpg").hasSuffix("/shared/4.jpg"), "--images / holds everything")
    }

    @Test func whatIsRefusedKeepsItsReason() throws {
        let (dir, images) = try makeTree()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = ImageRoot(path: images.path)
        for _ in 0..<2 {
            #expect(throws: ImageError.notFound(path: images.path + "/gqa/missing.jpg")) { try root.resolve("gqa/missing.jpg") }
            #expect(throws: ImageError.notFound(path: images.path + "/gqa/dangling.jpg")) { try root.resolve("gqa/dangling.jpg") }
            for outside in ["vg/3.jpg", "gqa/out.jpg"] {
                do {
                    _ = try root.resolve(outside)
                    Issue.record("\(outside) leads out of --images and must be refused")
                } catch {
                    if case .outsideRoot = error {} else { Issue.record("\(outside): expected outsideRoot, got \(error)") }
                }
            }
        }
    }
}
