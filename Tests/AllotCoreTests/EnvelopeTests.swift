import AllotCore
import AllotTestSupport
import Testing

struct EnvelopeTests {
    static let yaml = """
        kind: Layer
        name: checkout
        unit: user_id
        params:
          color: { type: string, default: blue }
        ---
        kind: Experiment
        name: color-test
        layer: checkout
        owner: team@example.com
        status: running
        traffic: 50%
        variants:
          - { name: control, weight: 50% }
          - { name: red, weight: 50%, params: { color: red } }
        """

    @Test func sealThenOpenRoundTrips() throws {
        let compiled = try Fixture.compile(Self.yaml)
        let header = compiled.bundle.header
        #expect(header.version == 1)
        #expect(header.createdAt == 1_700_000_000)
        #expect(header.keyID == Fixture.key.id)
        #expect(header.payloadLength == compiled.output.payload.count)
        #expect(header.envelopeLength == compiled.envelope.count)
    }

    @Test func sealingIsDeterministic() throws {
        let a = try Fixture.compile(Self.yaml)
        let b = try Fixture.compile(Self.yaml)
        #expect(a.output.payload == b.output.payload)
        #expect(a.envelope == b.envelope)
    }

    @Test func untrustedKeyIsRejected() throws {
        let compiled = try Fixture.compile(Self.yaml)
        let stranger = SigningKey.generate()
        #expect(throws: BundleError.self) { try LoadedBundle.open(envelope: compiled.envelope, trustedKeys: [stranger.publicKey]) }
        do {
            _ = try LoadedBundle.open(envelope: compiled.envelope, trustedKeys: [stranger.publicKey])
        } catch {
            #expect(error.code == .untrustedKey)
        }
        // Rotation: trusting both keys accepts it.
        _ = try LoadedBundle.open(envelope: compiled.envelope, trustedKeys: [stranger.publicKey, Fixture.key.publicKey])
    }

    @Test func aSignatureFromAnotherKeyWithTheSameIDIsRejected() throws {
        let compiled = try Fixture.compile(Self.yaml)
        let other = SigningKey.generate()
        var forged = try BundleEnvelope.seal(payload: compiled.output.payload, version: 1, createdAt: 1_700_000_000, key: other)
        forged.replaceSubrange(32..<40, with: Fixture.key.id.bytes)  // claim the trusted key's id
        #expect(code(of: forged) == .badSignature)
    }

    /// Every byte of the header and frame is covered: flipping any one is caught.
    @Test func everySingleByteFlipIsRejected() throws {
        let compiled = try Fixture.compile(Self.yaml)
        for index in 0..<compiled.envelope.count {
            var tampered = compiled.envelope
            tampered[index] ^= 0x01
            #expect(code(of: tampered) != nil, "flip at byte \(index) was accepted")
        }
    }

    @Test func truncationsAreRejected() throws {
        let compiled = try Fixture.compile(Self.yaml)
        for length in stride(from: 0, to: compiled.envelope.count, by: 7) {
            #expect(code(of: Array(compiled.envelope.prefix(length))) != nil, "truncated to \(length)")
        }
        #expect(code(of: compiled.envelope + [0]) == .malformedPayload)
    }

    @Test func sizeLimitsApplyBeforeDecompression() throws {
        let compiled = try Fixture.compile(Self.yaml)
        let small = BundleLimits(maxCompressedBytes: 1 << 20, maxPayloadBytes: compiled.output.payload.count - 1)
        #expect(code(of: compiled.envelope, limits: small) == .tooLarge)
        // A header claiming a huge payload is refused from the header alone.
        var huge = compiled.envelope
        huge.replaceSubrange(48..<56, with: withUnsafeBytes(of: UInt64(1 << 40).littleEndian, Array.init))
        #expect(code(of: huge) == .tooLarge)
    }

    @Test func wrongMagicAndFormatAreNamed() throws {
        let compiled = try Fixture.compile(Self.yaml)
        var magic = compiled.envelope
        magic[0] = UInt8(ascii: "X")
        #expect(code(of: magic) == .badMagic)
        var format = compiled.envelope
        format[8] = 9
        #expect(code(of: format) == .unsupportedFormat)
    }

    /// Payload formats 1 and 2 load (scheme 1 and scheme 2); any other version is refused by name,
    /// even correctly signed.
    @Test(arguments: [0, 1, 2, 3, 255] as [UInt32])
    func payloadFormatVersions(format: UInt32) throws {
        var payload = try Fixture.compile(Self.yaml).output.payload
        payload.replaceSubrange(8..<12, with: withUnsafeBytes(of: format.littleEndian, Array.init))
        let envelope = try BundleEnvelope.seal(payload: payload, version: 1, createdAt: 1_700_000_000, key: Fixture.key)
        switch format {
        case 1, 2:
            let bundle = try LoadedBundle.open(envelope: envelope, trustedKeys: [Fixture.key.publicKey])
            #expect(bundle.payload.bucketingScheme.payloadFormatVersion == format)
            #expect(bundle.contents.bucketingScheme.payloadFormatVersion == format)
        default:
            #expect(code(of: envelope) == .unsupportedFormat)
            do {
                _ = try LoadedBundle.open(envelope: envelope, trustedKeys: [Fixture.key.publicKey])
            } catch {
                #expect(error.message.contains("payload format \(format) is not supported"), "\(error.message)")
            }
        }
    }

    /// The validator, not just the signature, protects the evaluator: payloads corrupted and then
    /// correctly re-signed must still be rejected or, when a flip lands in free text, evaluate
    /// without trapping.
    @Test func resignedCorruptPayloadsNeverTrap() throws {
        let compiled = try Fixture.compile(Self.yaml)
        var random = SeededRandom(seed: 42)
        var rejected = 0
        for round in 0..<3000 {
            var payload = compiled.output.payload
            let flips = Int.random(in: 1...4, using: &random)
            for _ in 0..<flips {
                let index = Int.random(in: 0..<payload.count, using: &random)
                payload[index] = UInt8.random(in: 0...255, using: &random)
            }
            if round % 10 == 0 { payload = Array(payload.prefix(Int.random(in: 0..<payload.count, using: &random))) }
            let envelope = try BundleEnvelope.seal(payload: payload, version: 1, createdAt: 1_700_000_000, key: Fixture.key)
            do {
                let bundle = try LoadedBundle.open(envelope: envelope, trustedKeys: [Fixture.key.publicKey])
                for unit in ["u1", "u2", "u3"] { _ = try? bundle.answerJSON(units: ["user_id": unit], now: 1_700_000_000) }
                _ = bundle.contents
            } catch {
                #expect(!error.message.isEmpty)
                rejected += 1
            }
        }
        #expect(rejected > 2000, "only \(rejected) of 3000 corrupt payloads were rejected")
    }

    private func code(of bytes: [UInt8], limits: BundleLimits = .default) -> BundleError.Code? {
        do {
            _ = try LoadedBundle.open(envelope: bytes, trustedKeys: [Fixture.key.publicKey], limits: limits)
            return nil
        } catch {
            return error.code
        }
    }
}
