import Foundation
import Testing
@testable import VisualExtraction

/// Each audit check against descriptions shaped like real teacher outputs: the bad ones are
/// caught with evidence a person can read, a good one raises nothing.
@Suite struct AuditChecksTests {
    /// A Qwen-VL-style description of the samples' astronaut photo that uses every statement.
    static let good = """
        The image shows a smiling astronaut in a bright orange spacesuit posing in front of an American flag. \
        She holds a white helmet with a dark visor in her left arm. In the background on the right stands a model \
        of the Space Shuttle with its white body and black nose, and the flag of the United States hangs behind her on the left. \
        Mission patches are visible on the suit's chest and shoulder.
        """
    static let record = TestSupport.record(
        "astronaut-0001",
        pairs: [
            ("<image>\nWhat color is the astronaut's suit?", "Orange."),
            ("What is the astronaut holding in her left arm?", "A helmet with a dark visor."),
            ("Which flag hangs in the background?", "The flag of the United States."),
            ("What model stands behind her on the right?", "A model of the Space Shuttle.")
        ], image: "skimage/astronaut.png")
    static let statements = [
        "The astronaut's suit is orange.", "The astronaut is holding a helmet with a dark visor in her left arm.",
        "The flag of the United States hangs in the background.", "A model of the Space Shuttle stands behind her on the right."
    ]

    func audit(
        _ description: String, finish: String? = "stop", statements: [String] = statements,
        record: CorpusRecord = record, answers: [String]? = nil
    ) -> SampleAudit {
        Auditor.audit(
            AuditInput(
                key: record.displayID, record: record, description: description, finishReason: finish,
                statements: statements, answers: answers, stamp: "1"), maxTokens: 2048)
    }

    func flags(_ audit: SampleAudit) -> [AuditFlag] { audit.findings.map(\.flag) }

    @Test func goodDescriptionRaisesNothing() {
        let result = audit(Self.good)
        #expect(result.findings.isEmpty, "\(result.findings)")
        #expect(result.coverage.score == 1)
        #expect(result.words > 60)
    }

    @Test func truncatedAtTokenLimit() {
        let cut = String(Self.good.prefix(180))
        let result = audit(cut, finish: "length")
        let finding = result.findings.first { $0.flag == .truncated }
        #expect(finding?.evidence.contains("max_tokens 2048") == true)
        #expect(finding?.evidence.contains(String(cut.suffix(20))) == true, "evidence quotes the cut-off end")
    }

    @Test func emptyAndNearEmpty() {
        #expect(flags(audit("A cat.", statements: [])) == [.empty])
        #expect(flags(audit("  \n", statements: [])) == [.empty])
    }

    @Test(arguments: [
        "I'm sorry, but I can't help with identifying people in images.",
        "As an AI language model, I cannot see images, but a typical astronaut suit is orange.",
        "I am unable to view the image you provided. Please describe it and I will help."
    ])
    func refusals(text: String) {
        #expect(flags(audit(text, statements: [])).contains(.refusal))
    }

