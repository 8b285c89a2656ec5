import Foundation

/// The corpus path a command was given, checked before anything is made for it (a work
/// directory, a store, a teacher): a folder or a mistyped name is answered with the corpus files
/// that are there, so the next command can be the right one.
public enum CorpusPath {
    public struct Problem: Error, CustomStringConvertible {
        public let description: String
    }

    /// Throws `problem(path)`, for commands that stop on it.
    public static func check(_ path: String) throws(Problem) {
        if let message = problem(path) { throw Problem(description: message) }
    }

    /// What is wrong with `path` as a corpus file, or nil when it is a file (or a pipe) to read.
    public static func problem(_ path: String) -> String? {
        var isFolder: ObjCBool = false
        let fm = FileManager.default
        if fm.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { return nil }
            let found = corpusFiles(in: path)
            guard let first = found.first else {
                return "\(path) is a folder, not a corpus file, and holds no .json or .jsonl file; pass the corpus file itself"
            }
            return "\(path) is a folder, not a corpus file; its corpus files: \(listed(found)); pass one, e.g. \(joined(path, first))"
        }
        let parent = (path as NSString).deletingLastPathComponent
        let folder = parent.isEmpty ? "." : parent
        guard fm.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            return "\(path) does not exist, nor does its folder \(folder)"
        }
        let found = corpusFiles(in: folder)
        guard !found.isEmpty else { return "\(path) does not exist, and \(folder) holds no .json or .jsonl file" }
        return "\(path) does not exist; the corpus files in \(folder): \(listed(found.map { joined(parent, $0) }))"
    }

    /// Names in `folder` that look like corpora (`.json`, `.jsonl`, compressed or not), sorted.
    static func corpusFiles(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let suffixes = [".json", ".jsonl", ".ndjson"].flatMap { [$0, $0 + ".gz", $0 + ".zst"] }
        return names.filter { name in !name.hasPrefix(".") && suffixes.contains { name.hasSuffix($0) } }.sorted()
    }

    private static func listed(_ names: [String]) -> String {
        names.prefix(5).joined(separator: ", ") + (names.count > 5 ? " and \(names.count - 5) more" : "")
    }

    private static func joined(_ folder: String, _ name: String) -> String {
        folder.isEmpty ? name : (folder as NSString).appendingPathComponent(name)
    }
}
