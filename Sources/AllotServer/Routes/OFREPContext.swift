import AllotCore

/// Reading an OFREP evaluation request, `{"context":{"targetingKey":"u1","country":"US",…}}`,
/// into the evaluator's input.
///
/// - `targetingKey` (a string) is the id of the unit type named by `--targeting-key-unit`
///   (`user_id` by default). It wins over a context key naming that unit type.
/// - A key naming a declared unit type is that unit's id (a string).
/// - A key naming a declared attribute is parsed by the attribute's type: strings; numbers (or
///   numeric strings); `true`/`false` (or those strings); versions as strings; lists as arrays of
///   strings (or one comma-separated string). `null` means absent. A value of the wrong type
///   makes the attribute present but unusable: the rules reading it do not match, the other flags
///   evaluate as usual, and each answer's metadata `ignoredAttributes` names it.
/// - Other keys are ignored, as are members of the body other than `context`.
///
/// Malformed JSON is `PARSE_ERROR`; a context that is not an object, or a unit id that is not a
/// 1-512 byte string, is `INVALID_CONTEXT`.
extension EdgeHandler {
    struct ContextFailure: Error {
        /// `PARSE_ERROR` or `INVALID_CONTEXT`.
        var code: StaticString
        var message: String
    }

    /// Resets the input for `bundle` and fills it from an OFREP request body. On return `seen[u]`
    /// tells whether unit type `u` has an id.
    mutating func readContext(_ body: UnsafeRawBufferPointer, served: ServedBundle) throws(ContextFailure) {
        let bundle = served.bundle
        prepare(for: bundle)
        targetingKey.removeAll(keepingCapacity: true)
        var hasTargetingKey = false
        var scanner = JSONScanner(body)
        do {
            if try scanner.beginObject() {
                repeat {
                    try scanner.readKey(into: &keyScratch)
                    guard keyScratch.elementsEqual("context".utf8) else {
                        try scanner.skipValue()
                        continue
                    }
                    if scanner.consumeLiteral("null") { continue }
                    guard scanner.peek() == UInt8(ascii: "{") else {
                        _ = try scanner.skipValue()
                        throw ContextFailure(code: "INVALID_CONTEXT", message: "context must be an object")
                    }
                    guard try scanner.beginObject() else { continue }
                    repeat {
                        try scanner.readKey(into: &keyScratch)
                        if keyScratch.elementsEqual("targetingKey".utf8) {
                            if scanner.consumeLiteral("null") { continue }
                            guard scanner.peek() == UInt8(ascii: "\"") else {
                                throw ContextFailure(code: "INVALID_CONTEXT", message: "targetingKey must be a string")
                            }
                            targetingKey.removeAll(keepingCapacity: true)
                            try scanner.readString(into: &targetingKey)
                            hasTargetingKey = !targetingKey.isEmpty
                        } else {
                            try readContextValue(&scanner, bundle: bundle)
                        }
                    } while try scanner.nextMember()
                } while try scanner.nextMember()
            }
            try scanner.finish()
        } catch let failure as JSONScanner.Failure {
            throw ContextFailure(code: "PARSE_ERROR", message: failure.message)
        } catch let failure as ContextFailure {
            throw failure
        } catch {
            throw ContextFailure(code: "PARSE_ERROR", message: "\(error)")
        }
        if hasTargetingKey, let unit = served.catalog.targetingUnit {
            let accepted = targetingKey.withUnsafeBytes { input!.setUnit(unit, id: $0) }
            guard accepted else {
                throw ContextFailure(code: "INVALID_CONTEXT", message: "targetingKey must be 1-\(Bucketing.maxUnitIDLength) bytes")
            }
            seen[unit] = true
        }
    }

    /// One context member after its key (in `keyScratch`).
    private mutating func readContextValue(_ scanner: inout JSONScanner, bundle: LoadedBundle) throws {
        let unitCount = bundle.payload.unitTypeCount
        if let unit = keyScratch.withUnsafeBytes({ bundle.unitTypeIndex(named: $0) }) {
            if scanner.consumeLiteral("null") { return }
            guard scanner.peek() == UInt8(ascii: "\"") else { throw invalid("'\(keyName)' is a unit type: its id must be a string") }
            valueScratch.removeAll(keepingCapacity: true)
            try scanner.readString(into: &valueScratch)
            let accepted = valueScratch.withUnsafeBytes { input!.setUnit(unit, id: $0) }
            guard accepted else { throw invalid("unit '\(keyName)' must be 1-\(Bucketing.maxUnitIDLength) bytes") }
            seen[unit] = true
            return
        }
        guard let attribute = keyScratch.withUnsafeBytes({ bundle.attributeIndex(named: $0) }) else {
            try scanner.skipValue()
            return
        }
        if scanner.consumeLiteral("null") { return }
        seen[unitCount + attribute] = true
        // The native API's reader: JSON values or their text forms, typed by the declaration; a
        // value of the wrong type leaves the attribute present but unusable.
        try input!.readAttribute(&scanner, &valueScratch, index: attribute, type: bundle.attributeType(attribute))
    }

    private var keyName: String { String(decoding: keyScratch, as: UTF8.self) }

    private func invalid(_ message: String) -> ContextFailure {
        ContextFailure(code: "INVALID_CONTEXT", message: message)
    }
}
