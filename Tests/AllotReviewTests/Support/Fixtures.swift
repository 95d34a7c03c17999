import AllotCompiler
import AllotCore
import Foundation

@testable import AllotReview

/// Paths inside the repository, for golden files.
enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
}

/// Compiles in-memory experiment files into verified bundles and review snapshots.
enum Fixture {
    static let key = SigningKey.generate()

    struct Compiled {
        var bundle: LoadedBundle
        var envelope: [UInt8]
        var output: Compiler.Output
        var snapshot: ReviewSnapshot
    }

    static func compile(_ files: [String: String], lock: AllocationLock = AllocationLock(), version: UInt64 = 1, label: String = "old")
        throws -> Compiled
    {
        let sources = files.keys.sorted().map { SourceFile(path: $0, text: files[$0]!) }
        switch Compiler.compile(files: sources, lock: lock, version: version, createdAt: 1_700_000_000) {
        case .failure(let failure):
            throw FixtureError(message: failure.rendered)
        case .success(let output):
            let envelope = try BundleEnvelope.seal(payload: output.payload, version: version, createdAt: 1_700_000_000, key: key)
            let bundle = try LoadedBundle.open(envelope: envelope, trustedKeys: [key.publicKey])
            let snapshot = try ReviewSnapshot(origin: .directory(path: label), compiled: output)
            return Compiled(bundle: bundle, envelope: envelope, output: output, snapshot: snapshot)
        }
    }

    static func compile(_ yaml: String, lock: AllocationLock = AllocationLock(), version: UInt64 = 1, label: String = "old") throws
        -> Compiled
    {
        try compile(["experiments/main.yaml": yaml], lock: lock, version: version, label: label)
    }

    /// Compiles `old`, then `new` against the lock `old` produced: what a pull request that
    /// edits the files and reruns `allot compile` deploys.
    static func change(_ old: String, _ new: String) throws -> (old: Compiled, new: Compiled) {
        let before = try compile(old, version: 1, label: "old")
        let after = try compile(new, lock: before.output.lock, version: 2, label: "new")
        return (before, after)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// A small, deterministic random number generator (SplitMix64) for property tests.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
