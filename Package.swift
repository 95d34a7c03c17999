// swift-tools-version: 6.1
import PackageDescription

/// Upcoming language features every target opts into.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "allot",
    // The minimum macOS for what builds there: the AllotCore library, for apps that embed the
    // evaluator. AllotHTTP polls with epoll (CAllotLinux), so it, AllotServer and the `allot` tool
    // build on Linux only; elsewhere AllotHTTP stops with an #error naming the missing poller.
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "allot", targets: ["allot"]),
        .executable(name: "allot-benchmarks", targets: ["AllotBenchmarks"]),
        // The evaluator, for apps that embed Allot and evaluate a bundle in-process.
        .library(name: "AllotCore", targets: ["AllotCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // C libraries from Debian's libzstd-dev and libsodium-dev.
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        // libcurl from Debian's libcurl4-openssl-dev: the S3 transport, with size and time bounds.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Linux calls and constants Glibc's Swift module does not export (epoll, eventfd, accept4),
        // for the HTTP engine. Header-only: the functions are glibc's.
        .systemLibrary(name: "CAllotLinux"),

        // The build stamp (commit, date) that ops/deploy/release.sh writes into a release binary.
        .target(name: "CAllotBuildStamp"),

        // Bundle reader, verifier and evaluator. Depends on nothing but the C shims: an edge
        // server and an embedding app pay for nothing else.
        .target(
            name: "AllotCore",
            dependencies: ["CZstd", "CSodium"],
            swiftSettings: swiftSettings
        ),
        // Experiment language (YAML), targeting compiler, allocation lock, bundle writer.
        .target(
            name: "AllotCompiler",
            dependencies: ["AllotCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // `allot diff` and `allot lint`: what a change does to live users.
        .target(
            name: "AllotReview",
            dependencies: ["AllotCore", "AllotCompiler"],
            swiftSettings: swiftSettings
        ),
        // Object stores (local folder, S3 with SigV4), manifests and the publish protocol.
        .target(
            name: "AllotStore",
            dependencies: ["AllotCore", "CCurl", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // The HTTP/1.1 engine (epoll event loops, parser, response writer) and the metrics
        // registry. Knows nothing of bundles: routes plug in through `HTTPHandler`.
        .target(
            name: "AllotHTTP",
            dependencies: [
                "AllotCore",
                "CAllotLinux",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The exposure log: per-worker event buffers, the segment writer and the uploader
        // (docs/exposures.md).
        .target(
            name: "AllotExposures",
            dependencies: [
                "AllotCore",
                "AllotStore",
                "AllotHTTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `allot analyze`: experiment results from the exposure log and metric events
        // (docs/analysis.md): readers, per-unit aggregation, statistics, reports, SQL.
        .target(
            name: "AllotAnalysis",
            dependencies: ["AllotCore", "AllotCompiler", "AllotStore"],
            swiftSettings: swiftSettings
        ),
        // The edge server: native and OFREP routes, bundle poller, wiring (`EdgeServer`).
        .target(
            name: "AllotServer",
            dependencies: [
                "AllotCore",
                "AllotStore",
                "AllotHTTP",
                "AllotExposures",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The command-line tool: parses arguments and wires the parts together.
        .executableTarget(
            name: "allot",
            dependencies: [
                "AllotCore",
                "AllotCompiler",
                "AllotReview",
                "AllotAnalysis",
                "AllotStore",
                "AllotHTTP",
                "AllotServer",
                "CAllotBuildStamp",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Benchmarks (run by Benchmarks/run.sh in release mode; not part of the tests).
        .executableTarget(
            name: "AllotBenchmarks",
            dependencies: [
                "AllotCore", "AllotCompiler", "AllotExposures", "AllotHTTP", .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/AllotBenchmarks",
            swiftSettings: swiftSettings
        ),
        // The HTTP benchmark's server: the engine alone with a fixed answer (Benchmarks/http).
        .executableTarget(
            name: "allot-http-bench",
            dependencies: [
                "AllotHTTP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/http/BenchServer",
            swiftSettings: swiftSettings
        ),

        // Shared by the test targets: compiling fixtures, repository paths, seeded randomness, child
        // processes (servers on free ports, moto, the built `allot`) and scratch folders.
        .target(
            name: "AllotTestSupport",
            dependencies: ["AllotCore", "AllotCompiler", "AllotHTTP", .product(name: "Logging", package: "swift-log")],
            path: "Tests/AllotTestSupport",
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "AllotCoreTests",
            dependencies: ["AllotTestSupport", "AllotCore", "AllotCompiler"],
            swiftSettings: swiftSettings
        ),
        // End-to-end tests of the built `allot` binary (scripts/test builds it first).
        .testTarget(
            name: "AllotCLITests",
            dependencies: ["AllotTestSupport", "AllotCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AllotCompilerTests",
            dependencies: ["AllotTestSupport", "AllotCore", "AllotCompiler"],
            exclude: ["Golden"],
            swiftSettings: swiftSettings
        ),
        // Statistics checked against SciPy, coverage, SRM, readers, the emitted SQL against DuckDB.
        .testTarget(
            name: "AllotAnalysisTests",
            dependencies: ["AllotTestSupport", "AllotCore", "AllotCompiler", "AllotAnalysis"],
            exclude: ["Python"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AllotReviewTests",
            dependencies: ["AllotTestSupport", "AllotCore", "AllotCompiler", "AllotReview"],
            exclude: ["Golden"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AllotStoreTests",
            dependencies: ["AllotTestSupport", "AllotCore", "AllotStore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // The HTTP engine on real sockets: protocol, limits, hostile clients, lifecycle, metrics.
        .testTarget(
            name: "AllotHTTPTests",
            dependencies: [
                "AllotTestSupport", "AllotHTTP", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AllotServerTests",
            dependencies: [
                "AllotTestSupport", "AllotCore", "AllotCompiler", "AllotStore", "AllotHTTP", "AllotServer", "AllotExposures",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Clients"],
            swiftSettings: swiftSettings
        ),
        // The multi-region drill's invariants: runs ops/drill/drill.py --profile ci against the
        // built `allot` binary (scripts/test builds it first).
        .testTarget(
            name: "AllotDrillTests",
            dependencies: ["AllotTestSupport"],
            swiftSettings: swiftSettings
        ),
        // The deployment artefacts (ops/deploy): runs ops/deploy/check.py, one test per check.
        .testTarget(
            name: "AllotDeployTests",
            dependencies: ["AllotTestSupport"],
            swiftSettings: swiftSettings
        ),
    ]
)
