import Foundation

/// The values a stage's template can use for one record. One place decides what `pairs`,
/// `count` or an upstream stage's name mean, so every stage and `vxt prompts` agree.
enum PromptContext {
    /// - `pairs`: list of `number` (from 1), `question` (raw human turn), `answer`, and the clean
    ///   forms `clean_question` (no `<image>`, answer-format suffixes, OCR hints or option lines;
    ///   region boxes as "the region [...]"), `clean_answer` (an option letter replaced by its
    ///   text) and `context` (a "Context:" line, or empty);
    /// - `count`: number of pairs; `many`: more than one pair;
    /// - `<stage name>`: the raw output text of each finished upstream stage.
    /// Names whose values need each question parsed; computed only for templates that use them.
    public static let cleanNames: Set<String> = ["clean_question", "clean_answer", "context"]

    public static func values(for record: CorpusRecord, upstream: [String: String], clean: Bool = true) -> [String: PromptTemplate.Value] {
        var values: [String: PromptTemplate.Value] = [
            "pairs": .list(
                record.pairs.enumerated().map { offset, pair in
                    var item: [String: PromptTemplate.Value] = [
                        "number": .text(String(offset + 1)),
                        "question": .text(pair.question),
                        "answer": .text(pair.answer)
                    ]
                    if clean {
                        let parsed = QuestionParser.parse(pair.question)
                        item["clean_question"] = .text(cleanQuestion(parsed))
                        item["clean_answer"] = .text(parsed.resolvedAnswer(pair.answer))
                        item["context"] = .text(parsed.context ?? "")
                    }
                    return item
                }),
            "count": .text(String(record.pairs.count)),
            "many": .flag(record.pairs.count > 1),
            "id": .text(record.displayID)
        ]
        for (stage, output) in upstream {
            values[stage] = .text(output)
        }
        return values
    }

    /// The question in words a statement can be written from: region boxes named as regions.
    static func cleanQuestion(_ parsed: ParsedQuestion) -> String {
        var text = parsed.question.replacingOccurrences(of: "\n", with: " ")
        for phrase in ["this region: [", "this region:[", "the region: ["] {
            text = text.replacingOccurrences(of: phrase, with: "the region [")
        }
        return text
    }
}
