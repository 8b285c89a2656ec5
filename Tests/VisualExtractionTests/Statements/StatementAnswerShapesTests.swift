import Testing
@testable import VisualExtraction

/// Statements answers written the way instruction-tuned models (Qwen, Llama, Mistral, GPT-class
/// chat models) actually answer the paper's prompt: preambles, closing notes, markdown, numbering,
/// the prompt echoed, one paragraph. Each must read as exactly the statements, in order, or be
/// refused; never a preamble taken for a statement.
@Suite struct StatementAnswerShapesTests {
    static let one = [
        QAPair(question: "<image>\nWhat color is the bus?\nAnswer the question using a single word or phrase.", answer: "Red")
    ]
    static let two = [
        QAPair(question: "<image>\nWhat color is the bus?", answer: "Red"),
        QAPair(question: "How many people are on the sidewalk?", answer: "3")
    ]
    static let bus = "The bus is red."
    static let people = "There are 3 people on the sidewalk."

    /// (answer as a model wrote it, pairs, statements expected)
    static let shapes: [(String, [QAPair], [String])] = [
        // 1-5: preambles before a single statement
        ("Here are the statements:\n\nStatement 1: The bus is red.", one, [bus]),
        ("Sure! Here is the declarative statement:\n\nThe bus is red.", one, [bus]),
        ("Here is the statement:\nThe bus is red.", one, [bus]),
        ("**Statements:**\n1. The bus is red.", one, [bus]),
        ("Certainly. The declarative statement is below.\n\nThe bus is red.", one, [bus]),
        // 6-10: closing notes
        ("The bus is red.\n\nLet me know if you need anything else!", one, [bus]),
        ("The bus is red.\n\nNote: The statement is based only on the given answer.", one, [bus]),
        ("The bus is red.\n\n*Note: I kept the answer's wording.*", one, [bus]),
        ("The bus is red.\nI hope this helps!", one, [bus]),
        (
            "1. The bus is red.\n2. There are 3 people on the sidewalk.\n\nThese statements capture each question–answer pair.", two,
            [bus, people]
        ),
        // 11-15: markdown
        ("### Declarative Statements\n\n1. The bus is red.\n2. There are 3 people on the sidewalk.", two, [bus, people]),
        ("**Statement 1:** The bus is red.\n**Statement 2:** There are 3 people on the sidewalk.", two, [bus, people]),
        ("- **The bus is red.**\n- **There are 3 people on the sidewalk.**", two, [bus, people]),
        ("**Declarative Statements**\n\n- The bus is red.\n- There are 3 people on the sidewalk.", two, [bus, people]),
        ("---\nThe bus is red.\nThere are 3 people on the sidewalk.\n---", two, [bus, people]),
        // 16-20: numbering and quotes
        ("1) The bus is red.\n2) There are 3 people on the sidewalk.", two, [bus, people]),
        ("(1) The bus is red.\n(2) There are 3 people on the sidewalk.", two, [bus, people]),
        ("Statement #1: The bus is red.\nStatement #2: There are 3 people on the sidewalk.", two, [bus, people]),
        ("\"The bus is red.\"\n\"There are 3 people on the sidewalk.\"", two, [bus, people]),
        ("“The bus is red.”", one, [bus]),
        // 21-25: the prompt echoed
        ("Declarative Statement(s):\nThe bus is red.", one, [bus]),
        ("Question #1: What color is the bus?\nAnswer: Red\nThe bus is red.", one, [bus]),
        ("Declarative Statement(s):\n1. The bus is red.\n2. There are 3 people on the sidewalk.", two, [bus, people]),
        ("As there are 2 questions, here are 2 statements:\nThe bus is red.\nThere are 3 people on the sidewalk.", two, [bus, people]),
        (
            "Here are the 2 declarative statements, one per line:\n\nThe bus is red.\nThere are 3 people on the sidewalk.\n\nFeel free to ask for changes.",
            two, [bus, people]
        ),
        // 26-30: one paragraph, combinations, CRLF
        ("The bus is red. There are 3 people on the sidewalk.", two, [bus, people]),
        ("Sure, here you go:\nThe bus is red. There are 3 people on the sidewalk.", two, [bus, people]),
        (
            "Okay, converting each pair.\n\n1. The bus is red.\n2. There are 3 people on the sidewalk.\n\nLet me know if you'd like them shorter.",
            two, [bus, people]
        ),
        ("Here are the statements:\r\n\r\n1. The bus is red.\r\n2. There are 3 people on the sidewalk.\r\n", two, [bus, people]),
        (
            "Of course!\n# Statements\n* The bus is red.\n* There are 3 people on the sidewalk.\nNote that the count comes from the answer.",
            two, [bus, people]
        ),
        // 31-33: numbers that are content, not labels; a statement with a colon inside
        ("1. There are 3 people on the sidewalk.", [two[1]], [people]),
        ("The sign reads: STOP.", [QAPair(question: "What does the sign say?", answer: "STOP")], ["The sign reads: STOP."]),
        ("3 people are on the sidewalk.", [two[1]], ["3 people are on the sidewalk."]),
        // 34-35: "Here is…" that is a statement, and one that is not
        (
            "Here is a cat sleeping on the sofa.", [QAPair(question: "What is on the sofa?", answer: "A cat")],
            ["Here is a cat sleeping on the sofa."]
        ),
        (
            "Here is the converted sentence.\nA cat is on the sofa.", [QAPair(question: "What is on the sofa?", answer: "A cat")],
            ["A cat is on the sofa."]
        )
    ]

    @Test(arguments: shapes.indices)
    func readsTheStatementsOnly(_ index: Int) {
        let (answer, pairs, expected) = StatementAnswerShapesTests.shapes[index]
        let reading = StatementParser.read(answer, expected: pairs.count)
        #expect(reading.statements == expected, "shape \(index + 1): \(answer.debugDescription)")
        #expect(StatementCollector.problem(with: reading.statements, for: pairs) == nil, "shape \(index + 1)")
    }

    @Test func aPreambleIsNeverKeptDownstream() throws {
        let record = TestSupport.record("r", pairs: [("What color is the bus?", "Red")])
        let reading = StatementsExecutor.read(
            "Here are the statements:\n\nStatement 1: The bus is red.\n\nLet me know if you need more.", for: record)
        #expect(reading.statements == ["The bus is red."])
        #expect(reading.note == nil)
        // The extraction prompt embeds the stored output: the statement line, not the chatter.
        #expect(reading.text == "Statement 1: The bus is red.")
    }

    @Test func statementsUnrelatedToTheirPairsAreNotAccepted() {
        // Right count, wrong content: a refusal for a one-pair record, swapped order for two.
        #expect(StatementCollector.problem(with: ["I'm sorry, I cannot help with that."], for: StatementAnswerShapesTests.one) != nil)
        #expect(
            StatementCollector.problem(
                with: [StatementAnswerShapesTests.people, StatementAnswerShapesTests.bus],
                for: StatementAnswerShapesTests.two)?.contains("statement 1") == true)
        // A yes/no answer: the statement shares the question's words.
        #expect(StatementCheck.fits("The man is not wearing a hat.", QAPair(question: "Is the man wearing a hat?", answer: "No")))
        // A multiple-choice letter: the option's text counts.
        #expect(
            StatementCheck.fits(
                "The animal is a zebra.",
                QAPair(
                    question: "Which animal is this?\nA. horse\nB. zebra\nAnswer with the option's letter from the given choices directly.",
                    answer: "B")))
    }
}
