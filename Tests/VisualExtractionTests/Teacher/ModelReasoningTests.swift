import Testing
@testable import VisualExtraction

/// Answers as thinking models send them through servers without a reasoning parser: the
/// reasoning goes, the answer stays exactly, and an answer that is reasoning only is refused.
@Suite struct ModelReasoningTests {
    static func answer(_ text: String, finish: String = "stop") -> ChatResult {
        ChatResult(
            text: text, finishReason: finish, promptTokens: 1, completionTokens: 1, model: "m", mock: false, endpoint: "e",
            attempts: 1)
    }

    static let kept: [(String, String)] = [
        // Qwen3 without --reasoning-parser: the whole block in the content.
        ("<think>\nThe answer is Red.\nSo: the bus is red.\n</think>\n\nThe bus is red.", "The bus is red."),
        ("\n  <think>x</think>The bus is red.", "The bus is red."),
        // Thinking turned off leaves an empty block.
        ("<think>\n\n</think>\n\nThe bus is red.\nThere are 3 people.", "The bus is red.\nThere are 3 people."),
        // DeepSeek-R1 and Qwen3.5: the template opened the block, only its end is generated.
        ("Okay, the user wants statements.\nThe answer is Red.\n</think>\n\nThe bus is red.", "The bus is red."),
        ("<thinking>Let me see.</thinking>\nThe bus is red.", "The bus is red."),
        // No reasoning: untouched, including text that merely mentions a tag after an opening one.
        ("The bus is red.", "The bus is red."),
        ("A slide titled <think> and </think> tags.", "A slide titled <think> and </think> tags."),
        ("", "")
    ]

    @Test func theReasoningGoesAndTheAnswerStays() throws {
        for (text, expected) in Self.kept {
            let separated = try ModelReasoning.separate(Self.answer(text)).get()
            #expect(separated.text == expected, "\(text.debugDescription)")
            #expect((separated.reasoningCharacters > 0) == (text != expected), "\(text.debugDescription)")
        }
    }

    @Test func reasoningThatNeverEndsIsNoAnswer() {
        let cut = Self.answer("<think>\nThe answer is Red.\nThe bus is", finish: "length")
        guard case let .failure(failure) = ModelReasoning.separate(cut) else {
            Issue.record("an unclosed block was taken for an answer")
            return
        }
        #expect(failure.kind == .badAnswer)
        #expect(failure.message.contains("only the model's reasoning") && failure.message.contains("finish_reason length"))
        #expect(failure.message.contains("enable_thinking") && failure.message.contains("vxt retry --kind bad_answer"))
    }

    /// vLLM with a reasoning parser that ran out of tokens: content null, the thought beside it.
    @Test(arguments: ["reasoning_content", "reasoning"])
    func aNullContentBesideReasoningIsNoAnswer(field: String) {
        let body = """
            {"choices":[{"message":{"role":"assistant","content":null,"\(field)":"The answer is Red."},"finish_reason":"length"}]}
            """
        guard case let .failure(failure) = OpenAITeacher.parse(Array(body.utf8)) else {
            Issue.record("reasoning without content was taken for an answer")
            return
        }
        #expect(failure.kind == .badAnswer && failure.message.contains("18 characters in reasoning_content"), "\(failure)")
        // The same beside a real answer is an answer: the server did the separating.
        let answered = body.replacingOccurrences(of: "\"content\":null", with: "\"content\":\"The bus is red.\"")
        #expect((try? OpenAITeacher.parse(Array(answered.utf8)).get().text) == "The bus is red.")
    }
}
