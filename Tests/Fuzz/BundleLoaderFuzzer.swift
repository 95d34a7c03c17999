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
    for unit in ["u1", "user-42", "qa-user-1", "d8f1c2a0"] {
        var units: [String: String] = [:]
        for index in 0..<bundle.payload.unitTypeCount {
            units[bundle.payload.string(at: bundle.payload.unitTypeRecord(index))] = unit
        }
        try? input.set(units: units, attributes: [:], bundle: bundle)
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
