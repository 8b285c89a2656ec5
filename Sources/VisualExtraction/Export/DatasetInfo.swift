import Foundation

/// LLaMA-Factory's `dataset_info.json`: the registry its trainer reads from `dataset_dir` to find
/// a dataset by name. An export in the `llamafactory` format registers itself there, so that
/// `dataset: <name>` in a training config is all a user adds.
public enum DatasetInfo {
    public struct Failure: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// The entry for a ShareGPT-style `messages` + `images` file, in LLaMA-Factory's words.
    static func entry(fileName: String) -> JSONValue {
        .object([
            ("file_name", .string(fileName)),
            ("formatting", .string("sharegpt")),
            ("columns", .object([("messages", .string("messages")), ("images", .string("images"))])),
            (
                "tags",
                .object([
                    ("role_tag", .string("role")), ("content_tag", .string("content")), ("user_tag", .string("user")),
                    ("assistant_tag", .string("assistant"))
                ])
            )
        ])
    }

    /// The dataset name for an export file: its name without `.jsonl`/`.json`, dots as underscores.
    public static func defaultName(forExport path: String) -> String {
        var name = (path as NSString).lastPathComponent
        for suffix in [".jsonl", ".json"] where name.hasSuffix(suffix) {
            name.removeLast(suffix.count)
            break
        }
        return name.replacingOccurrences(of: ".", with: "_")
    }

    /// Adds (or replaces) `name` in the `dataset_info.json` beside `exportPath`, keeping every other
    /// entry as it was. Returns the registry's path.
    @discardableResult
    public static func register(exportPath: String, name: String) throws -> String {
        let folder = (exportPath as NSString).deletingLastPathComponent
        let registry = ((folder.isEmpty ? "." : folder) as NSString).appendingPathComponent("dataset_info.json")
        var members: [(key: String, value: JSONValue)] = []
        if FileManager.default.fileExists(atPath: registry) {
            guard let data = FileManager.default.contents(atPath: registry) else {
                throw Failure(message: "\(registry): cannot read it; fix its permissions or move it away")
            }
            let existing: JSONValue
            do { existing = try JSONParser.parse([UInt8](data)) } catch {
                throw Failure(message: "\(registry): not valid JSON (\(error)); fix it or move it away, then export again")
            }
            guard case let .object(found) = existing else {
                throw Failure(message: "\(registry): expected a JSON object of datasets, found \(existing.kindName)")
            }
            members = found.filter { $0.key != name }
        }
        members.append((name, entry(fileName: (exportPath as NSString).lastPathComponent)))
        // One entry per line, as people keep the file: diffs stay readable.
        var text = "{\n"
        for (index, member) in members.enumerated() {
            text += "  " + JSONValue.string(member.key).jsonText + ": " + member.value.jsonText
            text += index == members.count - 1 ? "\n" : ",\n"
        }
        text += "}\n"
        let file = try OutputFile(path: registry)
        try file.write(text)
        try file.commit()
        return registry
    }
}
