import Foundation
import Testing
@testable import VisualExtraction

/// Corpora written for today's trainers keep a turn's content as a list of parts (the OpenAI chat
/// format, TRL, Qwen-VL's fine-tuning data). The samples rewritten in each of those layouts, the
/// way their converters write them, must make the very corpus the LLaVA original makes; and a
/// layout vxt cannot read must stop the run before anything is ingested, not fail record by record.
@Suite(.timeLimit(.minutes(15))) struct ContentPartsLayoutTests {
    enum Layout: String, CaseIterable {
        /// `{"type": "image_url", "image_url": {"url": "file://…"}}` in the user turn.
        case openAI
        /// `{"type": "image", "image": "path"}` in the turn, no top-level `images`.
        case qwen
        /// `{"type": "image"}` placeholders, paths in the record's `images` list.
        case trl
    }

    /// One LLaVA turn as content parts: text between `<image>` tokens, each token an image part
    /// (the newline LLaVA puts beside a token is the converter's, not the text's).
    static func parts(_ text: String, images: inout [String], layout: Layout) -> [[String: Any]] {
        var parts: [[String: Any]] = []
        let pieces = text.components(separatedBy: "<image>")
        for (index, piece) in pieces.enumerated() {
            var piece = piece
            if index > 0 {
                if piece.hasPrefix("\n") { piece.removeFirst() }
                let path = images.isEmpty ? "" : images.removeFirst()
                switch layout {
                case .openAI: parts.append(["type": "image_url", "image_url": ["url": "file://" + path]])
                case .qwen: parts.append(["type": "image", "image": path])
                case .trl: parts.append(["type": "image"])
                }
            }
            if index < pieces.count - 1, piece.hasSuffix("\n") { piece.removeLast() }
            if !piece.isEmpty { parts.append(["type": "text", "text": piece]) }
        }
        return parts
    }

    /// The samples as `layout`'s converter writes them, one JSON object per line.
    static func rewrite(_ layout: Layout) throws -> String {
        let data = try Data(contentsOf: TestSupport.sampleCorpus)
        let records = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        var lines: [String] = []
        for record in records {
            var out: [String: Any] = [:]
            for key in ["id", "idx"] where record[key] != nil { out[key] = record[key] }
            // The samples' text-only records say `"image": "None"`; a converter leaves the image out.
            let image = (record["image"] as? String).flatMap { LLaVARecordDecoder.noImageValues.contains($0) ? nil : $0 }
            var unplaced = image.map { [$0] } ?? []
            var messages: [[String: Any]] = []
            for turn in try #require(record["conversations"] as? [[String: String]]) {
                let role = turn["from"] == "human" ? "user" : "assistant"
                let text = try #require(turn["value"])
                // A text-only turn stays a string, as the converters leave it.
                let content: Any = text.contains("<image>") ? parts(text, images: &unplaced, layout: layout) : text
                messages.append(["role": role, "content": content])
            }
            if !unplaced.isEmpty, layout != .trl {
                // An image no turn placed (its question never says <image>) still belongs to the first turn.
                var first = messages[0]
                let text = first["content"] as? String ?? ""
                first["content"] = parts("<image>\n" + text, images: &unplaced, layout: layout)
                messages[0] = first
            }
            out["messages"] = messages
            if layout == .trl, let image { out["images"] = [image] }
            let line = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys, .withoutEscapingSlashes])
            lines.append(String(decoding: line, as: UTF8.self))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func runAndExport(input: String, in dir: URL) async throws -> String {
        let work = dir.appendingPathComponent("work-" + (input as NSString).lastPathComponent).path
        let run = try await TestSupport.runVXT([
            "run", "paper", "--input", input, "--images", TestSupport.sampleImages.path, "--work", work
        ])
        #expect(run.status == 0, "\(input): \(run.stderr)")
        let export = try await TestSupport.runVXT(["export", "--work", work, "--format", "llava", "--out", "-"])
        #expect(export.status == 0, "\(export.stderr)")
        return export.stdout
    }

    @Test func theSamplesInEachPartsLayoutMakeTheCorpusOfTheirLLaVAOriginal() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let original = try await runAndExport(input: TestSupport.sampleCorpus.path, in: dir)
        #expect(original.split(separator: "\n").count == 12, "10 records between the brackets: \(original)")
        for layout in Layout.allCases {
            let file = dir.appendingPathComponent("samples-\(layout.rawValue).jsonl")
            try Data(try Self.rewrite(layout).utf8).write(to: file)
            let rewritten = try await runAndExport(input: file.path, in: dir)
            #expect(rewritten == original, "\(layout): the same 10 records, statements and descriptions")
        }
    }

    @Test func partsThatNameNoFileAreProblemsThatSayWhatToDo() throws {
        func decode(_ json: String) -> Result<CorpusRecord, RecordProblem> {
            LLaVARecordDecoder.decode(RawRecord(index: 0, byteOffset: 0, line: 1, bytes: Array(json.utf8)))
        }
        func turn(_ part: String) -> String {
            """
            {"id": "r", "messages": [{"role": "user", "content": [\(part), {"type": "text", "text": "What?"}]}, {"role": "assistant", "content": "A cat."}]}
            """
        }
        guard case let .failure(url) = decode(turn(#"{"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}"#)),
            case let .failure(inline) = decode(turn(#"{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}"#)),
            case let .failure(unknown) = decode(turn(#"{"type": "input_audio", "input_audio": {}}"#)),
            case let .success(video) = decode(turn(#"{"type": "video", "video": "clip.mp4"}"#)),
            case let .success(qwen) = decode(turn(#"{"type": "image", "image": "file://coco/1.jpg"}"#))
        else {
            Issue.record("URL, data: and unknown parts are problems; video and file parts decode"); return
        }
        #expect(url.reason.contains("https://example.com/cat.jpg") && url.reason.contains("download them"), "\(url.reason)")
        #expect(inline.reason.contains("data: URL") && inline.reason.contains("write the images out"), "\(inline.reason)")
        #expect(unknown.reason.contains("content part 1 has type \"input_audio\""), "\(unknown.reason)")
        #expect(video.skipReason == "video")
        #expect(qwen.images == ["coco/1.jpg"] && qwen.pairs.first?.question == "<image>\nWhat?")
    }

    /// The Cauldron's `texts` layout is not one vxt reads: a 665k-record file of it would be read
    /// whole and fail every record. The preflight reads a few and stops with what it found.
    @Test func aLayoutVxtCannotReadStopsTheRunBeforeIngest() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("cauldron.jsonl")
        let lines = (0..<200).map {
            #"{"images": ["sklearn/china.jpg"], "texts": [{"user": "What is shown \#($0)?", "assistant": "A temple.", "source": "vqa"}]}"#
        }
        try Data(lines.joined(separator: "\n").utf8).write(to: input)
        let work = dir.appendingPathComponent("work").path
        let result = try await TestSupport.runVXT([
            "run", "paper", "--input", input.path, "--images", TestSupport.sampleImages.path, "--work", work
        ])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("none of the first 20 records"), "\(result.stderr)")
        #expect(result.stderr.contains("(its keys: `images`, `texts`)"), "the record's own keys are named: \(result.stderr)")
        #expect(result.stderr.contains("Nothing was ingested or sent"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work + "/vxt.sqlite"))
        // `vxt inspect` lists every record and fails too, so that a script stops before its run.
        let inspect = try await TestSupport.runVXT(["inspect", input.path])
        #expect(inspect.status == 1 && inspect.stderr.contains("not one of the 200 records"), "\(inspect.stderr)")
        #expect(inspect.stdout.contains("unusable records (200), by reason:"), "\(inspect.stdout)")

        // A few bad records at the start of a readable corpus are that corpus's problems, not its layout's.
        let mixed = dir.appendingPathComponent("mixed.jsonl")
        let sample = try Self.rewrite(.qwen)
        try Data((lines.prefix(5).joined(separator: "\n") + "\n" + sample).utf8).write(to: mixed)
        let run = try await TestSupport.runVXT([
            "run", "paper", "--input", mixed.path, "--images", TestSupport.sampleImages.path, "--work", work
        ])
        #expect(run.status == 2 && run.stderr.contains("5  statements: input_invalid"), "\(run.stderr)")
        #expect(try JobStore.open(workDirectory: work).counts(stage: "extraction")[.done] == 10)
    }

    /// The samples wrapped in one object (`{"version": 1, "data": [...]}`) are one record that
    /// holds the others: the preflight stops with the command that takes them out, and the file
    /// that command writes runs.
    @Test func aCorpusWrappedInOneObjectStopsTheRunWithHowToTakeItOut() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let records = try String(contentsOf: TestSupport.packageRoot.appendingPathComponent("samples/llava_sample.json"), encoding: .utf8)
        let input = dir.appendingPathComponent("wrapped.json")
        try Data("{\"version\": 1, \"data\": \(records)}".utf8).write(to: input)
        let work = dir.appendingPathComponent("work").path
        let arguments = ["--images", TestSupport.sampleImages.path, "--work", work]
        let result = try await TestSupport.runVXT(["run", "paper", "--input", input.path] + arguments)
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("\(input.path) is one object, not a list of records"), "\(result.stderr)")
        #expect(result.stderr.contains("holds 12 records in its `data` list"), "\(result.stderr)")
        #expect(result.stderr.contains("`jq '.data' FILE > records.json`. Nothing was ingested or sent."), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: work + "/vxt.sqlite"))
        // What `jq '.data'` writes.
        let wrapped = try JSONSerialization.jsonObject(with: Data(contentsOf: input)) as? [String: Any]
        let taken = dir.appendingPathComponent("records.json")
        try JSONSerialization.data(withJSONObject: try #require(wrapped?["data"])).write(to: taken)
        let run = try await TestSupport.runVXT(["run", "paper", "--input", taken.path] + arguments)
        #expect(run.status == 0, "\(run.stderr)")
    }
}
