import Foundation
import Testing
@testable import VisualExtraction

/// Layouts and quirks of real visual-instruction corpora, read through `vxt inspect`'s library.
@Suite struct CorpusFormatsTests {
    func inspect(_ text: String, name: String = "corpus.json", images: URL? = nil) throws -> CorpusInspection {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: file)
        return try CorpusInspector(path: file.path, imageRoot: images.map { ImageRoot(path: $0.path) }).run()
    }

    let pair = "{\"from\": \"human\", \"value\": \"<image>\\nWhat is it?\"}, {\"from\": \"gpt\", \"value\": \"A cat.\"}"

    @Test func llamaFactoryMessagesAndShareGPTRoles() throws {
        let text = """
            {"messages": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "<image>Who is this?"}, {"role": "assistant", "content": "A painter."}], "images": ["mllm_demo_data/1.jpg"]}
            {"id": "sg4v-1", "image": "sam/images/sa_1.jpg", "conversations": [{"from": "user", "value": "<image>\\nDescribe."}, {"from": "assistant", "value": "A street."}], "model": "ShareGPT4V", "source": "sam"}
            """
        let report = try inspect(text, name: "mixed.jsonl")
        #expect(report.layout == "jsonl")
        #expect(report.records == 2 && report.problems == 0 && report.pairs == 2)
        #expect(report.sources == ["mllm_demo_data": 1, "sam": 1])
        guard
            case let .success(record) = LLaVARecordDecoder.decode(
                RawRecord(index: 1, byteOffset: 0, line: 2, bytes: Array(text.split(separator: "\n")[1].utf8)))
        else {
            Issue.record("ShareGPT4V record must decode"); return
        }
        #expect(record.metadata == "{\"model\":\"ShareGPT4V\",\"source\":\"sam\"}", "extra fields kept as metadata")
    }

    /// LLaMA-Factory's alpaca layout (its other dataset format, images allowed) and LLaVA's own
    /// GPT-4 QA files: instruction (with its input), output, and earlier turns in `history`.
    @Test func alpacaRecordsAreReadAsTheirPairs() throws {
        let text = """
            {"instruction": "What is on the table?", "input": "Answer in one word.", "output": "Cups.", "history": [["Where is this?", "A kitchen."]], "images": ["k/1.jpg"], "system": "Be brief."}
            {"id": "7", "image": "COCO_val2014_1.jpg", "instruction": "Describe the image.", "output": "A cat on a sofa.", "type": "detail"}
            {"instruction": "What is it?", "output": ["A cat.", "A dog."], "images": ["k/2.jpg"]}
            """
        func decode(_ line: Int) -> Result<CorpusRecord, RecordProblem> {
            LLaVARecordDecoder.decode(
                RawRecord(index: line, byteOffset: 0, line: line + 1, bytes: Array(text.split(separator: "\n")[line].utf8)))
        }
        guard case let .success(factory) = decode(0), case let .success(llava) = decode(1), case let .failure(preference) = decode(2) else {
            Issue.record("two alpaca records decode; a list of outputs (preference data) is a problem"); return
        }
        #expect(factory.pairs.map(\.question) == ["Where is this?", "What is on the table?\nAnswer in one word."])
        #expect(factory.pairs.map(\.answer) == ["A kitchen.", "Cups."])
        #expect(factory.images == ["k/1.jpg"] && factory.metadata == "{\"system\":\"Be brief.\"}", "the layout's keys are not metadata")
        #expect(llava.sourceID == "7" && llava.pairs == [QAPair(question: "Describe the image.", answer: "A cat on a sofa.")])
        #expect(llava.metadata == "{\"type\":\"detail\"}")
        #expect(preference.reason.contains("`output` is missing, empty or not a string"), "\(preference.reason)")
        let report = try inspect(text, name: "alpaca.jsonl")
        #expect(report.records == 3 && report.problems == 1 && report.pairs == 3)
    }

    /// Some exports wrap the records in one object (`{"version": 1, "data": [...]}`): that is one
    /// unusable record, and its reason says how to take the list out.
    @Test func aFileThatIsOneObjectHoldingTheRecordsSaysHowToTakeThemOut() throws {
        let report = try inspect(
            "{\"version\": 1, \"data\": [{\"image\": \"a.jpg\", \"conversations\": [\(pair)]}, {\"conversations\": [\(pair)]}]}")
        #expect(report.records == 1 && report.problems == 1)
        let reason = try #require(report.errors.first?.reason)
        #expect(reason.contains("holds 2 records in its `data` list") && reason.contains("jq '.data' FILE > records.json"), "\(reason)")
    }

    /// A wrapping object too large to read (the whole corpus is one "record" over the splitter's
    /// cap) is named for what it is from its first bytes; a record that is merely huge is not.
    @Test func aWrapperTooLargeToReadIsNamedFromItsFirstBytes() throws {
        let records = (0..<40).map { "{\"id\": \"\($0)\", \"conversations\": [\(pair)]}" }.joined(separator: ", ")
        let file = try TestSupport.temporaryDirectory().appendingPathComponent("wrapped.json")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        func problems(_ text: String) throws -> [String] {
            try Data(text.utf8).write(to: file)
            var splitter = RecordSplitter(path: file.path)
            splitter.largestRecord = 1000
            var reasons: [String] = []
            _ = try splitter.forEach { if case let .problem(problem) = $0 { reasons.append(problem.reason) } }
            return reasons
        }
        let wrapped = try problems("{\"version\": 1, \"meta\": {\"tags\": [\"a\", \"b]\"]},\n \"items\": [\(records)]}")
        #expect(wrapped.count == 1)
        #expect(wrapped.first?.contains("larger than 1000 bytes; it was not read; this object holds records in its `items` list") == true)
        #expect(wrapped.first?.contains("jq '.items' FILE > records.json") == true, "\(wrapped)")
        // One huge record: its own turns are no list of records.
        let huge = try problems("{\"id\": \"x\", \"conversations\": [\((0..<40).map { _ in pair }.joined(separator: ", "))]}")
        #expect(huge == ["record is larger than 1000 bytes; it was not read"])
        // A list of numbers, or a list that opens beyond the first bytes kept, is not named either.
        #expect(WrappedRecords.listKey(inHead: Array("{\"data\": [1, 2]}".utf8)) == nil)
        #expect(WrappedRecords.listKey(inHead: Array("{\"note\": \"x\", \"da".utf8)) == nil)
        #expect(WrappedRecords.listKey(inHead: Array(" {\n  \"rows\" :\n [ {\"a\": 1".utf8)) == "rows")
    }

    @Test(.enabled(if: TestSupport.sharedData != nil, "../shared/data is not beside this checkout"))
    func llavasOwnGPT4QAFileIsReadWhole() throws {
        let shared = try #require(TestSupport.sharedData)
        let file = shared.appendingPathComponent("records/llava_main/coco2014_val_gpt4_qa_30x3.jsonl")
        let report = try CorpusInspector(path: file.path, imageRoot: nil).run()
        // 30 COCO images, 3 questions each (conv, detail, complex), one record per question.
        #expect(report.records == 90 && report.problems == 0 && report.pairs == 90 && report.withImage == 90)
        #expect(report.duplicateIDs == 60 && report.duplicateExamples.count == Set(report.duplicateExamples).count)
    }

    @Test func multiImageVideoDuplicateIdsAndIdVariants() throws {
        let text = """
            [
              {"id": "m1", "image": ["a.jpg", "b.jpg"], "conversations": [{"from": "human", "value": "<image>\\n<image>\\nSame place?"}, {"from": "gpt", "value": "Yes."}]},
              {"id": "v1", "video": "clip.mp4", "conversations": [\(pair)]},
              {"id": "dup", "image": "x.jpg", "conversations": [\(pair)]},
              {"id": "dup", "image": "y.jpg", "conversations": [\(pair)]},
              {"idx": 7, "image": "z.jpg", "conversations": [\(pair)]},
              {"index": "q-9", "image": "nan", "conversations": [\(pair)]}
            ]
            """
        let report = try inspect(text)
        #expect(report.records == 6)
        #expect(report.multiImage == 1)
        #expect(report.video == 1)
        #expect(report.duplicateIDs == 1 && report.duplicateExamples == ["dup"])
        #expect(report.withoutImage == 2, "the video record and the \"nan\" image")
        #expect(report.imageTokenPlacement["first"] == 6)
    }

    @Test func malformedRecordsAreReportedWithPositionsAndTheRestIsRead() throws {
        let text =
            "[\n"
            + [
                "{\"id\": \"ok-1\", \"image\": \"a.jpg\", \"conversations\": [\(pair)]}",
                "{\"id\": \"types\", \"image\": \"a.jpg\", \"conversations\": {\"from\": \"human\"}}",
                "{\"id\": \"odd\", \"image\": \"a.jpg\", \"conversations\": [\(pair), {\"from\": \"human\", \"value\": \"More?\"}]}",
                "{\"id\": \"empty\", \"image\": \"a.jpg\", \"conversations\": [{\"from\": \"human\", \"value\": \"<image>\\nWhat?\"}, {\"from\": \"gpt\", \"value\": \"  \"}]}",
                "{\"id\": \"ok-2\", \"image\": \"a.jpg\", \"conversations\": [\(pair)]}",
                "{\"id\": \"cut\", \"image\": \"a.jpg\", \"conversations\": [{\"from\": \"hu"
            ].joined(separator: ",\n")
        let report = try inspect(text)
        #expect(report.records == 6)
        #expect(report.problems == 4)
        #expect(report.withImage == 2)
        let reasons = Dictionary(uniqueKeysWithValues: report.errors.map { ($0.position, $0.reason) })
        #expect(reasons[1]?.contains("`conversations` is an object") == true)
        #expect(reasons[2]?.contains("odd number of turns") == true)
        #expect(reasons[3]?.contains("turn 2 is empty") == true)
        #expect(reasons[5]?.contains("truncated") == true)
        #expect(report.errors.first { $0.position == 3 }?.line == 5)
        #expect(report.errors.first { $0.position == 3 }?.id == "empty")
    }

    /// A benchmark's file (questions, answers held back) is 3,000 unusable records: counted as one
    /// reason whatever their turn counts, across the workers' batches, with its first record as the
    /// example and a reason that says what the file is; another reason stays a group of its own.
    @Test func anEvaluationFileIsOneReasonNotThreeThousand() throws {
        var lines: [String] = []
        for i in 0..<3000 {
            let turns = i % 2 == 0 ? 1 : 3
            let conversation = (0..<turns).map { n -> String in
                n % 2 == 0 ? "{\"from\": \"human\", \"value\": \"<image>\\nQuestion \(i)?\"}" : "{\"from\": \"gpt\", \"value\": \"B\"}"
            }
            lines.append(
                "{\"id\": \"mmb-\(i)\", \"image\": \"mmb/\(i).jpg\", \"conversations\": [\(conversation.joined(separator: ", "))]}")
            if i % 1000 == 999 {
                lines.append("{\"id\": \"bad-\(i)\", \"image\": \"x.jpg\", \"conversations\": [{\"from\": \"gpt\", \"value\": \"B\"}]}")
            }
        }
        let report = try inspect(lines.joined(separator: "\n"), name: "mmbench.jsonl")
        #expect(report.records == 3003 && report.problems == 3003)
        #expect(report.errorGroups.map(\.count) == [3000, 3])
        let answerless = try #require(report.errorGroups.first)
        #expect(answerless.reason.hasPrefix("conversations has N turns and the last human turn has no answer"))
        #expect(answerless.reason.contains("an evaluation file of bare questions cannot be used as it is"))
        #expect(answerless.example.id == "mmb-0" && answerless.example.position == 0)
        #expect(report.errorGroups.last?.example.id == "bad-999")
        #expect(report.errors.count == 100, "the first hundred are listed one by one; all are counted")
    }

    @Test func nonUTF8BytesAreAnErrorWithTheirOffset() throws {
        var bytes = Array(
            "{\"id\": \"a\", \"image\": \"x.jpg\", \"conversations\": [\(pair)]}\n{\"id\": \"b\", \"image\": \"x.jpg\", \"conversations\": [{\"from\": \"human\", \"value\": \"caf"
                .utf8)
        bytes += [0xE9]  // Latin-1 'é', not UTF-8
        bytes += Array("\"}, {\"from\": \"gpt\", \"value\": \"ok\"}]}\n".utf8)
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("latin1.jsonl")
        try Data(bytes).write(to: file)
        let report = try CorpusInspector(path: file.path, imageRoot: nil).run()
        #expect(report.records == 2 && report.problems == 1)
        #expect(report.errors.first?.reason.contains("not valid UTF-8") == true)
        #expect(report.errors.first?.line == 2)
    }

    @Test func aFiftyMegabyteRecordIsReadLikeAnyOther() throws {
        let big = String(repeating: "very long answer ", count: 50 * 1024 * 1024 / 17)
        let text =
            "[{\"id\": \"small\", \"image\": \"a.jpg\", \"conversations\": [\(pair)]},\n"
            + "{\"id\": \"huge\", \"image\": \"b.jpg\", \"conversations\": [{\"from\": \"human\", \"value\": \"Describe.\"}, {\"from\": \"gpt\", \"value\": \"\(big)\"}]},\n"
            + "{\"id\": \"after\", \"image\": \"c.jpg\", \"conversations\": [\(pair)]}]"
        let report = try inspect(text)
        #expect(report.records == 3 && report.problems == 0 && report.pairs == 3)
    }

    /// The sample corpus copied into `dir` as corpus.json, with corpus.json.gz beside it (gzip -k).
    static func gzippedSampleCorpus(in dir: URL) throws -> URL {
        let plain = dir.appendingPathComponent("corpus.json")
        try FileManager.default.copyItem(at: TestSupport.sampleCorpus, to: plain)
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gzip.arguments = ["gzip", "-k", plain.path]
        try gzip.run()
        gzip.waitUntilExit()
        return plain
    }

    @Test func gzipInputIsReadTransparently() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = try CorpusFormatsTests.gzippedSampleCorpus(in: dir)
        let a = try CorpusInspector(path: plain.path, imageRoot: nil).run()
        let b = try CorpusInspector(path: plain.path + ".gz", imageRoot: nil).run()
        #expect(a.records == 12 && b.records == 12)
        #expect(a.pairs == b.pairs)
        #expect(a.sha256 == b.sha256, "the hash is of the decompressed records")
    }

    @Test func aTruncatedGzipIsAnErrorNotAShorterCorpus() throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = try CorpusFormatsTests.gzippedSampleCorpus(in: dir)
        let whole = try Data(contentsOf: URL(fileURLWithPath: plain.path + ".gz"))
        let cut = dir.appendingPathComponent("cut.json.gz")
        try whole.prefix(whole.count * 2 / 3).write(to: cut)
        #expect {
            _ = try CorpusInspector(path: cut.path, imageRoot: nil).run()
        } throws: { error in
            "\(error)".contains("unexpected end of file") && "\(error)".contains("truncated")
        }
    }

    @Test(arguments: ["", "   \n", "[]", "[\n]\n"])
    func anInputWithoutRecordsIsAnError(_ text: String) throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("empty.json")
        try text.write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: RecordSplitter.OpenError.self) { _ = try CorpusInspector(path: file.path, imageRoot: nil).run() }
    }

    @Test func aPipeIsReadFromItsFirstByte() async throws {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("corpus.fifo")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = ["-c", "cat \"$0\" > \"$1\"", TestSupport.sampleCorpus.path, fifo.path]
        try writer.run()
        let piped = try CorpusInspector(path: fifo.path, imageRoot: nil).run()
        let plain = try CorpusInspector(path: TestSupport.sampleCorpus.path, imageRoot: nil).run()
        #expect(piped.records == 12 && piped.problems == 0, "the magic-byte probe must not eat the first bytes")
        #expect(piped.sha256 == plain.sha256)
        _ = await TestSupport.exitStatus(of: writer)
    }

    @Test func zstdInputIsReadTransparentlyAndATruncatedFrameIsNamed() throws {
        // samples/llava_sample.json compressed (`zstd -19 samples/llava_sample.json -o <this file>`;
        // regenerate it when the sample corpus changes).
        let fixture = TestSupport.packageRoot.appendingPathComponent("Tests/VisualExtractionTests/Fixtures/corpus/llava_sample.json.zst")
        let plain = try CorpusInspector(path: TestSupport.sampleCorpus.path, imageRoot: nil).run()
        let zstd = try CorpusInspector(path: fixture.path, imageRoot: nil).run()
        #expect(zstd.records == plain.records && zstd.pairs == plain.pairs)
        #expect(zstd.sha256 == plain.sha256, "the hash is of the decompressed records; regenerate the fixture if the samples changed")

        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let truncated = dir.appendingPathComponent("cut.json.zst")
        let bytes = try Data(contentsOf: fixture)
        try bytes.prefix(bytes.count / 2).write(to: truncated)
        #expect {
            _ = try CorpusInspector(path: truncated.path, imageRoot: nil).run()
        } throws: { error in
            "\(error)".contains("truncated") && "\(error)".contains(truncated.path)
        }
    }

    @Test func inspectCommandOnTheSamples() async throws {
        let result = try await TestSupport.runVXT(["inspect", "samples/llava_sample.json", "--images", "samples/images", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONDecoder().decode(CorpusInspection.self, from: Data(result.stdout.utf8))
        #expect(report.records == 12 && report.withImage == 10 && report.withoutImage == 2)
        #expect(report.pairs == 23)
        #expect(report.pairsPerRecord.min == 1 && report.pairsPerRecord.median == 2 && report.pairsPerRecord.max == 4)
        #expect(report.multipleChoicePairs == 1 && report.regionPairs == 1)
        #expect(report.answerFormats["single-word-or-phrase"] == 11)
        #expect(report.missingImages == 0)
        let text = try await TestSupport.runVXT(["inspect", "samples/llava_sample.json"])
        #expect(text.stdout.contains("records: 12 · with image 10 · without 2"))
    }
}
