public import AllotCompiler
public import AllotCore
public import Foundation

/// Paths inside the repository, for vector and golden files.
public enum Repository {
    public static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The contents of `Tests/Vectors/<name>`.
    public static func vectors(_ name: String) throws -> Data {
        try Data(contentsOf: root.appendingPathComponent("Tests/Vectors/\(name)"))
    }
}

/// Compiles in-memory experiment files into verified bundles, failing loudly on diagnostics.
public enum Fixture {
    /// The key fixtures are signed with (fresh per test process).
    public static let key = SigningKey.generate()

    public struct Compiled: Sendable {
        public var bundle: LoadedBundle
        public var envelope: [UInt8]
        public var output: Compiler.Output
        /// A name for this side of a comparison ("old", "new").
        public var label: String
        public var version: UInt64 { bundle.version }
    }

    /// Seals a compiler result with `key` and opens it as a server would; the compiler's
    /// diagnostics become the thrown error.
    public static func seal(
        _ result: Result<Compiler.Output, Compiler.Failure>, version: UInt64, createdAt: Int64, key: SigningKey = key, label: String = "old"
    ) throws -> Compiled {
        switch result {
        case .failure(let failure):
            throw FixtureError(message: failure.rendered)
        case .success(let output):
            let envelope = try BundleEnvelope.seal(payload: output.payload, version: version, createdAt: createdAt, key: key)
            let bundle = try LoadedBundle.open(envelope: envelope, trustedKeys: [key.publicKey])
            return Compiled(bundle: bundle, envelope: envelope, output: output, label: label)
        }
    }

    public static func compile(
        _ files: [String: String], lock: AllocationLock = AllocationLock(), version: UInt64 = 1, createdAt: Int64 = 1_700_000_000,
        label: String = "old"
    ) throws -> Compiled {
        let sources = files.keys.sorted().map { SourceFile(path: $0, text: files[$0]!) }
        return try seal(
            Compiler.compile(files: sources, lock: lock, version: version, createdAt: createdAt), version: version, createdAt: createdAt,
            label: label)
    }

    public static func compile(_ yaml: String, lock: AllocationLock = AllocationLock(), version: UInt64 = 1, label: String = "old") throws
        -> Compiled
    {
        try compile(["experiments/main.yaml": yaml], lock: lock, version: version, label: label)
    }

    /// Compiles `old`, then `new` against the lock `old` produced: what a pull request that edits
    /// the files and reruns `allot compile` deploys.
    public static func change(_ old: String, _ new: String) throws -> (old: Compiled, new: Compiled) {
        let before = try compile(old, version: 1, label: "old")
        let after = try compile(new, lock: before.output.lock, version: 2, label: "new")
        return (before, after)
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}
