/// What can be wrong with a sample. Each flag is stored with the evidence that raised it, so a
/// reader can judge the check as well as the sample.
public enum AuditFlag: String, CaseIterable, Sendable, Codable, Comparable {
    /// The teacher stopped at its token limit (`finish_reason: length`): the description ends mid-thought.
    case truncated
    /// Fewer than a handful of words.
    case empty
    /// The teacher declined ("I'm sorry", "I cannot", "As an AI").
    case refusal
    /// The description talks about the task ("the statement", "Question #", "the provided information")
    /// instead of the image: the student would learn to mention statements it never sees.
    case metaLeak = "meta_leak"
    /// Some statements' key content (answer words, numbers, OCR text) is not in the description.
    case missingStatements = "missing_statements"
    /// Repeated word sequences: a decoding loop.
    case repetition
    /// Length far outside the corpus's distribution (computed over all audited samples).
    case lengthOutlier = "length_outlier"
    /// Not English prose (the prompts ask for English).
    case wrongLanguage = "wrong_language"
    /// Nearly the same text as an earlier sample's description (MinHash over word 4-grams).
    case nearDuplicate = "near_duplicate"
    /// The record's image is missing, unreadable or corrupt; the record has no sample.
    case imageProblem = "image_problem"
    /// With an answerability stage: a text-only model, given only the description, did not
    /// reproduce some gold answers.
    case unanswerable

    /// Flags that need the whole corpus; recomputed on every audit.
    static let corpusLevel: Set<AuditFlag> = [.lengthOutlier, .nearDuplicate, .imageProblem]

    public static func < (a: AuditFlag, b: AuditFlag) -> Bool {
        (allCases.firstIndex(of: a) ?? 0) < (allCases.firstIndex(of: b) ?? 0)
    }

    /// Parses a comma-separated list such as `truncated,meta_leak`, naming the valid flags on error.
    public static func parseList(_ text: String) throws -> Set<AuditFlag> {
        var out = Set<AuditFlag>()
        for name in text.split(separator: ",").map({ String($0).trimmed }) where !name.isEmpty {
            guard let flag = AuditFlag(rawValue: name) else {
                throw UnknownFlag(name: name)
            }
            out.insert(flag)
        }
        return out
    }

    public struct UnknownFlag: Error, CustomStringConvertible {
        public let name: String
        public var description: String {
            "unknown audit flag \"\(name)\"; flags are \(AuditFlag.allCases.map(\.rawValue).joined(separator: ", "))"
        }
    }
}

/// One raised flag and why.
struct AuditFinding: Sendable, Equatable {
    public var flag: AuditFlag
    public var evidence: String

    public init(_ flag: AuditFlag, _ evidence: String) {
        self.flag = flag
        self.evidence = evidence
    }
}
