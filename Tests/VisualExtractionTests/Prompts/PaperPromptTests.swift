import Foundation
import Testing
@testable import VisualExtraction

/// The prompts rendered from pipelines/paper.yaml must equal the authors' strings byte for
/// byte (their `build_qa_statement_prompt` and stage-B prompt, see shared/reference/prompts.md).
@Suite struct PaperPromptTests {
    let pipeline: Pipeline

    init() throws {
        pipeline = try Pipeline.load(path: TestSupport.paperPipeline.path)
    }

    @Test func statementsPromptForOnePair() throws {
        let stage = try #require(pipeline.stage(named: "statements"))
        let record = TestSupport.record(
            "a", pairs: [("<image>\nWhat color is the bus?\nAnswer the question using a single word or phrase.", "Red")])
        let prompt = try stage.prompt(for: record, upstream: [:])
        let expected =
            "Your task is to convert each question\u{2013}answer pair about an image into a concise, fully self-contained declarative statement. The resulting statements should be understandable on their own, without requiring the reader to refer to the original question.\nQuestion #1: <image>\nWhat color is the bus?\nAnswer the question using a single word or phrase.\nAnswer: Red\nDeclarative Statement(s):"
        #expect(prompt == expected)
        #expect(Array(prompt.utf8) == Array(expected.utf8))
        #expect(!prompt.hasSuffix("\n"))
        #expect(!prompt.contains("As there are"))
    }

    @Test func statementsPromptForThreePairs() throws {
        let stage = try #require(pipeline.stage(named: "statements"))
        let record = TestSupport.record(
            "b",
            pairs: [
                ("<image>\nWhat is the man holding?", "A kite."),
                ("Is it sunny?", "Yes"),
                ("How many people are there?\nAnswer the question using a single word or phrase.", "3")
            ])
        let prompt = try stage.prompt(for: record, upstream: [:])
        let expected = """
            Your task is to convert each question–answer pair about an image into a concise, fully self-contained declarative statement. The resulting statements should be understandable on their own, without requiring the reader to refer to the original question.
            Question #1: <image>
            What is the man holding?
            Answer: A kite.
            Question #2: Is it sunny?
            Answer: Yes
            Question #3: How many people are there?
            Answer the question using a single word or phrase.
            Answer: 3
            As there are 3 questions, you should respond with 3 statements. Include each statement on its own line
            Declarative Statement(s):
            """
        #expect(Array(prompt.utf8) == Array(expected.utf8))
        #expect(prompt.unicodeScalars.contains("\u{2013}"), "the en dash of question–answer must survive")
    }

    @Test func extractionPromptEmbedsStatementsVerbatim() throws {
        let stage = try #require(pipeline.stage(named: "extraction"))
        let statements = "The bus is red.\nThe man is holding a kite."
        let prompt = try stage.prompt(for: TestSupport.record("c", pairs: [("q", "a")]), upstream: ["statements": statements])
        let expected =
            "Your task is to describe the fine-grained content of the image, including scenes, objects, relationships, instance location, and any text present.\nAs part of your description, you should incorporate the following information about the image.\nThe bus is red.\nThe man is holding a kite.\nDescription:"
        #expect(Array(prompt.utf8) == Array(expected.utf8))
    }

    @Test func paperSettings() {
        let d = pipeline.definition
        #expect(d.teacher.model == "Qwen/Qwen3-VL-8B-Instruct")
        #expect(d.teacher.temperature == 0)
        #expect(d.stages.map(\.maxTokens) == [1024, 2048])
        #expect(d.image.mode == .exact && d.image.width == 512 && d.image.height == 512)
        #expect(pipeline.stage(named: "extraction")?.sendsImage == true)
        #expect(pipeline.stage(named: "statements")?.sendsImage == false)
    }

    @Test func pipelineHashIgnoresCommentsButNotPrompts() throws {
        let text = try String(contentsOf: TestSupport.paperPipeline, encoding: .utf8)
        let commented = try Pipeline.parse(yaml: "# another comment\n" + text)
        #expect(commented.hash == pipeline.hash)
        let changed = try Pipeline.parse(yaml: text.replacingOccurrences(of: "Description:", with: "Describe:"))
        #expect(changed.hash != pipeline.hash)
    }
}

@Suite struct PromptTemplateTests {
    @Test func rendersLoopsConditionalsAndVariables() throws {
        let template = try PromptTemplate("{{#each items}}[{{n}}:{{x}}]{{/each}}{{#if flag}} yes{{/if}}{{#if off}} no{{/if}} {{name}}")
        let out = try template.render([
            "items": .list([["n": .text("1"), "x": .text("a")], ["n": .text("2"), "x": .text("b")]]),
            "flag": .flag(true), "off": .flag(false), "name": .text("end")
        ])
        #expect(out == "[1:a][2:b] yes end")
    }

    @Test func rejectsUnclosedAndUnknownBlocks() {
        #expect(throws: PromptTemplate.SyntaxError.self) { try PromptTemplate("{{#each pairs}}x") }
        #expect(throws: PromptTemplate.SyntaxError.self) { try PromptTemplate("{{#loop pairs}}x{{/loop}}") }
        #expect(throws: PromptTemplate.SyntaxError.self) { try PromptTemplate("x{{/if}}") }
    }

