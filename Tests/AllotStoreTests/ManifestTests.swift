import AllotCore
import Testing

@testable import AllotStore

@Suite("Signed manifests")
struct ManifestTests {
    /// A fixed key (seed 00 01 .. 1f), so the golden signature below can be checked by any
    /// implementation of pure Ed25519 (RFC 8032), which is what `SigningKey.sign` computes. It was
    /// reproduced independently with a from-scratch RFC 8032 implementation in Python (the
    /// pre-hashed Ed25519ph variant would give `rijLVP7y…`, which Allot rejects).
    static let fixedKey = try! SigningKey(
        text: "allot-ed25519-secret:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8DoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuA==")
    static let hash = [UInt8](repeating: 0xab, count: 32)
    static let golden = Manifest.sign(
        version: 42, object: "bundles/" + String(repeating: "ab", count: 32) + ".bundle", size: 1234, blake2b: hash,
        createdAt: 1_764_374_400,
        key: fixedKey)

    @Test("the signed bytes and the JSON are exactly as documented")
    func goldenEncoding() {
        let manifest = Self.golden
        #expect(manifest.keyID.description == "9d24e2eeaf27c2a0")
        let hex = String(repeating: "ab", count: 32)
        #expect(
            String(decoding: manifest.signedBytes, as: UTF8.self)
                == "allot-manifest/1\nversion 42\nobject bundles/\(hex).bundle\nsize 1234\nblake2b \(hex)\ncreated-at 1764374400\nkey-id 9d24e2eeaf27c2a0\n"
        )
        #expect(
            String(decoding: manifest.encoded(), as: UTF8.self) == """
                {
                  "format": "allot-manifest/1",
                  "version": 42,
                  "object": "bundles/\(hex).bundle",
                  "size": 1234,
                  "blake2b": "\(hex)",
                  "created_at": 1764374400,
                  "key_id": "9d24e2eeaf27c2a0",
                  "signature": "l4lakKlKCpAoflIH44XAxA6pLZRUvItjQjVuzty5gyvFfXTlaodlvkwS60K/3KU43i3oPl5Bl5k+0JssbgOcAQ=="
                }

                """)
    }

    @Test("decode round-trips and verifies with the trusted key, among others")
    func roundTrip() throws {
        let decoded = try Manifest.decode(Self.golden.encoded())
        #expect(decoded == Self.golden)
        let other = SigningKey.generate().publicKey
        #expect(try decoded.verifySignature(trustedKeys: [other, Self.fixedKey.publicKey]) == Self.fixedKey.publicKey)
        #expect(try ManifestVerifier(trustedKeys: [Self.fixedKey.publicKey]).verifyManifest(Self.golden.encoded()) == Self.golden)
    }

    @Test("extreme values survive encoding")
    func extremes() throws {
        let key = SigningKey.generate()
        let manifest = Manifest.sign(
            version: UInt64.max, object: "odd \"key\"\\ü/x", size: Int.max, blake2b: Self.hash, createdAt: Int64.min, key: key)
        let decoded = try Manifest.decode(manifest.encoded())
        #expect(decoded == manifest)
        try decoded.verifySignature(trustedKeys: [key.publicKey])
    }

    static func edited(_ transform: (String) -> String) -> [UInt8] {
        Array(transform(String(decoding: golden.encoded(), as: UTF8.self)).utf8)
    }

    @Test(
        "tampering with any signed field breaks the signature",
        arguments: [
            ("\"version\": 42", "\"version\": 43"),
            ("\"size\": 1234", "\"size\": 1235"),
            ("\"created_at\": 1764374400", "\"created_at\": 1764374401"),
            ("bundles/abab", "bundles/abac"),
            ("\"blake2b\": \"abab", "\"blake2b\": \"acab"),
            ("\"signature\": \"l4la", "\"signature\": \"l4lb"),
        ])
    func tampered(original: String, replacement: String) throws {
        let bytes = Self.edited { $0.replacingOccurrences(of: original, with: replacement) }
        #expect(bytes != Self.golden.encoded())
        #expect {
            try ManifestVerifier(trustedKeys: [Self.fixedKey.publicKey]).verifyManifest(bytes)
        } throws: { ($0 as? ManifestError)?.code == .badSignature }
    }

    @Test("a manifest signed by an untrusted key is rejected, even claiming a trusted key id")
    func wrongKey() throws {
        let intruder = SigningKey.generate()
        let forged = Manifest.sign(version: 43, object: Self.golden.object, size: 1234, blake2b: Self.hash, createdAt: 0, key: intruder)
        #expect {
            try ManifestVerifier(trustedKeys: [Self.fixedKey.publicKey]).verifyManifest(forged.encoded())
        } throws: { ($0 as? ManifestError)?.code == .untrustedKey && "\($0)".contains(intruder.id.description) }
        let claiming = Array(
            String(decoding: forged.encoded(), as: UTF8.self).replacingOccurrences(
                of: intruder.id.description, with: Self.fixedKey.id.description
            )
            .utf8)
        #expect {
            try ManifestVerifier(trustedKeys: [Self.fixedKey.publicKey]).verifyManifest(claiming)
        } throws: { ($0 as? ManifestError)?.code == .badSignature }
        #expect {
            try ManifestVerifier(trustedKeys: []).verifyManifest(Self.golden.encoded())
        } throws: { ($0 as? ManifestError)?.code == .untrustedKey && "\($0)".contains("none") }
    }

    @Test(
        "malformed manifests are rejected with a reason",
        arguments: [
            ("not json", ManifestError.Code.malformed, "JSON"),
            ("{\"format\": \"allot-manifest/3\", \"whatever\": 1}", .unsupportedFormat, "allot-manifest/3"),
            ("{\"format\": \"allot-manifest/1\"}", .malformed, "missing field"),
            ("{\"format\": 1}", .malformed, "format"),
        ])
    func malformedDocuments(text: String, code: ManifestError.Code, phrase: String) {
        #expect { try Manifest.decode(Array(text.utf8)) } throws: {
            ($0 as? ManifestError)?.code == code && "\($0)".contains(phrase)
        }
    }

    @Test(
        "malformed fields are rejected",
        arguments: [
            ("\"version\": 42", "\"version\": -1", "negative or too large version"),
            ("\"version\": 42", "\"version\": 18446744073709551616", "negative or too large version"),
            ("\"version\": 42", "\"version\": \"42\"", "version"),
            ("\"size\": 1234", "\"size\": -5", "negative"),
            ("\"blake2b\": \"abab", "\"blake2b\": \"ABAB", "blake2b"),
            ("\"blake2b\": \"abab", "\"blake2b\": \"ab", "blake2b"),
            ("\"key_id\": \"9d24e2eeaf27c2a0", "\"key_id\": \"9d24e2eeaf27c2", "key_id"),
            ("\"signature\": \"l4la", "\"signature\": \"!!!!", "signature"),
            ("bundles/abab", "../abab", "object key"),
        ])
    func malformedFields(original: String, replacement: String, phrase: String) {
        let bytes = Self.edited { $0.replacingOccurrences(of: original, with: replacement) }
        #expect { try Manifest.decode(bytes) } throws: {
            ($0 as? ManifestError)?.code == .malformed && "\($0)".contains(phrase)
        }
    }

    @Test("oversized manifests are rejected before parsing")
    func oversized() {
        #expect { try Manifest.decode([UInt8](repeating: 0x20, count: Manifest.maxEncodedBytes + 1)) } throws: {
            ($0 as? ManifestError)?.code == .tooLarge
        }
    }

    @Test("a manifest for a bundle names its content address, version, size and created-at")
    func describing() throws {
        let key = SigningKey.generate()
        let envelope = Fixtures.bundle(version: 7, key: key, createdAt: 1_700_000_000)
        let manifest = try Manifest.describing(envelope: envelope, key: key)
        #expect(manifest.version == 7)
        #expect(manifest.createdAt == 1_700_000_000)
        #expect(manifest.size == envelope.count)
        #expect(manifest.blake2b == Blake2b.hash256(envelope))
        #expect(manifest.object == "bundles/\(Hex.encode(Blake2b.hash256(envelope))).bundle")
        #expect(manifest.keyID == key.id)
        let verifier = ManifestVerifier(trustedKeys: [key.publicKey])
        let header = try verifier.verifyBundle(envelope, against: try verifier.verifyManifest(manifest.encoded()))
        #expect(header.version == 7)
    }

    @Test("publishing refuses a bundle signed by another key, or no bundle at all")
    func describingRejects() {
        let key = SigningKey.generate()
        let other = SigningKey.generate()
        #expect { try Manifest.describing(envelope: Fixtures.bundle(version: 1, key: other), key: key) } throws: {
            ($0 as? ManifestError)?.code == .bundleMismatch && "\($0)".contains(other.id.description)
        }
        #expect { try Manifest.describing(envelope: Array("not a bundle at all, no".utf8), key: key) } throws: {
            ($0 as? ManifestError)?.code == .bundleRejected && ($0 as? ManifestError)?.bundleError?.code == .badMagic
        }
        var damaged = Fixtures.bundle(version: 1, key: key)
        damaged[damaged.count - 1] ^= 1
        #expect { try Manifest.describing(envelope: damaged, key: key) } throws: {
            ($0 as? ManifestError)?.bundleError?.code == .badSignature
        }
    }

    @Test("the verifier checks the object against the manifest")
    func objectChecks() throws {
        let key = SigningKey.generate()
        let verifier = ManifestVerifier(trustedKeys: [key.publicKey])
        let envelope = Fixtures.bundle(version: 7, key: key)
        let manifest = try Manifest.describing(envelope: envelope, key: key)
        // Truncated or swapped objects.
        #expect { try verifier.verifyBundle(Array(envelope.dropLast()), against: manifest) } throws: {
            ($0 as? ManifestError)?.code == .sizeMismatch
        }
        var flipped = envelope
        flipped[200 % flipped.count] ^= 0xff
        #expect { try verifier.verifyBundle(flipped, against: manifest) } throws: { ($0 as? ManifestError)?.code == .hashMismatch }
        // A manifest (validly signed) claiming another version than the bundle's.
        let lying = Manifest.sign(
            version: 8, object: manifest.object, size: manifest.size, blake2b: manifest.blake2b, createdAt: manifest.createdAt, key: key)
        #expect { try verifier.verifyBundle(envelope, against: lying) } throws: { ($0 as? ManifestError)?.code == .bundleMismatch }
        // A bundle from an untrusted key behind a trusted manifest.
        let foreign = Fixtures.bundle(version: 7, key: SigningKey.generate())
        let wrapper = Manifest.sign(
            version: 7, object: StoreLayout.bundleKey(forEnvelope: foreign), size: foreign.count, blake2b: Blake2b.hash256(foreign),
            createdAt: 0, key: key)
        #expect { try verifier.verifyBundle(foreign, against: wrapper) } throws: {
            ($0 as? ManifestError)?.code == .bundleRejected && ($0 as? ManifestError)?.bundleError?.code == .untrustedKey
        }
        // A manifest declaring an object over the limits is refused before anything is fetched.
        let small = ManifestVerifier(trustedKeys: [key.publicKey], limits: BundleLimits(maxCompressedBytes: 10))
        #expect { try small.verifyManifest(manifest.encoded()) } throws: { ($0 as? ManifestError)?.code == .tooLarge }
    }
}
