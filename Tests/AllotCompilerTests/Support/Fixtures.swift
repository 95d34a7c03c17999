import AllotCompiler
import AllotCore
import Foundation

/// Paths inside the repository, for vector files and fixtures.
enum Repository {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func vectors(_ name: String) throws -> Data {
        try Data(contentsOf: root.appendingPathComponent("Tests/Vectors/\(name)"))
    }
}

/// Compiles in-memory experiment files into a verified bundle, failing loudly on diagnostics.
enum Fixture {
    static let key = SigningKey.generate()

    struct Compiled {
        var bundle: LoadedBundle
        var envelope: [UInt8]
        var output: Compiler.Output
    }

    static func compile(_ files: [String: String], lock: AllocationLock = AllocationLock(), version: UInt64 = 1, createdAt: Int64 = 1_700_000_000)
        throws -> Compiled
    {
        let sources = files.keys.sorted().map { SourceFile(path: $0, text: files[$0]!) }
        switch Compiler.compile(files: sources, lock: lock, version: version, createdAt: createdAt) {
        case .failure(let failure):
            throw FixtureError(message: failure.rendered)
        case .success(let output):
            let envelope = try BundleEnvelope.seal(payload: output.payload, version: version, createdAt: createdAt, key: key)
            let bundle = try LoadedBundle.open(envelope: envelope, trustedKeys: [key.publicKey])
            return Compiled(bundle: bundle, envelope: envelope, output: output)
        }
    }

    static func compile(_ yaml: String, lock: AllocationLock = AllocationLock(), version: UInt64 = 1) throws -> Compiled {
        try compile(["experiments/main.yaml": yaml], lock: lock, version: version)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
