import Foundation
import Testing
@testable import VisualExtraction

@Suite struct ImageCheckTests {
    @Test func imagesCommandReportsEachKindOfProblem() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let images = dir.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        let fixtures = ImageFormatsTests.fixtures
        try FileManager.default.copyItem(at: fixtures.appendingPathComponent("webp-named.jpg"), to: images.appendingPathComponent("ad.jpg"))
        try FileManager.default.copyItem(
            at: TestSupport.sampleImages.appendingPathComponent("skimage/retina.jpg"), to: images.appendingPathComponent("big.jpg"))
        let rocket = try Data(contentsOf: TestSupport.sampleImages.appendingPathComponent("skimage/rocket.jpg"))
        try rocket.prefix(20_000).write(to: images.appendingPathComponent("cut.jpg"))
        try rocket.write(to: images.appendingPathComponent("fine.jpg"))
        try Data("<html>404</html>".utf8).write(to: images.appendingPathComponent("page.jpg"))
        func record(_ id: String, _ image: String) -> String {
            "{\"id\": \"\(id)\", \"image\": \"\(image)\", \"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \"a\"}]}"
        }
        let input = dir.appendingPathComponent("corpus.jsonl")
        try Data(
            [
                record("a", "fine.jpg"), record("b", "ad.jpg"), record("c", "cut.jpg"), record("d", "gone.jpg"),
                record("e", "../corpus.jsonl"), record("f", "page.jpg"), record("g", "big.jpg")
            ].joined(separator: "\n").utf8
        ).write(to: input)

        let result = try await TestSupport.runVXT([
            "images", "--input", input.path, "--images", images.path, "--max-pixels", "1000000", "--json"
        ])
        #expect(result.status == 1, "problems make the check fail")
        let report = try JSONDecoder().decode(ImageCheck.Report.self, from: Data(result.stdout.utf8))
        #expect(report.images == 7)
        #expect(report.ok == 2)
        #expect(report.formats == ["jpeg": 1, "webp": 1])
        #expect(report.misnamed == 1)
        #expect(report.missing.map(\.record) == ["d"])
        #expect(report.outsideRoot.map(\.record) == ["e"])
        #expect(report.corrupt.map(\.record) == ["c"])
        #expect(report.unsupported.map(\.record) == ["f"])
        #expect(report.oversized.map(\.record) == ["g"])
        #expect(report.oversized.first?.reason.contains("1411x1411") == true)

        let text = try await TestSupport.runVXT(["images", "--input", "samples/llava_sample.json", "--images", "samples/images"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("10 images: 10 ok, 0 with problems"))
    }
}
