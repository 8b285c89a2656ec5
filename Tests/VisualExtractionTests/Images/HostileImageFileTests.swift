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
}
