/// The pipelines that ship with vxt, compiled into the binary from `pipelines/*.yaml` (see
/// Package.swift), so that `vxt run paper …` and `vxt init` work from any folder.
public enum BuiltInPipelines {
    /// Name → YAML text, in the order `--help` lists them.
    public static let all: [(name: String, yaml: String)] = [
        ("paper", String(decoding: PackageResources.paper_yaml, as: UTF8.self)),
        ("clean", String(decoding: PackageResources.clean_yaml, as: UTF8.self))
    ]

    public static var names: [String] { all.map(\.name) }

    public static func yaml(named name: String) -> String? {
        let bare = name.hasSuffix(".yaml") ? String(name.dropLast(5)) : name
        return all.first { $0.name == bare }?.yaml
    }
}
