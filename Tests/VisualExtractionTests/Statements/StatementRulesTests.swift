import Foundation
import Testing
@testable import VisualExtraction

/// The rule fast path on real question shapes (GQA/VQAv2/POPE style), and what it must leave alone.
@Suite struct StatementRulesTests {
    func rule(_ question: String, _ answer: String) -> String? {
        StatementRules.statement(for: QAPair(question: question, answer: answer))?.text
    }

    @Test func safeShapes() {
        #expect(rule("Is there a snowboard in the image?", "yes") == "There is a snowboard in the image.")
        #expect(
            rule("<image>\nIs there an umbrella in the image?\nAnswer the question using a single word or phrase.", "No")
                == "There is no umbrella in the image.")
        #expect(rule("Are there any people on the bench?", "no") == "There are no people on the bench.")
        #expect(rule("What color is the bus?", "Red") == "The bus is red.")
        #expect(rule("What colour are the flowers in the vase?", "yellow") == "The flowers in the vase are yellow.")
        #expect(rule("How many dogs are there?", "3") == "There are 3 dogs.")
        #expect(rule("How many coins are shown?\nAnswer the question using a single word or phrase.", "24") == "There are 24 coins shown.")
        #expect(rule("How many people are in the photo?", "0") == "There are no people in the photo.")
        #expect(rule("How many birds are there in the sky?", "two") == "There are 2 birds in the sky.")
    }

    @Test func everythingElseGoesToTheModel() {
        #expect(rule("Is the sky dark?", "Yes") == nil, "subject/predicate split is not safe")
        #expect(rule("How many dogs are there?", "1") == nil, "the noun is plural")
        #expect(rule("What color are its eyes?", "green") == nil)
        #expect(rule("What color is the car on the left?", "It is dark blue with white stripes") == nil, "long answers")
        #expect(rule("What is served?\nA. tea\nB. coffee", "B") == nil, "multiple choice")
        #expect(rule("what brand?\nReference OCR token: SONY", "sony") == nil)
        #expect(rule("Is there a dog?", "maybe") == nil)
        #expect(rule("How many dogs does the man walk?", "2") == nil)
    }

    /// Questions as real corpora write them, mistakes included: a rule copies the question's words,
    /// so it takes a question only when its article and verb agree with its noun.
    @Test func questionsWhoseGrammarARuleCannotKnowGoToTheModel() {
        #expect(rule("Is there a skis in the image?", "yes") == nil, "\"There is a skis\"")
        #expect(rule("Is there a skis in the image?", "no") == nil)
        #expect(rule("Are there a dog on the bench?", "yes") == nil)
        #expect(rule("Is there an dog?", "yes") == nil, "the article does not fit")
        #expect(rule("Is there a apple on the table?", "no") == nil)
        #expect(rule("Is there any water in the glass?", "yes") == nil, "\"There is any water\"")
        #expect(rule("Is there people on the street?", "yes") == nil)
        #expect(rule("Are there any dog in the yard?", "no") == nil)
        #expect(rule("What color is the skis?", "red") == nil)
        #expect(rule("What color is the bus?", "It is red") == nil, "not a colour: \"The bus is it is red.\"")
        #expect(rule("How many dog are there?", "3") == nil)
        #expect(rule("How many of the dogs are there?", "2") == nil)
        #expect(rule("Is there an hour glass?", "yes") == nil, "spelling does not tell the sound")

        // And what still agrees is still taken.
        #expect(rule("Is there a pair of skis in the image?", "yes") == "There is a pair of skis in the image.")
        #expect(rule("Is there an apple on the table?", "no") == "There is no apple on the table.")
        #expect(rule("Is there any water in the glass?", "no") == "There is no water in the glass.")
        #expect(rule("Is there snow on the ground?", "yes") == "There is snow on the ground.")
        #expect(rule("Are there people on the street?", "yes") == "There are people on the street.")
        #expect(rule("Are there sheep in the field?", "no") == "There are no sheep in the field.")
        #expect(rule("Is there a bus?", "yes") == "There is a bus.")
        #expect(rule("What color is the grass?", "green") == "The grass is green.")
        #expect(rule("What color is the astronaut's suit?", "Orange.") == "The astronaut's suit is orange.")
        #expect(rule("What color are the man's pants?", "dark blue") == "The man's pants are dark blue.")
        #expect(rule("What color is the cat?", "black and white") == "The cat is black and white.")
        #expect(rule("How many children are there?", "4") == "There are 4 children.")
    }

    @Test func splitAndMergeKeepTheOrder() {
        let record = TestSupport.record(
            "r", pairs: [("What is this?", "A flower"), ("What color is the flower?", "Orange"), ("Why?", "Because")])
        let (ruled, remaining) = StatementRules.split(record)
        #expect(ruled.keys.sorted() == [1])
        #expect(remaining.pairs.map(\.question) == ["What is this?", "Why?"])
        #expect(
            StatementRules.merge(ruled: ruled, model: ["It is a flower.", "Because."], total: 3)
                == ["It is a flower.", "The flower is orange.", "Because."])
    }

    @Test(.enabled(if: TestSupport.sharedData != nil, "../shared/data is not beside this checkout"))
    func popeQuestionsWhenSharedDataIsPresent() throws {
        let shared = try #require(TestSupport.sharedData)
        // POPE: "Is there a <object> in the image?" with gold yes/no (AoiDragon/POPE).
        let lines = try String(
            contentsOf: shared.appendingPathComponent("records/pope_gold/coco_pope_adversarial.head300.json"), encoding: .utf8
        )
        .split(whereSeparator: \.isNewline).map { try JSONParser.parse(String($0)) }
        var ruled = 0, faithful = 0, left: [String] = []
        for line in lines {
            guard let text = line["text"]?.stringValue, let label = line["label"]?.stringValue else { continue }
            guard let statement = rule(text, label) else {
                left.append(text)
                continue
            }
            ruled += 1
            if (label == "no") == statement.contains(" no ") { faithful += 1 }
        }
        // Every POPE question has the 'Is there' shape; the five "Is there a skis …?" go to the model.
        #expect(ruled == 295 && Set(left) == ["Is there a skis in the image?"], "\(Set(left))")
        #expect(faithful == ruled, "a 'no' answer always gives a negative statement, a 'yes' never does")
    }

    @Test func cleanPipelineUsesRulesAndTheModelTogether() async throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let run = try await TestSupport.runVXT([
            "run", "pipelines/clean.yaml", "--input", "samples/llava_sample.json", "--images", "samples/images", "--work", work.path
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let store = try JobStore.open(workDirectory: work.path)
        let flower = try store.detail(id: "flower-0010")
        let statements = try #require(flower.tasks.first)
        #expect(statements.note == "statements: 1 by rule, 1 by model")
        #expect(statements.output?.split(separator: "\n").last == "The flower is orange.")
        let rendered = await (try RequestRenderer(store: store, workDirectory: work.path)).render(flower, stage: "statements")
        guard case let .request(request) = rendered else {
            Issue.record("the statements request renders again: \(rendered)")
            return
        }
        #expect(request.contains("What is this?"), "the model's pair is sent")
        #expect(!request.contains("What color is the flower"), "the ruled pair is not sent")
    }
}
