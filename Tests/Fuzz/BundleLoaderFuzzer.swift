// libFuzzer target for the bundle loader. Built by scripts/fuzz-bundle-loader with
// `swiftc -sanitize=fuzzer,address` together with the AllotCore sources (so internal API is visible).
//
// The first input byte picks what the rest is:
//   even: a whole envelope, opened with the fuzzer's trusted key (the signature gate; a mutated
//         envelope should fail there or earlier);
//   odd:  a payload, validated and, if accepted, evaluated for a few units and described, as
//         if it had been signed (this is where hostile structure must be caught).
// Any crash, trap or sanitizer report is a bug: every input must be rejected with a BundleError or
// evaluate without fault.

private let trustedKey = try! SigningKey(seed: Array(0..<32))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBundleLoader(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    if data[0] & 1 == 0 {
        _ = try? LoadedBundle.open(envelope: bytes, trustedKeys: [trustedKey.publicKey])
        return 0
    }
    let storage = MappedBytes(copying: bytes)
    guard let payload = try? Payload.validate(storage.unsafeBuffer) else { return 0 }
    let header = BundleHeader(
        version: payload.version, createdAt: payload.createdAt, keyID: trustedKey.id, compressedLength: 0, payloadLength: bytes.count,
        payloadHash: [], signature: [])
    guard let bundle = try? LoadedBundle(header: header, payloadStorage: storage, checkHash: false) else { return 0 }
    var input = EvaluationInput(for: bundle)
    var outcomes: [Outcome] = []
    var answer: [UInt8] = []
    // Attribute values of every type, and strings of every length class the evaluator compares
    // differently (0, 1, 2-3, 4-7, 8-16, over 16 bytes), so targeting programs run their
    // predicates rather than stopping at a missing attribute.
    // Capitals too, for `lower(x)`'s folding.
    let strings = ["", "a", "US", "abc", "ios", "x@example.com", "abcdefghijklmnopq", "X@EXAMPLE.COM", "ÉLAN"]
    func text(_ type: AttributeType, _ choice: Int) -> String {
        switch type {
        case .string: return strings[choice % strings.count]
        case .number: return ["18", "-1.5", "0", "1e300"][choice % 4]
        case .bool: return choice % 2 == 0 ? "true" : "false"
        case .semver: return ["5.2.0", "1.0.0-rc.1", "10.0.0-alpha.beta", "0.9", "6.0.0-0"][choice % 5]
        case .stringList: return ["", "a,US,ios", "x@example.com"][choice % 3]
        case .datetime: return ["2026-12-01T09:00:00Z", "2026-12-01T10:00:00.5+01:00", "2026-12-01", "noon"][choice % 4]
        case .ip: return ["10.1.2.3", "2001:db8::1", "::ffff:192.0.2.1", "not-an-ip"][choice % 4]
        }
    }
    for (round, unit) in ["u1", "user-42", "qa-user-1", "d8f1c2a0"].enumerated() {
        var units: [String: String] = [:]
        for index in 0..<bundle.payload.unitTypeCount {
            units[bundle.payload.string(at: bundle.payload.unitTypeRecord(index))] = unit
        }
        var attributes: [String: String] = [:]
        for index in 0..<bundle.payload.attributeCount {
            attributes[bundle.payload.string(at: bundle.payload.attributeRecord(index))] = text(
                bundle.attributeType(index), index &+ round &* 3)
        }
        try? input.set(units: units, attributes: attributes, bundle: bundle)
        bundle.evaluate(input, now: 1_800_000_000, into: &outcomes)
        answer.removeAll(keepingCapacity: true)
        bundle.writeAnswer(outcomes, into: &answer)
        for parameter in 0..<bundle.payload.parameterCount {
            _ = bundle.parameterValueJSON(parameter, outcome: outcomes.first)
        }
    }
    _ = bundle.contents
    return 0
}
