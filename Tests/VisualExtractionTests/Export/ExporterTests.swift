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

        // The paper's format: one line per input record, in input order, SKIP without an image,
        // and the failed record as a line a reader cannot take for a caption.
        let paper = dir.appendingPathComponent("corpus.paper.jsonl")
        _ = try exporter.export(.paper, to: paper.path)
        let indexed = try TestSupport.jsonLines(paper)
        #expect(indexed.map { $0["index"].flatMap(Self.integer) } == Array(0...11), "no gaps in the indices")
        #expect(indexed.filter { $0["caption"]?.stringValue == "SKIP" }.count == 2)
        #expect(indexed[5]["caption"] == .null && indexed[5]["reason"]?.stringValue == "failed", "\(indexed[5].jsonText)")
        #expect(indexed[5]["kind"]?.stringValue == FailureKind.httpStatus.rawValue, "\(indexed[5].jsonText)")
        #expect(
            try String(contentsOf: paper, encoding: .utf8).split(separator: "\n")[5]
                == #"{"index": 5, "caption": null, "reason": "failed", "kind": "http_status"}"#, "written as json.dumps would")
    }

    static func integer(_ value: JSONValue) -> Int? {
        if case let .number(n) = value { Int(n) } else { nil }
    }

    /// What LLaMA-Factory's and ms-swift's loaders require of a line: user and assistant turns
    /// alternating from the user, as many `<image>` tags as images, and every image a file.
    static func trainerProblems(_ line: JSONValue) -> [String] {
        var problems: [String] = []
        guard case let .array(turns)? = line["messages"], case let .array(images)? = line["images"] else {
            return ["no messages or images: \(line.jsonText)"]
        }
        for (index, turn) in turns.enumerated() where turn["role"]?.stringValue != (index % 2 == 0 ? "user" : "assistant") {
            problems.append("turn \(index) has role \(turn["role"]?.jsonText ?? "none")")
        }
        if turns.count % 2 != 0 { problems.append("an odd number of turns") }
        let tags = turns.compactMap { $0["content"]?.stringValue }.reduce(0) { $0 + $1.components(separatedBy: "<image>").count - 1 }
        if tags != images.count { problems.append("\(tags) <image> tags for \(images.count) images") }
        for image in images.compactMap(\.stringValue) where !FileManager.default.fileExists(atPath: image) {
            problems.append("image \(image) is not a file")
        }
        return problems
    }

    @Test(arguments: [ExportFormat.llamafactory, .swift])
    func trainerFormatsAreWhatTheTrainersLoad(_ format: ExportFormat) async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await Self.finishedRun(dir)
        let out = dir.appendingPathComponent("corpus.\(format.rawValue).jsonl")
        let summary = try Exporter(store: store).export(format, to: out.path)
        #expect(summary.written == 9 && summary.failed == 1 && summary.skipped == 2)
        let lines = try TestSupport.jsonLines(out)
        #expect(lines.count == 9)
        for line in lines {
            #expect(Self.trainerProblems(line) == [], "\(line.jsonText)")
            guard case let .array(turns)? = line["messages"] else { continue }
            #expect(turns.last?["content"]?.stringValue == "A photo with many details.")
        }
        #expect(lines.first?["id"]?.stringValue == "astronaut-0001")
        // Paths as in the corpus when asked: then they resolve under the run's --images.
        let relative = dir.appendingPathComponent("relative.jsonl")
        _ = try Exporter(store: store).export(format, to: relative.path, imageFolder: "")
        let first = try #require(TestSupport.jsonLines(relative).first)
        #expect(first["images"] == .array([.string("skimage/astronaut.png")]))
    }

    @Test func aLlamaFactoryExportRegistersItselfBesideTheOtherDatasets() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let registry = dir.appendingPathComponent("dataset_info.json")
        try Data(#"{"alpaca_en_demo": {"file_name": "alpaca_en_demo.json"}, "corpus": {"file_name": "old.json"}}"#.utf8).write(to: registry)
        let export = dir.appendingPathComponent("corpus.jsonl").path
        #expect(DatasetInfo.defaultName(forExport: export) == "corpus")
        #expect(DatasetInfo.defaultName(forExport: "/x/corpus.llamafactory.jsonl") == "corpus_llamafactory")
        try DatasetInfo.register(exportPath: export, name: "corpus")
        let entries = try JSONParser.parse([UInt8](Data(contentsOf: registry)))
        guard case let .object(members) = entries else { Issue.record("not an object"); return }
        #expect(members.map(\.key) == ["alpaca_en_demo", "corpus"], "other entries kept, ours replaced")
        #expect(entries["alpaca_en_demo"] == .object([("file_name", .string("alpaca_en_demo.json"))]))
        #expect(entries["corpus"]?["file_name"]?.stringValue == "corpus.jsonl")
        #expect(entries["corpus"]?["formatting"]?.stringValue == "sharegpt")
        #expect(entries["corpus"]?["columns"] == .object([("messages", .string("messages")), ("images", .string("images"))]))

        try Data("[1, 2]".utf8).write(to: registry)
        #expect(throws: DatasetInfo.Failure.self, "a registry that is not an object is never overwritten") {
            try DatasetInfo.register(exportPath: export, name: "corpus")
        }
        #expect(try String(contentsOf: registry, encoding: .utf8) == "[1, 2]")
    }

    @Test func thePaperFormatMarksUnfinishedRecords() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (opened, _) = try RunnerTests.openSamples(dir)
        let paper = dir.appendingPathComponent("paper.jsonl")
        let summary = try Exporter(store: opened.store).export(.paper, to: paper.path)
        #expect(summary.unfinished == 10 && summary.written == 0)
        let lines = try TestSupport.jsonLines(paper)
        #expect(lines.map { $0["index"].flatMap(Self.integer) } == Array(0...11))
        #expect(lines.filter { $0["reason"]?.stringValue == "unfinished" && $0["caption"] == .null }.count == 10)
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