    @Test(arguments: [
        "The astronaut wears an orange suit. As mentioned in the statement, she holds a helmet with a dark visor.",
        "Based on the provided information, the suit is orange and she holds a helmet.",
        "Question #1: the suit is orange. Question #2: she holds a helmet with a dark visor in her left arm.",
        "The declarative statements say that the suit is orange; the flag of the United States hangs behind her."
    ])
    func metaLeakage(text: String) {
        let result = audit(text, statements: [])
        let finding = result.findings.first { $0.flag == .metaLeak }
        #expect(finding != nil, "\(text)")
        #expect(
            finding.map { text.contains(String($0.evidence.split(separator: ":", maxSplits: 1)[1].trimmed.prefix(15))) } == true,
            "evidence quotes the sentence")
    }

    @Test func decodingLoop() {
        let loop =
            "The image shows a red bus parked on the street. "
            + String(repeating: "There is a bus on the street next to the bus stop. ", count: 8)
        let finding = audit(loop, statements: []).findings.first { $0.flag == .repetition }
        #expect(finding?.evidence.contains("×") == true)
        #expect(flags(audit(Self.good)).contains(.repetition) == false)
    }

    @Test(arguments: [
        "图片中是一位身穿橙色宇航服的宇航员，她左手抱着一个带有深色面罩的白色头盔，背景右侧是航天飞机模型，左侧挂着美国国旗。",
        "Auf dem Bild sieht man eine lächelnde Astronautin im orangefarbenen Raumanzug vor einer amerikanischen Flagge. Sie hält einen weißen Helm mit dunklem Visier im linken Arm, rechts steht ein Modell des Space Shuttles."
    ])
    func wrongLanguage(text: String) {
        #expect(flags(audit(text, statements: [])).contains(.wrongLanguage))
    }

    @Test func missingStatementsAreListedWithTheirKeyWords() {
        let without = Self.good.replacingOccurrences(of: "She holds a white helmet with a dark visor in her left arm. ", with: "")
        let result = audit(without)
        #expect(result.coverage.missing == [1])
        #expect(result.coverage.score == 0.75)
        let evidence = result.findings.first { $0.flag == .missingStatements }?.evidence ?? ""
        #expect(evidence.contains("#2"))
        #expect(evidence.contains("helmet"))
    }

    @Test func coverageReadsLettersNumbersAndOCR() {
        let choice = TestSupport.record(
            "coffee",
            pairs: [
                (
                    "<image>\nWhat is served in the red cup?\nA. orange juice\nB. coffee\nC. tomato soup\nAnswer with the option's letter from the given choices directly.",
                    "B"
                ),
                ("How many saucers are there?\nAnswer the question using a single word or phrase.", "2"),
                ("What does the sign say?\nReference OCR token: OPEN, 24, HOURS", "Open 24 hours")
            ])
        let statements = ["Coffee is served in the red cup.", "There are two saucers.", "The sign says \"Open 24 hours\"."]
        let found = StatementCoverage.measure(
            statements: statements, pairs: choice.pairs,
            description: "A cup of coffee sits on two saucers beside a sign reading OPEN 24 HOURS.")
        #expect(found.score == 1, "\(found.evidence)")
        let lost = StatementCoverage.measure(
            statements: statements, pairs: choice.pairs,
            description: "A red cup sits on a saucer beside a sign reading OPEN 24 HOURS.")
        #expect(lost.missing == [0, 1], "coffee (the letter B's option) and the count are missing")
    }

    /// A statement copied word for word is never missing, however long the answer it condenses;
    /// a missing one says which of its words (and of its answer's) are absent.
    @Test func aStatementCopiedWordForWordIsPresentAndMissingOnesNameTheirWords() {
        let long = """
            The image shows a busy city street at dusk, with several pedestrians crossing at a zebra crossing, \
            a red double-decker bus waiting at the traffic light, shop windows lit in warm colours, a cyclist \
            in a yellow jacket riding along the kerb, and tall brick buildings lining both sides of the road.
            """
        let pairs = [
            QAPair(question: "What do you see happening in this image?", answer: long),
            QAPair(question: "What color is the bus?", answer: "Red")
        ]
        let statements = [
            "Pedestrians cross a city street at dusk while a red bus waits at the light.",
            "The bus is red."
        ]
        let verbatim = StatementCoverage.measure(
            statements: statements, pairs: pairs,
            description: "At dusk, pedestrians cross a city street while a red bus waits at the light. The bus is red.")
        #expect(verbatim.score == 1, "copied word for word: \(verbatim.evidence)")

        let paraphrased = StatementCoverage.measure(
            statements: statements, pairs: pairs,
            description: "People cross the street in the evening; a bus waits for the light to change.")
        #expect(paraphrased.missing == [0, 1])
        #expect(paraphrased.evidence[0].contains("statement words not found: pedestrian, city, dusk, red;"), "\(paraphrased.evidence)")
        #expect(paraphrased.evidence[0].contains("answer words not found: "), "\(paraphrased.evidence)")
        #expect(
            paraphrased.evidence[1].hasSuffix("(statement words not found: red; answer words not found: red)"), "\(paraphrased.evidence)")
    }

    @Test func answerMatching() {
        #expect(AnswerMatch.matches(predicted: "Orange", gold: "Orange.", question: "What color is the suit?"))
        #expect(AnswerMatch.matches(predicted: "The suit is orange", gold: "orange", question: "What color is the suit?"))
        #expect(!AnswerMatch.matches(predicted: "unknown", gold: "orange", question: "What color is the suit?"))
        #expect(AnswerMatch.matches(predicted: "two", gold: "2", question: "How many saucers?"))
        #expect(AnswerMatch.matches(predicted: "No, there is no water", gold: "No", question: "Is there water?"))
        #expect(!AnswerMatch.matches(predicted: "Yes, but no boats", gold: "No", question: "Is there water?"))
        let mc = "What is served?\nA. orange juice\nB. coffee\nAnswer with the option's letter from the given choices directly."
        #expect(AnswerMatch.matches(predicted: "coffee", gold: "B", question: mc))
        #expect(AnswerMatch.matches(predicted: "B", gold: "B", question: mc))
        #expect(!AnswerMatch.matches(predicted: "orange juice", gold: "B", question: mc))
        #expect(
            AnswerMatch.matches(
                predicted: "many distant galaxies scattered across a black sky",
                gold: "Hundreds of distant galaxies scattered across a black sky.",
                question: "What does this image show?"))
    }

    @Test func unanswerableListsTheQuestions() {
        let result = audit(Self.good, answers: ["orange", "a helmet with a dark visor", "unknown", "the Space Shuttle"])
        #expect(result.questionsAsked == 4)
        #expect(result.questionsAnswered == 3)
        let evidence = result.findings.first { $0.flag == .unanswerable }?.evidence ?? ""
        #expect(evidence.contains("Q3") && evidence.contains("Which flag hangs in the background?"))
    }

    @Test func nearDuplicatesFoundAndDistinctTextsNot() {
        let other = """
            A tabby cat with green eyes looks into the camera. Its fur is striped grey and brown, with white whiskers \
            and pink inner ears; the background is a blurred beige wall. The cat's head fills most of the frame.
            """
        let almost = Self.good.replacingOccurrences(of: "Mission patches are visible", with: "Patches are visible")
        let signatures = [Self.good, other, almost, other + " "].map(NearDuplicates.signature)
        let matches = NearDuplicates.find(signatures)
        #expect(matches.map(\.duplicate) == [2, 3])
        #expect(matches.map(\.original) == [0, 1])
        #expect(NearDuplicates.similarity(signatures[0], signatures[1]) < 0.2)
    }
}
