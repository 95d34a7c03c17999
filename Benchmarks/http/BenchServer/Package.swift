// swift-tools-version: 6.1
// The benchmark server: the engine sources of Sources/AllotServer/HTTP and Metrics, copied in by
// Benchmarks/http/run.sh at build time, plus main.swift. A separate package so the benchmark needs
// no target in the main manifest; same compiler settings as AllotServer.
import PackageDescription

let package = Package(
    name: "allot-http-bench",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .executableTarget(
            name: "allot-http-bench",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/allot-http-bench",
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("InternalImportsByDefault"),
            ]
        )
    ]
)
