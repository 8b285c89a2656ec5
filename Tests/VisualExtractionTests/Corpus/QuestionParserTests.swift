import Testing
@testable import VisualExtraction

/// Human turns as the LLaVA-1.5 mix and its eval sets write them (see shared/data/README.md §4).
@Suite struct QuestionParserTests {
    @Test func gqaStyleSuffix() {
        let q = QuestionParser.parse("<image>\nIs the sky cloudy?\nAnswer the question using a single word or phrase.")
        #expect(q.question == "Is the sky cloudy?")
        #expect(q.answerFormats == [.singleWordOrPhrase])
        #expect(q.imageTokens == 1)
    }

    @Test func vizwizUnanswerableBeforeTheShortAnswerSuffix() {
        let q = QuestionParser.parse(
            "What is this?\nWhen the provided information is insufficient, respond with 'Unanswerable'.\nAnswer the question using a single word or phrase."
        )
        #expect(q.question == "What is this?")
        #expect(q.answerFormats == [.unanswerableAllowed, .singleWordOrPhrase])
    }

    @Test func textvqaOCRTokensInTheMiddle() {
        let q = QuestionParser.parse(
            "what is the brand of this camera?\nReference OCR token: dakota, digital, Single-Use\nAnswer the question using a single word or phrase."
        )
        #expect(q.question == "what is the brand of this camera?")
        #expect(q.ocrTokens == ["dakota", "digital", "Single-Use"])
        #expect(q.answerFormats == [.singleWordOrPhrase])
    }

    @Test func scienceQAContextOptionsAndLetterAnswer() {
        let q = QuestionParser.parse(
            "<image>\nContext: Select the best answer.\nWhich property do these three objects have in common?\nA. shiny\nB. slippery\nC. opaque\nAnswer with the option's letter from the given choices directly."
        )
        #expect(q.context == "Select the best answer.")
        #expect(q.question == "Which property do these three objects have in common?")
        #expect(q.options.map(\.letter) == ["A", "B", "C"])
        #expect(q.answerFormats == [.optionLetter])
        #expect(q.resolvedAnswer("B") == "slippery")
        #expect(q.resolvedAnswer("(C)") == "opaque")
        #expect(q.resolvedAnswer("not a letter") == "not a letter")
    }

    @Test func inlineOptions() {
        let q = QuestionParser.parse("What season is it?\nOptions: A: winter, B: summer, C: early autumn")
        #expect(
            q.options == [.init(letter: "A", text: "winter"), .init(letter: "B", text: "summer"), .init(letter: "C", text: "early autumn")])
        #expect(q.resolvedAnswer("C") == "early autumn")
    }

    @Test func regionBoxesImageTokensAndLengthRequests() {
        let region = QuestionParser.parse("Please provide a short description for this region: [0.12, 0.30, 0.45, 0.80].\n<image>")
        #expect(region.regions == [[0.12, 0.30, 0.45, 0.80]])
        #expect(region.imageTokens == 1)
        #expect(QuestionParser.parse("Is [1, 2] a list?").regions.isEmpty, "numbers outside 0...1 are not a normalised box")
        let multi = QuestionParser.parse("<image><image>Which image is brighter?")
        #expect(multi.imageTokens == 2)
        #expect(multi.question == "Which image is brighter?")
        let mmvet = QuestionParser.parse("Can you explain this meme? You should write at least 150 words.")
        #expect(mmvet.answerFormats.isEmpty, "a suffix on the same line stays part of the question")
        #expect(QuestionParser.parse("Explain this meme.\nYou should write at least 150 words.").answerFormats == [.length])
    }

    @Test func plainQuestionsPassThrough() {
        let q = QuestionParser.parse("  What is the man doing?  ")
        #expect(
            q
                == ParsedQuestion(
                    question: "What is the man doing?", context: nil, options: [], ocrTokens: nil, answerFormats: [], regions: [],
                    imageTokens: 0))
        #expect(QuestionParser.parse("Arrange these: A) first").options.isEmpty, "'Arrange' is not an option line")
    }
}