    @Test func missingValueIsAnError() throws {
        let template = try PromptTemplate("{{statements}}")
        #expect(throws: PromptTemplate.RenderError.self) { try template.render([:]) }
    }

    @Test func pipelineRefusesUnknownTemplateNames() {
        let yaml = """
            name: t
            teacher: {model: m}
            image: {mode: exact, width: 8, height: 8}
            stages:
              - {name: a, max_tokens: 8, template: "{{nonsense}}"}
            export: {instruction: x}
            """
        #expect(throws: Pipeline.LoadError.self) { try Pipeline.parse(yaml: yaml) }
    }

    @Test func pipelineRefusesTimesThatWouldMeanNoLimit() throws {
        func yaml(_ teacher: String) -> String {
            """
            name: t
            teacher: {model: m, \(teacher)}
            image: {mode: exact, width: 8, height: 8}
            stages:
              - {name: a, max_tokens: 8, template: "x"}
            export: {instruction: x}
            """
        }
        for bad in ["timeout_seconds: 0", "connect_timeout_seconds: -1", "retry_window_seconds: 0", "max_attempts: 0"] {
            #expect(throws: Pipeline.LoadError.self, "\(bad)") { try Pipeline.parse(yaml: yaml(bad)) }
        }
        let good = try Pipeline.parse(yaml: yaml("retry_window_seconds: 30"))
        #expect(good.definition.teacher.retryWindowSeconds == 30)
        #expect(good.hash == (try Pipeline.parse(yaml: yaml("retry_window_seconds: 90"))).hash, "how long to retry changes no output")
    }
}

/// pipelines/clean.yaml: the same method with cleaned question/answer text.
@Suite struct CleanPromptTests {
    @Test func cleanStatementsPrompt() throws {
        let pipeline = try Pipeline.load(path: TestSupport.packageRoot.appendingPathComponent("pipelines/clean.yaml").path)
        let stage = try #require(pipeline.stage(named: "statements"))
        let record = TestSupport.record(
            "mixed",
            pairs: [
                (
                    "<image>\nContext: The photo was taken at a café table.\nWhat is served in the red cup?\nA. orange juice\nB. coffee\nC. tomato soup",
                    "B"
                ),
                ("Please provide a short description for this region: [0.44, 0.30, 0.55, 0.97].", "A white rocket."),
                ("what brand is it?\nReference OCR token: SONY, 24\nAnswer the question using a single word or phrase.", "sony")
            ])
        let prompt = try stage.prompt(for: record, upstream: [:])
        let expected = """
            Your task is to convert each question–answer pair about an image into a concise, fully self-contained declarative statement. The resulting statements should be understandable on their own, without requiring the reader to refer to the original question.
            Context #1: The photo was taken at a café table.
            Question #1: What is served in the red cup?
            Answer: coffee
            Question #2: Please provide a short description for the region [0.44, 0.30, 0.55, 0.97].
            Answer: A white rocket.
            Question #3: what brand is it?
            Answer: sony
            As there are 3 questions, you should respond with 3 statements. Include each statement on its own line
            Declarative Statement(s):
            """
        #expect(Array(prompt.utf8) == Array(expected.utf8))
        #expect(pipeline.hash != (try Pipeline.load(path: TestSupport.paperPipeline.path)).hash)
    }

    @Test func cleanPipelineRunsEndToEnd() async throws {
        let work = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let run = try await TestSupport.runVXT([
            "run", "pipelines/clean.yaml", "--input", "samples/llava_sample.json", "--images", "samples/images", "--work", work.path
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let store = try JobStore.open(workDirectory: work.path)
        let coffee = try store.detail(id: "coffee-0004")
        let renderer = try RequestRenderer(store: store, workDirectory: work.path)
        func request(_ stage: String) async -> String? {
            if case let .request(text) = await renderer.render(coffee, stage: stage) { return text }
            return nil
        }
        #expect(await request("statements")?.contains("Answer: coffee") == true)
        #expect(await request("statements")?.contains("<image>") == false)
        #expect(coffee.tasks.first { $0.stage == "extraction" }?.output?.contains(": coffee.") == true)
        #expect(coffee.tasks.map(\.stage) == ["statements", "hint", "extraction", "answerability"])
        #expect(await request("hint")?.contains("Question: What is served in the red cup?\\nPhrase:") == true, "as JSON text")

        let llava = work.appendingPathComponent("corpus.json")
        #expect(try await TestSupport.runVXT(["export", "--work", work.path, "--format", "llava", "--out", llava.path]).status == 0)
        let text = try String(contentsOf: llava, encoding: .utf8)
        #expect(
            text.contains(
                "any text present. Especially, pay attention to the objects, attributes and positions the question asks about.\"}"),
            "the hint joins the instruction with a final period")
    }

    @Test func hintPhraseFollowsExtractThinkFormatting() {
        #expect(Exporter.hintPhrase("the text on the signs") == "the text on the signs.")
        #expect(Exporter.hintPhrase("  the colours of the cars.\nExtra line") == "the colours of the cars.")
        #expect(Exporter.hintPhrase(nil) == "" && Exporter.hintPhrase("  ") == "")
    }
}
