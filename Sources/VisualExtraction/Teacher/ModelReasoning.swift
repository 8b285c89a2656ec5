/// The reasoning a thinking model (Qwen3, QwQ, DeepSeek-R1 and its distills) writes before its
/// answer, taken out of the answer.
///
/// A server with a reasoning parser (vLLM's `--reasoning-parser`) moves it to
/// `reasoning_content`; without one it stays in the content, as `<think>…</think>` before the
/// answer, or, where the chat template opened the block in the prompt (DeepSeek-R1, Qwen3.5), as
/// text that ends with `</think>`. Its lines read like statements ("The answer is Red.") and like
/// a description, so left in they become the corpus. Taken out, the answer is what the paper's
/// prompt asked for; an answer that is reasoning only (the block never closed because
/// `max_tokens` ran out mid-thought) is no answer, and says how to turn thinking off.
enum ModelReasoning {
    /// Opening and closing tags, in the order they are tried.
    static let tags: [(open: String, close: String)] = [("<think>", "</think>"), ("<thinking>", "</thinking>")]

    /// `answer` with the reasoning before its text removed (`reasoningCharacters` says how much),
    /// or a failure when nothing but reasoning came back.
    static func separate(_ answer: ChatResult) -> Result<ChatResult, TeacherFailure> {
        let text = answer.text
        let start = text.firstIndex { !$0.isWhitespace } ?? text.endIndex
        for (open, close) in tags {
            let opened = text[start...].hasPrefix(open)
            let searchFrom = opened ? text.index(start, offsetBy: open.count) : start
            guard let end = text.range(of: close, range: searchFrom..<text.endIndex) else {
                if opened { return .failure(reasoningOnly(answer, characters: text.count, where: "an unclosed \(open) block")) }
                continue
            }
            // Without an opening tag, a closing one counts only before any other of its kind:
            // the template opened the block. (An answer that quotes the tag later is left alone.)
            if !opened && text[start..<end.lowerBound].contains(open) { continue }
            var result = answer
            result.text = String(text[end.upperBound...].drop { $0.isWhitespace })
            result.reasoningCharacters += text.distance(from: text.startIndex, to: end.upperBound)
            return .success(result)
        }
        return .success(answer)
    }

    /// The failure of an answer that is all reasoning: its kind is `bad_answer`, so that
    /// `vxt retry --kind bad_answer` asks again once the server is set up.
    static func reasoningOnly(_ answer: ChatResult, characters: Int, where place: String) -> TeacherFailure {
        TeacherFailure(
            message: """
                the teacher's answer is only the model's reasoning (\(characters) characters in \(place), \
                finish_reason \(answer.finishReason ?? "none")): a thinking model. Turn thinking off on the server \
                (Qwen3 on vLLM: "chat_template_kwargs": {"enable_thinking": false} in teacher.extra_body) or raise the \
                stage's max_tokens, then `vxt retry --kind bad_answer` and run again
                """,
            status: 200, attempts: answer.attempts, kind: .badAnswer, endpoint: answer.endpoint)
    }
}
