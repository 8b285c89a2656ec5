import Foundation
import Testing
@testable import VisualExtraction

/// Inline images at high concurrency wait for their answers in spool files, not in memory.
@Suite struct ImageSpoolTests {
    let preparer = ImagePreparer(
        root: ImageRoot(path: TestSupport.sampleImages.path), settings: ImageSettings(mode: .exact, width: 512, height: 512))

    func spoolFiles(_ spool: ImageSpool) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: spool.directory)) ?? []).sorted()
    }

    @Test func aSpooledImageSendsTheSameBodyAndItsFileGoesWithTheLastRequest() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spool = try ImageSpool(parent: dir.path)
        let image = try preparer.prepare("sklearn/china.jpg")
        var request = ChatRequest(model: "m", prompt: "Describe.", images: [image], maxTokens: 8, temperature: 0)
        let inMemory = request.body()
        let logged = request.loggedBody()

        request.images = [spool.spool(image)]
        #expect(request.images[0].bytes.isEmpty, "the pixels left memory")
        #expect(spoolFiles(spool).count == 1)
        #expect(request.body() == inMemory, "the body a teacher gets is byte-identical")
        #expect(request.body() == inMemory, "and again for a retry")
        #expect(request.loggedBody() == logged, "the placeholder still names the prepared size")
        var retry = request
        retry.maxTokens = 16
        request = ChatRequest(model: "m", prompt: "", images: [], maxTokens: 1, temperature: nil)
        #expect(spoolFiles(spool).count == 1, "a copy of the request still holds the image")
        retry = request
        #expect(spoolFiles(spool).isEmpty, "deleted with the last request that held it")
        _ = retry

        // A spool folder removed under a running vxt: the data URL is empty (a server refuses it),
        // never a body without its image.
        var lost = ChatRequest(model: "m", prompt: "Describe.", images: [spool.spool(image)], maxTokens: 8, temperature: 0)
        spool.remove()
        #expect(String(decoding: lost.body(), as: UTF8.self).contains("\"data:image/jpeg;base64,\""))
        // A folder that cannot take the file: the image stays in memory, the request unchanged.
        let kept = spool.spool(image)
        #expect(kept.bytes == image.bytes)
        lost.images = [kept]
        #expect(lost.body() == inMemory)
    }

    @Test func aRunRemovesSpoolFoldersOfItsHostsDeadProcessesOnly() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let host = ProcessInfo.processInfo.hostName.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
        // A pid that is surely gone: a child that has exited and been reaped.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let dead = "vxt-spool-\(host)-\(child.processIdentifier)"
        let alive = "vxt-spool-\(host)-1"  // init: alive in any pid namespace this runs in
        let otherHost = "vxt-spool-another-node-\(child.processIdentifier)"
        for name in [dead, alive, otherHost] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(name), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: dir.appendingPathComponent(name).appendingPathComponent("1.img"))
        }
        let spool = try ImageSpool(parent: dir.path)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(left == [alive, otherHost, "vxt-spool-\(host)-\(getpid())"].sorted())
        #expect(spool.directory.hasSuffix("vxt-spool-\(host)-\(getpid())"))
    }

    @Test func theSpoolIsTMPDIRWhenSetElseTheWorkDirectory() {
        #expect(ImageSpool.parent(workDirectory: "/w", environment: ["TMPDIR": "/scratch/job1"]) == "/scratch/job1")
        #expect(ImageSpool.parent(workDirectory: "/w", environment: [:]) == "/w")
        #expect(ImageSpool.parent(workDirectory: "/w", environment: ["TMPDIR": ""]) == "/w")
    }
}
