import Foundation
import Testing
@testable import VisualExtraction

/// Exports of a finished run, read back as a trainer or a script would read them.
@Suite struct ExporterTests {
    /// The samples run through a scripted teacher whose description of the deep-field record fails.
    static func finishedRun(_ dir: URL) async throws -> JobStore {
        let (opened, pipeline) = try RunnerTests.openSamples(dir)
        let runner = Runner(
            store: opened.store, pipeline: pipeline, teacher: RunnerTests.ScriptedTeacher(failing: "galaxies"),
            preparer: ImagePreparer(root: ImageRoot(path: TestSupport.sampleImages.path), settings: pipeline.definition.image),
            concurrency: 4)
        _ = try await runner.run()
        return opened.store
    }

    @Test func eachFormatHoldsEveryFinishedRecordOnceAndCountsTheRest() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await Self.finishedRun(dir)
        let exporter = try Exporter(store: store)

        let llava = dir.appendingPathComponent("corpus.llava.json")
        let summary = try exporter.export(.llava, to: llava.path)
        #expect(summary.written == 9 && summary.failed == 1 && summary.skipped == 2 && summary.unfinished == 0 && summary.mock == 0)
        guard case let .array(samples) = try JSONParser.parse([UInt8](Data(contentsOf: llava))) else {
            Issue.record("llava export is not a JSON array"); return
        }
        #expect(samples.count == 9)
        #expect(!samples.contains { $0["id"]?.stringValue == "hubble-0006" }, "a failed record is never exported")
        for sample in samples {
            guard case let .array(turns)? = sample["conversations"] else { Issue.record("no conversations"); continue }
            #expect(turns.map { $0["from"]?.stringValue } == ["human", "gpt"])
            #expect(turns[0]["value"]?.stringValue?.hasPrefix("<image>") == true)
            #expect(turns[1]["value"]?.stringValue == "A photo with many details.")
            #expect(sample["image"]?.stringValue?.hasPrefix("sk") == true)
        }

        let jsonl = dir.appendingPathComponent("corpus.jsonl")
        #expect(try exporter.export(.jsonl, to: jsonl.path).written == 9)
        let lines = try TestSupport.jsonLines(jsonl)
        let astronaut = try #require(lines.first { $0["id"]?.stringValue == "astronaut-0001" })
        guard case let .array(statements)? = astronaut["statements"], case let .array(pairs)? = astronaut["qa_pairs"] else {
            Issue.record("jsonl line without statements or pairs: \(astronaut.jsonText)"); return
        }
        #expect(statements.count == pairs.count && pairs.count == 4, "one statement per QA pair")

        // The paper's format: one line per input record, in input order, SKIP without an image.
        let paper = dir.appendingPathComponent("corpus.paper.jsonl")
        _ = try exporter.export(.paper, to: paper.path)
        let indexed = try TestSupport.jsonLines(paper)
        #expect(
            indexed.compactMap { $0["index"].flatMap { if case let .number(n) = $0 { Int(n) } else { nil } } } == [
                0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11
            ])
        #expect(indexed.filter { $0["caption"]?.stringValue == "SKIP" }.count == 2)
    }

    @Test func twoExportsOfOneStoreAreByteIdentical() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await Self.finishedRun(dir)
        for format in ExportFormat.allCases {
            let a = dir.appendingPathComponent("a.\(format.rawValue)"), b = dir.appendingPathComponent("b.\(format.rawValue)")
            _ = try Exporter(store: store).export(format, to: a.path)
            _ = try Exporter(store: store).export(format, to: b.path)
            #expect(try Data(contentsOf: a) == Data(contentsOf: b), "\(format)")
        }
    }
}
