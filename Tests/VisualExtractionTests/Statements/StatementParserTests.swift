import Testing
@testable import VisualExtraction

/// Shapes real models answer the statements prompt in.
@Suite struct StatementParserTests {
    @Test(arguments: [
        ("The bus is red.\nThe man holds a kite.", ["The bus is red.", "The man holds a kite."]),
        ("1. The bus is red.\n2. The man holds a kite.", ["The bus is red.", "The man holds a kite."]),
        ("1) The bus is red.\n\n2) The man holds a kite.\n", ["The bus is red.", "The man holds a kite."]),
        ("- The bus is red.\n- The man holds a kite.", ["The bus is red.", "The man holds a kite."]),
        ("Statement 1: The bus is red.\nStatement 2: The man holds a kite.", ["The bus is red.", "The man holds a kite."]),
        ("**Statement #1:** The bus is red.\n**Statement #2:** The man holds a kite.", ["The bus is red.", "The man holds a kite."]),
        ("Declarative Statement(s):\n\"The bus is red.\"", ["The bus is red."]),
        ("There are 3 people in the photo.", ["There are 3 people in the photo."])
    ])
    func parses(_ text: String, _ expected: [String]) {
        #expect(StatementParser.parse(text) == expected)
    }

    @Test func numbersInsideStatementsAreKept() {
        #expect(StatementParser.parse("2 dogs are on the sofa.") == ["2 dogs are on the sofa."])
        #expect(StatementParser.parse("1. 24 coins lie in four rows.") == ["24 coins lie in four rows."])
    }

    @Test func countMismatchIsNotedNotFailed() throws {
        let record = TestSupport.record("x", pairs: [("What color is the bus?", "Red"), ("Is the man holding a kite?", "Yes")])
        let reading = StatementsExecutor.read("The bus is red.", for: record)
        #expect(reading.statements == ["The bus is red."])
        #expect(reading.note == "statements: expected 2, got 1")
        #expect(StatementsExecutor.read("The bus is red.\nThe man is holding a kite.", for: record).note == nil)
    }
}
