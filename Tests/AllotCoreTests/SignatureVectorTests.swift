import AllotCore
import AllotTestSupport
import Foundation
import Testing

/// Allot signs with pure Ed25519 (RFC 8032), so any standard verifier can check bundles and
/// manifests: signatures must match an independent implementation byte for byte.
struct SignatureVectorTests {
    struct File: Decodable {
        struct Case: Decodable {
            var seed: String
            var publicKey: String
            var message: String
            var signature: String
        }
        var cases: [Case]
    }

    @Test func signaturesMatchAnIndependentImplementation() throws {
        let file = try JSONDecoder().decode(File.self, from: Repository.vectors("ed25519.json"))
        #expect(file.cases.count == 4)
        for vector in file.cases {
            let secret = Hex.decode(vector.seed)! + Hex.decode(vector.publicKey)!
            let key = try SigningKey(text: "allot-ed25519-secret:" + Base64.encode(secret))
            #expect(key.publicKey.bytes == Hex.decode(vector.publicKey)!)
            let message = Base64.decode(vector.message)!
            #expect(Hex.encode(key.sign(message)) == vector.signature)
            let signature = Hex.decode(vector.signature)!
            let valid = signature.withUnsafeBytes { s in message.withUnsafeBytes { key.publicKey.isValidSignature(s, over: $0) } }
            #expect(valid)
        }
    }

    @Test func bundleSignaturesCoverOneContiguousRange() throws {
        let compiled = try Fixture.compile(EnvelopeTests.yaml)
        let header = try compiled.envelope.withUnsafeBytes { try BundleHeader.parse($0) }
        #expect(header.signedRange == 0..<(compiled.envelope.count - 64))
        let signed = Array(compiled.envelope[header.signedRange])
        let valid = header.signature.withUnsafeBytes { s in signed.withUnsafeBytes { Fixture.key.publicKey.isValidSignature(s, over: $0) } }
        #expect(valid)
    }
}
