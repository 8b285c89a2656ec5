/// Reads a model's answer to the statements prompt as one statement per line.
///
/// Models decorate lists ("1.", "2)", "- ", "Statement 1:", "**Statement #1:**") and sometimes
/// repeat the prompt's last line; none of that belongs in a statement.
public enum StatementParser {
    public static func parse(_ text: String) -> [String] {
        var statements: [String] = []
        for rawLine in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            var line = String(rawLine).trimmed
            if line.isEmpty { continue }
            let lowered = line.lowercased()
            if lowered.hasPrefix("declarative statement") && line.hasSuffix(":") { continue }
            line = stripLabel(line)
            line = stripQuotes(line)
            if !line.isEmpty { statements.append(line) }
        }
        return statements
    }

    static func stripLabel(_ line: String) -> String {
        var s = Substring(line)
        // Markdown emphasis around a label: **Statement 1:** text
        while s.hasPrefix("*") || s.hasPrefix("_") { s = s.dropFirst() }
        var changed = true
        while changed {
            changed = false
            let trimmedStart = s.drop(while: { $0 == " " })
            if let bullet = trimmedStart.first, "-•*".contains(bullet), trimmedStart.dropFirst().first == " " {
                s = trimmedStart.dropFirst(2)
                changed = true
            }
            // "Statement 1:", "Statement #1:", "Statement 1 -"
            if s.lowercased().hasPrefix("statement") {
                var rest = s.dropFirst("statement".count).drop(while: { $0 == " " || $0 == "#" })
                let digits = rest.prefix(while: { $0.isNumber })
                if !digits.isEmpty {
                    rest = rest.dropFirst(digits.count)
                    if let mark = rest.first, ":.)-".contains(mark) {
                        s = rest.dropFirst().drop(while: { $0 == " " || $0 == "*" || $0 == "_" })
                        changed = true
                    }
                }
            }
            // "1.", "1)", "(1)", "#1:"
            var rest = s.drop(while: { $0 == "(" || $0 == "#" })
            let digits = rest.prefix(while: { $0.isNumber })
            if !digits.isEmpty && digits.count <= 3 {
                rest = rest.dropFirst(digits.count)
                if let mark = rest.first, ".):".contains(mark), rest.dropFirst().first == " " || rest.count == 1 {
                    s = rest.dropFirst().drop(while: { $0 == " " || $0 == "*" || $0 == "_" })
                    changed = true
                }
            }
        }
        var result = String(s).trimmed
        while result.hasSuffix("**") { result.removeLast(2) }
        return result.trimmed
    }

    static func stripQuotes(_ line: String) -> String {
        let pairs: [(Character, Character)] = [("\"", "\""), ("“", "”"), ("'", "'")]
        for (open, close) in pairs where line.count >= 2 && line.first == open && line.last == close {
            return String(line.dropFirst().dropLast()).trimmed
        }
        return line
    }
}
