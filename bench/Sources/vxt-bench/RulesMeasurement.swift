import Foundation
import VisualExtraction

/// For each corpus file: how many QA pairs the statement rules take, by rule, and how many rule
/// statements keep the answer (the answer's words appear; a "no" gives a negative statement).
enum RulesMeasurement {
    static func run(files: [String]) throws {
        for file in files {
            var pairs = 0, kept = 0
            var byRule: [String: Int] = [:]
            _ = try RecordSplitter(path: file).forEach { event in
                guard case let .record(raw) = event, case let .success(record) = LLaVARecordDecoder.decode(raw), record.skipReason == nil
                else { return }
                for pair in record.pairs {
                    pairs += 1
                    guard let written = StatementRules.statement(for: pair) else { continue }
                    byRule[written.rule, default: 0] += 1
                    let answer = pair.answer.trimmingCharacters(in: .whitespaces).lowercased().trimmingCharacters(
                        in: CharacterSet(charactersIn: "."))
                    let text = written.text.lowercased()
                    let keeps: Bool
                    switch answer {
                    case "yes": keeps = !text.contains(" no ")
                    case "no", "0", "zero": keeps = text.contains(" no ")
                    default: keeps = text.contains(answer) || written.rule == "count"
                    }
                    if keeps { kept += 1 }
                }
            }
            let ruled = byRule.values.reduce(0, +)
            let rules = byRule.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
            print(
                "{\"file\": \"\((file as NSString).lastPathComponent)\", \"pairs\": \(pairs), \"ruled\": \(ruled), "
                    + String(format: "\"share\": %.4f, ", pairs > 0 ? Double(ruled) / Double(pairs) : 0)
                    + "\"answer_kept\": \(kept), \"by_rule\": {\(rules)}}")
        }
    }

    /// For eval files of `{"text": question}` lines (no gold answers): the share of questions whose
    /// shape a rule covers, trying a typical short answer of each kind (yes, no, red, 2).
    static func shapes(files: [String]) throws {
        for file in files {
            var questions = 0, covered = 0
            var byRule: [String: Int] = [:]
            _ = try RecordSplitter(path: file).forEach { event in
                guard case let .record(raw) = event, let json = try? JSONParser.parse(raw.bytes),
                    let text = (json["text"] ?? json["question"] ?? json["instruction"])?.stringValue
                else { return }
                questions += 1
                for answer in ["yes", "no", "red", "2"] {
                    if let written = StatementRules.statement(for: QAPair(question: text, answer: answer)) {
                        covered += 1
                        byRule[written.rule, default: 0] += 1
                        break
                    }
                }
            }
            let rules = byRule.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
            print(
                "{\"file\": \"\((file as NSString).lastPathComponent)\", \"questions\": \(questions), \"rule_shaped\": \(covered), "
                    + String(format: "\"share\": %.4f, ", questions > 0 ? Double(covered) / Double(questions) : 0)
                    + "\"by_rule\": {\(rules)}}")
        }
    }
}
