import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotStore

/// `publish` and `status` verify what a region holds before they believe it (issue 12, items 4
/// and 7): a forged manifest cannot lock out publishing, and a region is healthy only if its
/// object has the right bytes, not only the right size.
@Suite("Publish and status verify before they trust", .serialized)
struct VerifyBeforeTrustTests {
    let key = SigningKey.generate()

    /// A manifest anyone can write, with no key: the highest version, a random key id and signature.
    static func forgedManifest() -> [UInt8] {
        let keyID = Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
        let signature = Base64.encode((0..<64).map { _ in UInt8.random(in: 0...255) })
        let hash = Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255) })
        let text = """
            {
              "format": "allot-manifest/1",
              "version": 18446744073709551615,
              "object": "bundles/\(hash).bundle",
              "size": 1000,
              "blake2b": "\(hash)",
              "created_at": 1764000000,
              "key_id": "\(keyID)",
              "signature": "\(signature)"
            }

            """
        return Array(text.utf8)
    }

    func checkForgedManifestIsRepaired(_ store: any ObjectStore) async throws {
        _ = try await store.put(StoreLayout.manifestKey, bytes: Self.forgedManifest(), condition: .none)
        let envelope = Fixtures.bundle(version: 2, key: key)
        let report = try await Publisher(stores: [store], key: key, trustedKeys: [key.publicKey], logger: Fixtures.logger)
            .publish(envelope: envelope)
        #expect(report.succeeded, "\(report.text)")
        #expect(report.regions[0].manifest == .repaired)
        #expect(report.regions[0].previousVersion == nil)
        #expect(report.regions[0].reason?.contains("not trusted") == true, "\(report.regions[0].reason ?? "")")
        let now = try Manifest.decode(try await store.get(StoreLayout.manifestKey).bytes)
        #expect(now.version == 2)
        try now.verifySignature(trustedKeys: [key.publicKey])
        // From then on, ordering works as usual: an older version is refused, a newer one moves.
        let older = try await Publisher(stores: [store], key: key, logger: Fixtures.logger).publish(
            envelope: Fixtures.bundle(version: 1, key: key))
        #expect(older.regions[0].manifest == .refused)
        let newer = try await Publisher(stores: [store], key: key, logger: Fixtures.logger).publish(
            envelope: Fixtures.bundle(version: 3, key: key))
        #expect(newer.regions[0].manifest == .moved)
    }

    @Test("a forged manifest at version 2^64-1 does not lock out publishing to a folder store: it is repaired")
    func forgedLocal() async throws {
        let root = Scratch.folder("region")
        defer { Scratch.remove(root) }
        try await checkForgedManifestIsRepaired(LocalStore(root: root))
    }

    @Test(
        "a forged manifest at version 2^64-1 does not lock out publishing to S3: it is repaired",
        .enabled(if: Moto.available, Moto.skipReason))
    func forgedS3() async throws {
        let regions = try await Regions.start(1)
        defer { regions.stop() }
        try await checkForgedManifestIsRepaired(try regions.store(0))
        // status agrees: the region now verifies.
        let report = await StatusChecker(stores: [try regions.store(0)], trustedKeys: [key.publicKey], logger: Fixtures.logger)
            .check(now: 1_764_000_000)
        #expect(report.exitCode == 0, "\(report.text)")
    }

    @Test("status checks the object's bytes: the right size with the wrong bytes is invalid", .enabled(if: Moto.available, Moto.skipReason))
    func statusChecksHash() async throws {
        let regions = try await Regions.start(1)
        defer { regions.stop() }
        let store = try regions.store(0)
        let envelope = Fixtures.bundle(version: 4, key: key)
        _ = try await Publisher(stores: [store], key: key, logger: Fixtures.logger).publish(envelope: envelope)
        let manifest = try Manifest.describing(envelope: envelope, key: key)
        var altered = envelope
        altered[altered.count - 1] ^= 0xFF
        _ = try await store.put(manifest.object, bytes: altered, condition: .none)
        let report = await StatusChecker(stores: [store], trustedKeys: [key.publicKey], logger: Fixtures.logger).check(now: 1_764_000_000)
        #expect(report.regions[0].state == .invalid)
        #expect(report.regions[0].objectPresent == false)
        #expect(report.regions[0].error?.contains("hash_mismatch") == true, "\(report.regions[0].error ?? "")")
        #expect(report.exitCode == 4)
        // Without trusted keys the hash is still checked.
        let unsigned = await StatusChecker(stores: [store], trustedKeys: [], logger: Fixtures.logger).check(now: 1_764_000_000)
        #expect(unsigned.regions[0].state == .invalid)
    }

    @Test("status flags a replayed older manifest below --min-version")
    func statusFlagsReplay() async throws {
        let root = Scratch.folder("region")
        defer { Scratch.remove(root) }
        let store = LocalStore(root: root)
        let v5 = Fixtures.bundle(version: 5, key: key)
        _ = try await Publisher(stores: [store], key: key, logger: Fixtures.logger).publish(envelope: v5)
        let old = try await store.get(StoreLayout.manifestKey)
        _ = try await Publisher(stores: [store], key: key, logger: Fixtures.logger).publish(envelope: Fixtures.bundle(version: 6, key: key))
        _ = try await store.put(StoreLayout.manifestKey, bytes: old.bytes, condition: .none)
        let report = await StatusChecker(stores: [store], trustedKeys: [key.publicKey], minVersion: 6, logger: Fixtures.logger)
            .check(now: 1_764_000_000)
        #expect(report.regions[0].state == .invalid)
        #expect(report.regions[0].error?.contains("replayed") == true)
        #expect(report.exitCode == 4)
    }
}
