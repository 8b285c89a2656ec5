/// The values a stage's template can use for one record. One place decides what `pairs`,
/// `count` or an upstream stage's name mean, so every stage and `vxt prompts` agree.
public enum PromptContext {
    /// - `pairs`: list of `number` (from 1), `question` (raw human turn), `answer`;
    /// - `count`: number of pairs; `many`: more than one pair;
    /// - `<stage name>`: the raw output text of each finished upstream stage.
    public static func values(for record: CorpusRecord, upstream: [String: String]) -> [String: PromptTemplate.Value] {
        var values: [String: PromptTemplate.Value] = [
            "pairs": .list(record.pairs.enumerated().map { offset, pair in
                [
                    "number": .text(String(offset + 1)),
                    "question": .text(pair.question),
                    "answer": .text(pair.answer),
                ]
            }),
            "count": .text(String(record.pairs.count)),
            "many": .flag(record.pairs.count > 1),
            "id": .text(record.displayID),
        ]
        for (stage, output) in upstream {
            values[stage] = .text(output)
        }
        return values
    }
}
