// swift-tools-version:6.0
// libFuzzer targets for what reads untrusted bytes: the record splitter and decoder (corpora
// from strangers) and the statements parser (model output). Built and run by bench/fuzz/run
// with `-sanitize=fuzzer,address`; not part of the test suite.
import PackageDescription

let fuzzer: [SwiftSetting] = [.unsafeFlags(["-parse-as-library", "-sanitize=fuzzer,address"])]

let package = Package(
    name: "vxt-fuzz",
    dependencies: [.package(name: "vxt", path: "../..")],
    targets: [
        .executableTarget(
            name: "fuzz-records", dependencies: [.product(name: "VisualExtraction", package: "vxt")], swiftSettings: fuzzer,
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address"])]),
        .executableTarget(
            name: "fuzz-statements", dependencies: [.product(name: "VisualExtraction", package: "vxt")], swiftSettings: fuzzer,
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address"])])
    ]
)
