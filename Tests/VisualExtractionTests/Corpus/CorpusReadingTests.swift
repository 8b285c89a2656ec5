import Foundation
import Testing
@testable import VisualExtraction

@Suite struct RecordSplitterTests {
    func split(_ text: String, chunkSize: Int = 7, largestRecord: Int = 64 << 20) throws -> (
        records: [RawRecord], problems: [SplitProblem], summary: RecordSplitter.Summary
    ) {
        let dir = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("input.json")
        try Data(text.utf8).write(to: file)
        var splitter = RecordSplitter(path: file.path)
        splitter.chunkSize = chunkSize  // tiny chunks: records straddle chunk boundaries
        splitter.largestRecord = largestRecord
        var records: [RawRecord] = []
        var problems: [SplitProblem] = []
        let summary = try splitter.forEach { event in
            switch event {
            case let .record(r): records.append(r)
            case let .problem(p): problems.append(p)
            }
        }
        return (records, problems, summary)
    }

    /// A pretty-printed array as Python's `json.dump(records, f, indent=2)` writes it.
    static func prettyArray(_ ids: [String]) -> String {
        "[\n"
            + ids.map { id in
                """
                  {
                    "id": "\(id)",
                    "image": "a.jpg",
                    "conversations": [
                      {
                        "from": "human",
                        "value": "<image>\\nWhat is it?"
                      },
                      {
                        "from": "gpt",
                        "value": "A cup."
                      }
                    ]
                  }
                """
            }.joined(separator: ",\n") + "\n]\n"
    }

