// swift-tools-version:6.0
import PackageDescription

/// Every Swift target gets the same strict settings: cheap now, expensive to add later.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault")
]

let package = Package(
    name: "vxt",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vxt", targets: ["vxt"]),
        .library(name: "VisualExtraction", targets: ["VisualExtraction"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2")
    ],
    targets: [
        // C shims: only what Swift cannot call directly (variadic curl_easy_setopt,
        // libjpeg/libpng error handling through setjmp/longjmp, epoll, OpenSSL's opaque SHA-256).
        .target(
            name: "CCurl",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        .target(
            name: "CHash",
            linkerSettings: [.linkedLibrary("crypto")]
        ),
        .target(
            name: "CZlib",
            linkerSettings: [.linkedLibrary("z")]
        ),
        .target(
            name: "CZstd",
            linkerSettings: [.linkedLibrary("zstd")]
        ),
        .target(
            name: "CJPEG",
            linkerSettings: [
                .linkedLibrary("jpeg"), .linkedLibrary("png"), .linkedLibrary("webp"), .linkedLibrary("webpdemux"), .linkedLibrary("gif")
            ]
        ),
        .target(
            name: "VisualExtraction",
            dependencies: [
                "CCurl", "CJPEG", "CHash", "CZlib", "CZstd",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C interface, for the ingest's per-record insert (`RawStatement`).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log")
            ],
            // The shipped pipelines (links to pipelines/*.yaml), compiled into the binary as bytes so
            // that `vxt run paper` works from any folder; the YAML files stay the one source.
            resources: [.embedInCode("Pipeline/BuiltIn/paper.yaml"), .embedInCode("Pipeline/BuiltIn/clean.yaml")],
            swiftSettings: strict
        ),
        .target(
            name: "MockTeacher",
            dependencies: [
                "VisualExtraction",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio")
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "vxt",
            dependencies: [
                "VisualExtraction", "MockTeacher",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log")
            ],
            swiftSettings: strict
        ),
        // Benchmarks (bench/): measured against baselines by the scripts beside them.
        .executableTarget(
            name: "vxt-bench",
            dependencies: ["VisualExtraction"],
            path: "bench/Sources/vxt-bench",
            swiftSettings: strict
        ),
        .testTarget(
            name: "VisualExtractionTests",
            dependencies: ["VisualExtraction", "MockTeacher", .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["Fixtures"],
            swiftSettings: strict
        )
    ],
    swiftLanguageModes: [.v6]
)
