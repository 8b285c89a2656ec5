import Foundation
import VisualExtraction

/// The mock teacher's answers: deterministic functions of the request, true about what it
/// received (the image's size and mean colour, the statements in the prompt), and signed with
/// `system_fingerprint: vxt-mock-teacher` so that nothing made here passes for model output.
public enum MockResponder {
    public struct Answer: Sendable {
        public var status: Int
        public var body: String
        /// Sent as `Retry-After` (429 faults).
        public var retryAfter: String?

        public init(status: Int, body: String, retryAfter: String? = nil) {
            self.status = status
            self.body = body
            self.retryAfter = retryAfter
        }
    }

    /// Ways the mock misbehaves on the statements prompt, to exercise vxt's count checks.
    public enum StatementFault: String, Sendable, CaseIterable {
        /// The first answer to each multi-pair prompt lacks its last statement; a repeated prompt is right.
        case shortOnce = "short-once"
        /// Every answer to a multi-pair prompt lacks its last statement; single pairs are right.
        case shortAlways = "short-always"
    }

    /// Prompts already answered, for `short-once`.
    final class SeenPrompts: @unchecked Sendable {
        private let lock = NSLock()
        private var seen = Set<String>()
        func firstTime(_ key: String) -> Bool {
            lock.lock(); defer { lock.unlock() }
            return seen.insert(key).inserted
        }
    }

    static let seen = SeenPrompts()

    /// With `truncated`, the content is cut in half and `finish_reason` is "length", as a server
    /// answers when `max_tokens` runs out.
    public static func answer(body: [UInt8], statementFault: StatementFault? = nil, truncated: Bool = false) -> Answer {
        guard let json = try? JSONParser.parse(body) else {
            return error(400, "request body is not JSON")
        }
        guard case let .array(messages)? = json["messages"], let last = messages.last else {
            return error(400, "request has no messages")
        }
        var texts: [String] = []
        var imageURLs: [String] = []
        switch last["content"] {
        case let .string(s)?:
            texts.append(s)
        case let .array(parts)?:
            for part in parts {
                if let text = part["text"]?.stringValue { texts.append(text) }
                if let url = part["image_url"]?["url"]?.stringValue { imageURLs.append(url) }
            }
        default:
            return error(400, "message content must be a string or a list of parts")
        }
        let prompt = texts.joined(separator: "\n")
        let model = json["model"]?.stringValue ?? "mock"
        var content: String
        if imageURLs.isEmpty && prompt.hasSuffix("Phrase:") {
            content = "the objects, attributes and positions the question asks about"
        } else if imageURLs.isEmpty && prompt.hasSuffix("Answers:") {
            content = answers(for: prompt)
        } else if imageURLs.isEmpty {
            var lines = statements(for: prompt).split(separator: "\n").map(String.init)
            if lines.count > 1, let fault = statementFault {
                // The re-ask appends a correction, so it is a new prompt: key on the pairs alone.
                let key = ContentHasher.sha256(lines.joined(separator: "\n"))
                if fault == .shortAlways || seen.firstTime(key) { lines.removeLast() }
            }
            content = lines.joined(separator: "\n")
        } else {
            var facts: [String] = []
            for url in imageURLs {
                switch describeImage(url) {
                case let .success(text): facts.append(text)
                case let .failure(problem): return error(400, problem.message)
                }
            }
            content = description(facts: facts, prompt: prompt)
        }
        if truncated { content = String(content.prefix(max(1, content.count / 2))) }
        let promptTokens = max(1, prompt.utf8.count / 4) + imageURLs.count * 256
        let completionTokens = max(1, content.utf8.count / 4)
        var out = "{\"id\":\"mock-\(ContentHasher.sha256(body).prefix(16))\",\"object\":\"chat.completion\",\"created\":0,\"model\":"
        JSONValueWriter.string(model, to: &out)
        out +=
            ",\"system_fingerprint\":\"\(OpenAITeacher.mockFingerprint)\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
        JSONValueWriter.string(content, to: &out)
        out +=
            "},\"finish_reason\":\"\(truncated ? "length" : "stop")\"}],\"usage\":{\"prompt_tokens\":\(promptTokens),\"completion_tokens\":\(completionTokens),\"total_tokens\":\(promptTokens + completionTokens)}}"
        return Answer(status: 200, body: out)
    }

