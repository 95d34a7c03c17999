import AllotCore
import AllotTestSupport
import Foundation
import Logging

@testable import AllotStore

/// Keys, bundles, folders and loggers for tests.
enum Fixtures {
    /// A quiet logger (set ALLOT_TEST_LOG=debug to see the stores talk).
    static let logger = testLogger

    /// A real signed envelope around an arbitrary payload (publish only reads the header).
    static func bundle(version: UInt64, key: SigningKey, createdAt: Int64 = 1_764_000_000, payload: String? = nil) -> [UInt8] {
        let bytes = Array((payload ?? "payload of version \(version)").utf8)
        return try! BundleEnvelope.seal(payload: bytes, version: version, createdAt: createdAt, key: key)
    }

    /// Whether `bytes` are a manifest signed by `key`, with freshness (what publish writes), naming
    /// the same bundle as `expected` (publish signs the time, so the bytes differ run to run).
    static func names(_ bytes: [UInt8]?, _ expected: Manifest, key: SigningKey) -> Bool {
        guard let bytes, let manifest = try? Manifest.decode(bytes), manifest.freshness != nil,
            (try? manifest.verifySignature(trustedKeys: [key.publicKey])) != nil
        else { return false }
        return manifest.describesSameBundle(as: expected)
    }
}
