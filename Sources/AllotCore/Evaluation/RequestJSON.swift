extension EvaluationInput {
    /// Fills the input from a JSON request `{"units":{"user_id":"u1"},"attributes":{"country":"US"}}`.
    ///
    /// Unit types and attributes the bundle does not declare are ignored, as are other top-level
    /// members (a batch line may carry its own correlation id). Attribute values take their
    /// declared type: JSON strings, numbers, booleans and arrays of strings, or the text forms
    /// query strings use (`"42"`, `"true"`); a semver attribute also takes a JSON number, read from
    /// its text (`1.2` is 1.2.0, `1.10` is 1.10.0). `null` means absent. A value of the wrong type does
    /// not fail the request: the attribute is present but unusable for the rules that read it,
    /// and listed in `ignoredAttributes`. Throws for malformed JSON and for a unit id that is not
    /// a 1-512 byte string. Resets the input first.
    public mutating func setJSON(_ bytes: UnsafeRawBufferPointer, bundle: LoadedBundle) throws(RequestError) {
        reset(for: bundle)
        // Member names and strings are decoded into the input's own scratch buffers (handed back
        // after), so a reused input parses request after request without allocating.
        var scratch = JSONScratch()
        swap(&scratch, &jsonScratch)
        defer { swap(&scratch, &jsonScratch) }
        var scanner = JSONScanner(bytes)
        do {
            guard try scanner.beginObject() else { return try scanner.finish() }
            repeat {
                try scanner.readKey(into: &scratch.key)
                if scratch.key.elementsEqual("units".utf8) {
                    try readUnits(&scanner, &scratch, bundle)
                } else if scratch.key.elementsEqual("attributes".utf8) {
                    try readAttributes(&scanner, &scratch, bundle)
                } else {
                    try scanner.skipValue()
                }
            } while try scanner.nextMember()
            try scanner.finish()
        } catch {
            throw RequestError(json: error)
        }
    }

    private mutating func readUnits(_ scanner: inout JSONScanner, _ scratch: inout JSONScratch, _ bundle: LoadedBundle) throws {
        if scanner.consumeLiteral("null") { return }
        guard try scanner.beginObject() else { return }
        repeat {
            try scanner.readKey(into: &scratch.key)
            let index = scratch.key.withUnsafeBytes { bundle.unitTypeIndex(named: $0) }
            if scanner.consumeLiteral("null") { continue }
            guard scanner.peek() == UInt8(ascii: "\"") else {
                throw RequestError(.badUnit, "unit '\(String(decoding: scratch.key, as: UTF8.self))' must be a string")
            }
            scratch.value.removeAll(keepingCapacity: true)
            try scanner.readString(into: &scratch.value)
            guard let index else { continue }
            let accepted = scratch.value.withUnsafeBytes { setUnit(index, id: $0) }
            guard accepted else {
                throw RequestError(
                    .badUnit, "unit '\(String(decoding: scratch.key, as: UTF8.self))' must be 1-\(Bucketing.maxUnitIDLength) bytes")
            }
        } while try scanner.nextMember()
    }

    private mutating func readAttributes(_ scanner: inout JSONScanner, _ scratch: inout JSONScratch, _ bundle: LoadedBundle) throws {
        if scanner.consumeLiteral("null") { return }
        guard try scanner.beginObject() else { return }
        repeat {
            try scanner.readKey(into: &scratch.key)
            guard let index = scratch.key.withUnsafeBytes({ bundle.attributeIndex(named: $0) }) else {
                try scanner.skipValue()
                continue
            }
            if scanner.consumeLiteral("null") { continue }
            try readAttribute(&scanner, &scratch.value, index: index, type: bundle.attributeType(index))
        } while try scanner.nextMember()
    }

    /// Reads the value of attribute `index` of declared `type`: a JSON string (the text form
    /// every type has), number, boolean or array of strings; decodes strings through `value`.
    /// A well-formed value of the wrong type (a number for a string attribute, `"five"` for a
    /// number, `[1]` for a list) is consumed and makes the attribute present but unusable
    /// (`setUnusable`). Throws only `JSONScanner.Failure`, for bad JSON.
    package mutating func readAttribute(_ scanner: inout JSONScanner, _ value: inout [UInt8], index: Int, type: AttributeType)
        throws(JSONScanner.Failure)
    {
        let first = scanner.peek()
        if first == UInt8(ascii: "\"") {
            // Every type has a text form (as in query strings); a string attribute is just that.
            value.removeAll(keepingCapacity: true)
            try scanner.readString(into: &value)
            let accepted = value.withUnsafeBytes { bytes in
                (try? setAttribute(index, text: bytes, type: type)) != nil
            }
            if !accepted { setUnusable(index, expected: type) }
            return
        }
        switch type {
        case .number where first == UInt8(ascii: "-") || first.map(JSONScanner.isDigit) == true:
            setNumber(index, try scanner.readNumber())
        case .semver where first == UInt8(ascii: "-") || first.map(JSONScanner.isDigit) == true:
            // A JSON number read as a version from its text as written (`1.2` is 1.2.0 and `1.10`
            // is 1.10.0, which a double would have made 1.1); `-1` or `1e3` are not versions.
            let range = try scanner.skipValue()
            let accepted = setSemver(index, text: UnsafeRawBufferPointer(rebasing: scanner.bytes[range]))
            if !accepted { setUnusable(index, expected: type) }
        case .bool where scanner.consumeLiteral("true"):
            setBool(index, true)
        case .bool where scanner.consumeLiteral("false"):
            setBool(index, false)
        case .stringList where first == UInt8(ascii: "["):
            setEmptyList(index)
            guard try scanner.beginArray() else { return }
            var wellTyped = true
            repeat {
                if wellTyped, scanner.peek() == UInt8(ascii: "\"") {
                    value.removeAll(keepingCapacity: true)
                    try scanner.readString(into: &value)
                    value.withUnsafeBytes { appendListElement(index, $0) }
                } else {
                    wellTyped = false
                    try scanner.skipValue()
                }
            } while try scanner.nextElement()
            if !wellTyped { setUnusable(index, expected: type) }
        default:
            try scanner.skipValue()
            setUnusable(index, expected: type)
        }
    }
}

/// The buffers `setJSON` decodes member names and string values into, kept by the input between
/// requests so their capacity is reused. Empty until the first request (an empty array does not
/// allocate, so swapping one in and out costs nothing).
struct JSONScratch: Sendable {
    var key: [UInt8] = []
    var value: [UInt8] = []
}

extension RequestError {
    /// A request error from whatever reading a JSON request threw: request errors as they are,
    /// syntax errors as `malformed_json` with the byte offset.
    package init(json error: any Error) {
        switch error {
        case let error as RequestError: self = error
        case let failure as JSONScanner.Failure: self.init(.malformedJSON, failure.message)
        default: self.init(.malformedJSON, "malformed JSON: \(error)")
        }
    }
}
