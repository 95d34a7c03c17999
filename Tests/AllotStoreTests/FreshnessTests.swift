import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotStore

/// Signed freshness in manifests (format 2): expiry, publish and signing times, the heartbeat.
@Suite("Manifest freshness")
struct FreshnessTests {
    let key = SigningKey.generate()

    @Test("format 2 signs published_at, signed_at and expires: changing any breaks the signature; format 1 is still read")
    func signed() throws {
        let envelope = Fixtures.bundle(version: 7, key: key)
        let freshness = Manifest.Freshness(publishedAt: 1_764_000_000, signedAt: 1_764_000_100, expires: 1_764_259_300)
        let manifest = try Manifest.describing(envelope: envelope, key: key, freshness: freshness)
        let text = String(decoding: manifest.encoded(), as: UTF8.self)
        #expect(text.contains(#""format": "allot-manifest/2""#))
        #expect(
            String(decoding: manifest.signedBytes, as: UTF8.self).contains(
                "published-at 1764000000\nsigned-at 1764000100\nexpires 1764259300\nkey-id"))
        let decoded = try ManifestVerifier(trustedKeys: [key.publicKey]).verifyManifest(manifest.encoded(), now: 1_764_000_200)
        #expect(decoded == manifest)
        for (field, value) in [("expires", "1864259300"), ("signed_at", "1864000100"), ("published_at", "1")] {
            let altered = text.replacingOccurrences(
                of: "\"\(field)\": \(field == "expires" ? 1_764_259_300 : field == "signed_at" ? 1_764_000_100 : 1_764_000_000)",
                with: "\"\(field)\": \(value)")
            #expect(altered != text)
            #expect(throws: ManifestError.self) { try ManifestVerifier(trustedKeys: [key.publicKey]).verifyManifest(Array(altered.utf8)) }
        }
        // Expired at and after `expires`.
        #expect(throws: ManifestError.self) {
            try ManifestVerifier(trustedKeys: [key.publicKey]).verifyManifest(manifest.encoded(), now: 1_764_259_300)
        }
        // A format-1 manifest (no expiry) is still read; format 1 with freshness fields is malformed.
        let v1 = try Manifest.describing(envelope: envelope, key: key)
        #expect(try ManifestVerifier(trustedKeys: [key.publicKey]).verifyManifest(v1.encoded(), now: Int64.max - 1).freshness == nil)
        let smuggled = String(decoding: v1.encoded(), as: UTF8.self).replacingOccurrences(
            of: "\"key_id\"", with: "\"expires\": 5,\n  \"key_id\"")
        #expect { try Manifest.decode(Array(smuggled.utf8)) } throws: { ($0 as? ManifestError)?.code == .malformed }
    }

    @Test("publish signs an expiry --expires-in ahead; --refresh re-signs it, keeping the bundle and its publish time")
    func refresh() async throws {
        let roots = (0..<2).map { _ in Scratch.folder("region") }
        defer { roots.forEach(Scratch.remove) }
        let stores = roots.map { LocalStore(root: $0) }
        let publisher = Publisher(stores: stores, key: key, options: .init(expiresIn: 3600), logger: Fixtures.logger)
        _ = try await publisher.publish(envelope: Fixtures.bundle(version: 3, key: key), now: 1_000_000)
        let first = try Manifest.decode(try await stores[0].get(StoreLayout.manifestKey).bytes)
        #expect(first.freshness == Manifest.Freshness(publishedAt: 1_000_000, signedAt: 1_000_000, expires: 1_003_600))
        let report = await publisher.refresh(now: 1_002_000)
        #expect(report.succeeded, "\(report.text)")
        #expect(report.regions.allSatisfy { $0.manifest == .refreshed && $0.previousVersion == 3 })
        for store in stores {
            let now = try Manifest.decode(try await store.get(StoreLayout.manifestKey).bytes)
            #expect(now.describesSameBundle(as: first))
            #expect(now.freshness == Manifest.Freshness(publishedAt: 1_000_000, signedAt: 1_002_000, expires: 1_005_600))
            try now.verifySignature(trustedKeys: [key.publicKey])
        }
        // Nothing to refresh in an empty region: it fails, and says why.
        let empty = Scratch.folder("region")
        defer { Scratch.remove(empty) }
        let none = await Publisher(stores: [LocalStore(root: empty)], key: key, logger: Fixtures.logger).refresh()
        #expect(!none.succeeded)
        #expect(none.regions[0].reason?.contains("no manifest") == true)
        // status calls an expired region invalid.
        let status = await StatusChecker(stores: stores, trustedKeys: [key.publicKey], logger: Fixtures.logger).check(now: 1_005_600)
        #expect(status.regions.allSatisfy { $0.state == .invalid && $0.error?.contains("EXPIRED") == true })
    }
}