    /// The benchmark stand-in's answer to everything: one sentence, so a one-pair statements
    /// prompt parses too.
    static let fixed = Answer(
        status: 200,
        body: """
            {"id":"mock-fixed","object":"chat.completion","created":0,"model":"mock","system_fingerprint":"vxt-mock-teacher",\
            "choices":[{"index":0,"message":{"role":"assistant","content":"The object in the image is red."},"finish_reason":"stop"}],\
            "usage":{"prompt_tokens":300,"completion_tokens":8,"total_tokens":308}}
            """)

    static func error(_ status: Int, _ message: String) -> Answer {
        var out = "{\"error\":{\"message\":"
        JSONValueWriter.string(message, to: &out)
        out += ",\"type\":\"invalid_request_error\"}}"
        return Answer(status: status, body: out)
    }

    /// One line per "Question #k: ... Answer: ..." pair of the statements prompt.
    static func statements(for prompt: String) -> String {
        var lines: [String] = []
        var question: String?
        var collectingQuestion = false
        for line in prompt.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if let range = line.range(of: #"^Question #\d+: "#, options: .regularExpression) {
                question = String(line[range.upperBound...])
                collectingQuestion = true
            } else if line.hasPrefix("Answer: "), let q = question {
                lines.append(statement(question: q, answer: String(line.dropFirst("Answer: ".count))))
                question = nil
                collectingQuestion = false
            } else if collectingQuestion, let q = question {
                // Multi-line human turns (options, OCR hints) continue the question.
                question = q + "\n" + line
            }
        }
        if lines.isEmpty { return "The request held no question-answer pairs." }
        return lines.joined(separator: "\n")
    }

    /// "What color is the bus?" + "Red" -> "What color is the bus: red." Not a model's
    /// declarative sentence, but it carries the question's subject and the answer verbatim, so
    /// the audit's coverage check and the answerability stage can find both.
    static func statement(question: String, answer: String) -> String {
        let firstLine =
            question.replacingOccurrences(of: "<image>", with: "")
            .split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty } ?? ""
        var q = firstLine
        while q.hasSuffix("?") || q.hasSuffix(".") { q.removeLast() }
        var a = answer.replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
        if a.hasSuffix(".") { a.removeLast() }
        return "\(q): \(a)."
    }

    /// Answers the answerability prompt from its description alone: with the description's
    /// statement for the question ("What color is the bus: red.") when it has one, else with the
    /// sentence sharing most of the question's words (yes or no for yes/no questions, by
    /// negation), else "unknown". So a description that lost a statement loses its answer too.
    static func answers(for prompt: String) -> String {
        var description = ""
        var answers: [String] = []
        for line in prompt.split(separator: "\n").map(String.init) {
            if line.hasPrefix("Description: ") { description = String(line.dropFirst("Description: ".count)) }
            guard let range = line.range(of: #"^Question #\d+: "#, options: .regularExpression) else { continue }
            var question = String(line[range.upperBound...]).trimmingCharacters(in: .whitespaces)
            while question.hasSuffix("?") || question.hasSuffix(".") { question.removeLast() }
            answers.append(answer(question, from: description))
        }
        return answers.joined(separator: "\n")
    }

    static func answer(_ question: String, from description: String) -> String {
        if !question.isEmpty, let found = description.range(of: question + ": ") {
            let rest = description[found.upperBound...]
            let end = rest.range(of: ". ")?.lowerBound ?? (rest.hasSuffix(".") ? rest.index(before: rest.endIndex) : rest.endIndex)
            return String(rest[..<end])
        }
        func words(_ text: String) -> Set<String> {
            Set(
                text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)
                    .filter {
                        $0.count > 3 && !["what", "which", "where", "many", "much", "this", "that", "there", "shown", "image"].contains($0)
                    })
        }
        let asked = words(question)
        let sentences = description.components(separatedBy: ". ")
        guard let best = sentences.max(by: { words($0).intersection(asked).count < words($1).intersection(asked).count }),
            !words(best).intersection(asked).isEmpty
        else { return "unknown" }
        let first = question.lowercased().split(separator: " ").first.map(String.init) ?? ""
        if ["is", "are", "does", "do", "can", "was", "were", "has", "have"].contains(first) {
            let lower = " " + best.lowercased() + " "
            return lower.contains(" no ") || lower.contains(" not ") ? "No" : "Yes"
        }
        return best
    }

    static func description(facts: [String], prompt: String) -> String {
        var statements: [String] = []
        var inBlock = false
        for line in prompt.split(separator: "\n").map(String.init) {
            if line.hasPrefix("As part of your description") { inBlock = true; continue }
            if line.hasPrefix("Description:") { break }
            if inBlock, !line.trimmingCharacters(in: .whitespaces).isEmpty { statements.append(line.trimmingCharacters(in: .whitespaces)) }
        }
        var text = facts.joined(separator: " ")
        if !statements.isEmpty {
            text += " The image also shows the following. " + statements.joined(separator: " ")
        }
        return text
    }

    static func describeImage(_ url: String) -> Result<String, MockError> {
        let bytes: [UInt8]
        if url.hasPrefix("file://") {
            // image_transport: file — read the prepared image where the client wrote it.
            guard let path = URL(string: url)?.path, let data = FileManager.default.contents(atPath: path) else {
                return .failure(MockError("cannot read the image file \(url)"))
            }
            bytes = [UInt8](data)
        } else {
            guard url.hasPrefix("data:"), let comma = url.firstIndex(of: ",") else {
                return .failure(MockError("mock teacher accepts data: and file:// image URLs"))
            }
            guard let decoded = Base64.decode(url[url.index(after: comma)...]) else {
                return .failure(MockError("image data URL is not valid base64"))
            }
            bytes = decoded
        }
        let result = bytes.withUnsafeBytes { raw -> Result<RGBImage, ImageError> in
            do throws(ImageError) {
                return .success(try ImageCodec.decode(raw, format: ImageFormat(magic: raw), path: "<request>", maxPixels: 1 << 28).image)
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case let .failure(error):
            return .failure(MockError("cannot decode the request's image: \(error)"))
        case let .success(image):
            let mean = image.meanColor
            return .success(
                "This is a \(image.width)x\(image.height) image whose average colour is \(colorName(mean)) (RGB \(mean.red), \(mean.green), \(mean.blue))."
            )
        }
    }

    public struct MockError: Error, CustomStringConvertible {
        let message: String
        init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    static func colorName(_ c: (red: Int, green: Int, blue: Int)) -> String {
        let palette: [(String, Int, Int, Int)] = [
            ("black", 0, 0, 0), ("white", 255, 255, 255), ("grey", 128, 128, 128), ("dark grey", 64, 64, 64),
            ("light grey", 192, 192, 192), ("red", 200, 30, 30), ("green", 40, 160, 40), ("blue", 40, 60, 200),
            ("yellow", 230, 220, 40), ("orange", 240, 140, 30), ("brown", 120, 80, 40), ("purple", 120, 50, 150),
            ("pink", 240, 150, 180), ("teal", 30, 130, 130), ("olive", 110, 110, 40), ("navy", 20, 30, 90),
            ("beige", 220, 200, 160)
        ]
        var best = palette[0]
        var bestDistance = Int.max
        for entry in palette {
            let d =
                (entry.1 - c.red) * (entry.1 - c.red) + (entry.2 - c.green) * (entry.2 - c.green) + (entry.3 - c.blue) * (entry.3 - c.blue)
            if d < bestDistance { bestDistance = d; best = entry }
        }
        return best.0
    }
}