    @Test(arguments: [7, 4096])
    func aRecordCutInsideAStringLosesOnlyItself(chunkSize: Int) throws {
        // Record b is cut in the middle of its question (a bad merge, a truncated copy).
        var text = Self.prettyArray(["a", "b", "c", "d"])
        let cut = try #require(
            text.range(
                of:
                    "What is it?\"\n      },\n      {\n        \"from\": \"gpt\",\n        \"value\": \"A cup.\"\n      }\n    ]\n  },\n  {\n    \"id\": \"c\""
            ))
        // Cut b right after "What" and let c follow on the next line.
        let bStart = try #require(text.range(of: "\"id\": \"b\""))
        let whatInB = try #require(text.range(of: "What", range: bStart.upperBound..<text.endIndex))
        text.replaceSubrange(whatInB.upperBound..<cut.upperBound, with: "\n  },\n  {\n    \"id\": \"c\"")
        let (records, problems, _) = try split(text, chunkSize: chunkSize)
        let ids = try records.map { try JSONParser.parse($0.bytes)["id"]?.stringValue }
        #expect(ids == ["a", "c", "d"], "the records after the cut one are read")
        #expect(problems.count == 1)
        #expect(problems.first?.reason.contains("ends inside a string") == true)
        #expect(problems.first?.index == 1 && records.map(\.index) == [0, 2, 3])
    }

    @Test func aStrayClosingBraceBetweenRecordsIsReportedAndTheRestIsRead() throws {
        let text = #"[{"id": "a", "image": "x.jpg"}, }, {"id": "b", "image": "y.jpg"}, {"id": "c", "image": "z.jpg"}]"#
        let (records, problems, _) = try split(text)
        let ids = try records.map { try JSONParser.parse($0.bytes)["id"]?.stringValue }
        #expect(ids == ["a", "b", "c"])
        #expect(problems.map(\.reason) == ["unexpected '}' between records"])
    }

    @Test(arguments: ["array", "jsonl"])
    func aRecordOverTheSizeLimitIsReportedNotHeld(layout: String) throws {
        let big = #"{"id": "big", "image": "x.jpg", "pad": ""# + String(repeating: "x", count: 5000) + #""}"#
        let small = #"{"id": "s", "image": "x.jpg"}"#
        let text = layout == "array" ? "[\(small), \(big), \(small)]" : "\(small)\n\(big)\n\(small)\n"
        let (records, problems, _) = try split(text, largestRecord: 1000)
        #expect(records.count == 2 && records.allSatisfy { $0.bytes.count < 100 })
        #expect(problems.map(\.reason) == ["record is larger than 1000 bytes; it was not read"])
        #expect(problems.first?.index == 1)
    }

    @Test func aWellFormedPrettyArrayIsReadWhole() throws {
        let (records, problems, _) = try split(Self.prettyArray(["a", "b", "c"]), chunkSize: 5)
        #expect(records.count == 3 && problems.isEmpty)
    }

    @Test func jsonArrayWithStringsHoldingBrackets() throws {
        let text = "[\n  {\"id\": \"a\", \"v\": \"}]\\\"[{\"},\n  {\"id\": \"b\", \"n\": [1, {\"x\": 2}]}\n]\n"
        let (records, problems, summary) = try split(text)
        #expect(summary.layout == .jsonArray)
        #expect(problems.isEmpty)
        #expect(records.map { try? JSONParser.parse($0.bytes)["id"] } == [.string("a"), .string("b")])
        #expect(records[1].line == 3)
        #expect(records[0].byteOffset == 4)
    }

    @Test func jsonLinesKeepsGoingAfterABadLine() throws {
        let text = "{\"id\": 1}\n{\"id\": 2, \"broken\": [\n{\"id\": 3}\n"
        let (records, problems, summary) = try split(text)
        #expect(summary.layout == .jsonLines)
        #expect(records.count == 2)
        #expect(problems.count == 1)
        #expect(problems.first?.line == 2)
        #expect(records.last?.index == 2)
    }

    @Test func prettyPrintedObjectsOneAfterAnother() throws {
        let (records, problems, summary) = try split("{\n  \"id\": 1\n}\n{\n  \"id\": 2\n}\n")
        #expect(summary.layout == .concatenated)
        #expect(records.count == 2 && problems.isEmpty)
    }

    @Test func aFirstJSONLLineCutInsideAStringLosesOnlyItself() throws {
        let text =
            "{\"id\": \"a\", \"conversations\": [{\"from\": \"human\", \"value\": \"What is\n"
            + (2...5).map { "{\"id\": \"r\($0)\"}" }.joined(separator: "\n") + "\n"
        let (records, problems, summary) = try split(text)
        #expect(summary.layout == .jsonLines)
        #expect(problems.count == 1 && problems.first?.line == 1)
        #expect(records.count == 4, "the four good records after it are kept")
    }

    @Test func truncatedArrayReportsTheLastRecordWithItsOffset() throws {
        let text = "[{\"id\": \"a\"}, {\"id\": \"b\", \"conversations\": [{\"from\": \"hu"
        let (records, problems, _) = try split(text)
        #expect(records.count == 1)
        #expect(problems.count == 1)
        #expect(problems[0].index == 1)
        #expect(problems[0].byteOffset == 14)
        #expect(problems[0].reason.contains("truncated"))
    }

    @Test func hashCoversTheWholeFile() throws {
        let text = "[{\"id\": 1}]"
        let (_, _, summary) = try split(text)
        #expect(summary.sha256 == ContentHasher.sha256(text))
        #expect(summary.sha256 == "\(ContentHasher.sha256(Array(text.utf8)))")
        #expect(ContentHasher.sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

@Suite struct LLaVARecordDecoderTests {
    func decode(_ json: String, index: Int = 7) -> Result<CorpusRecord, RecordProblem> {
        LLaVARecordDecoder.decode(RawRecord(index: index, byteOffset: 100, line: 3, bytes: Array(json.utf8)))
    }

    @Test func llavaRecordWithPairs() throws {
        let record = try decode(
            """
            {"id": "000000033471", "image": "coco/train2017/000000033471.jpg", "conversations": [
              {"from": "human", "value": "<image>\\nWhat are the colors of the bus in the image?"},
              {"from": "gpt", "value": "The bus in the image is white and red."},
              {"from": "human", "value": "What feature can be seen on the back of the bus?"},
              {"from": "gpt", "value": "The back of the bus features an advertisement."}]}
            """
        ).get()
        #expect(record.sourceID == "000000033471")
        #expect(record.pairs.count == 2)
        #expect(record.pairs[0].question == "<image>\nWhat are the colors of the bus in the image?")
        #expect(record.source == "coco")
        #expect(record.skipReason == nil)
    }

    @Test(arguments: ["\"\"", "\"None\"", "\"none\"", "\"nan\"", "null"])
    func imageValuesThatMeanNoImage(_ value: String) throws {
        let record = try decode(
            "{\"id\": 1, \"image\": \(value), \"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \"a\"}]}"
        ).get()
        #expect(record.images.isEmpty)
        #expect(record.skipReason == "no image")
    }

    @Test func idxIndexAndPositionAsIdentifier() throws {
        let conv = "\"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \"a\"}]"
        #expect(try decode("{\"idx\": 42, \(conv)}").get().sourceID == "42")
        #expect(try decode("{\"index\": \"x9\", \(conv)}").get().sourceID == "x9")
        let anonymous = try decode("{\(conv)}", index: 5).get()
        #expect(anonymous.sourceID == nil)
        #expect(anonymous.displayID == "5")
    }

    @Test func messagesLayoutWithSystemTurnAndImagesList() throws {
        let record = try decode(
            """
            {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "<image><image>Compare."},
             {"role": "assistant", "content": "Left is larger."}], "images": ["a.jpg", "b.jpg"]}
            """
        ).get()
        #expect(record.images == ["a.jpg", "b.jpg"])
        #expect(record.pairs == [QAPair(question: "<image><image>Compare.", answer: "Left is larger.")])
    }

    @Test func videoRecordsAreSkippedWithReason() throws {
        let record = try decode(
            "{\"id\": \"v\", \"video\": \"clip.mp4\", \"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \"a\"}]}"
        ).get()
        #expect(record.skipReason == "video")
    }

    @Test func problemsNameTheRecordAndWhatIsWrong() {
        guard
            case let .failure(odd) = decode(
                "{\"id\": \"odd-1\", \"image\": \"x.jpg\", \"conversations\": [{\"from\": \"human\", \"value\": \"q\"}, {\"from\": \"gpt\", \"value\": \"a\"}, {\"from\": \"human\", \"value\": \"q2\"}]}"
            )
        else {
            Issue.record("odd turns must fail"); return
        }
        #expect(odd.recordID == "odd-1")
        #expect(odd.description.contains("odd number of turns"))
        #expect(odd.description.contains("line 3, byte 100"))

        guard case let .failure(none) = decode("{\"id\": \"empty\", \"image\": \"x.jpg\"}") else {
            Issue.record("no conversations must fail"); return
        }
        #expect(none.description.contains("no `conversations`"))

        guard case let .failure(bad) = decode("{\"id\": \"t\", \"image\": 5, \"conversations\": []}") else {
            Issue.record("wrong type must fail"); return
        }
        #expect(bad.description.contains("`image` is a number"))

        guard
            case let .failure(utf8) = LLaVARecordDecoder.decode(
                RawRecord(index: 0, byteOffset: 0, line: 1, bytes: Array("{\"id\": \"".utf8) + [0xff, 0xfe] + Array("\"}".utf8)))
        else {
            Issue.record("invalid UTF-8 must fail"); return
        }
        #expect(utf8.description.contains("UTF-8"))
    }

    @Test(.enabled(if: TestSupport.sharedData != nil, "../shared/data is not beside this checkout"))
    func realScienceQARecordsWhenSharedDataIsPresent() throws {
        let shared = try #require(TestSupport.sharedData)
        let file = shared.appendingPathComponent("records/llava_eval_32cebc3/scienceqa_llava_test_CQM-A.first300.json")
        var withImage = 0, withoutImage = 0, problems = 0
        _ = try RecordSplitter(path: file.path).forEach { event in
            guard case let .record(raw) = event, case let .success(record) = LLaVARecordDecoder.decode(raw) else { problems += 1; return }
            if record.skipReason == nil { withImage += 1 } else { withoutImage += 1 }
        }
        // shared/data/README.md: 143 of the 300 records have an image, 157 have none.
        #expect(withImage == 143)
        #expect(withoutImage == 157)
        #expect(problems == 0)
    }
}
