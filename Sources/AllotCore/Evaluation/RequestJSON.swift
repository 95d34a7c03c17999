extension EvaluationInput {
    /// Fills the input from a JSON request `{"units":{"user_id":"u1"},"attributes":{"country":"US"}}`.
    ///
    /// Unit types and attributes the bundle does not declare are ignored, as are other top-level
    /// members (a batch line may carry its own correlation id). Attribute values take their
    /// declared type: JSON strings, numbers, booleans and arrays of strings, or the text forms
    /// query strings use (`"42"`, `"true"`). `null` means absent. Resets the input first.
    public mutating func setJSON(_ bytes: UnsafeRawBufferPointer, bundle: LoadedBundle) throws(RequestError) {
        reset(for: bundle)
        // The reader decodes strings into the input's own scratch buffer (handed back after), so
        // a reused input parses request after request without allocating.
        var reader = JSONReader(bytes)
        swap(&reader.scratch, &stringScratch)
        reader.scratch.reserveCapacity(64)
        defer { swap(&reader.scratch, &stringScratch) }
        try reader.skipWhitespace()
        try reader.expect(UInt8(ascii: "{"))
        if try reader.consumeIf(UInt8(ascii: "}")) { return try reader.finish() }
        repeat {
            let key = try reader.readStringRange()
            try reader.expect(UInt8(ascii: ":"))
            if reader.equals(key, "units") {
                try readUnits(&reader, bundle)
            } else if reader.equals(key, "attributes") {
                try readAttributes(&reader, bundle)
            } else {
                try reader.skipValue()
            }
        } while try reader.consumeIf(UInt8(ascii: ","))
        try reader.expect(UInt8(ascii: "}"))
        try reader.finish()
    }

    private mutating func readUnits(_ reader: inout JSONReader, _ bundle: LoadedBundle) throws(RequestError) {
        if try reader.consumeNull() { return }
        try reader.expect(UInt8(ascii: "{"))
        if try reader.consumeIf(UInt8(ascii: "}")) { return }
        repeat {
            let key = try reader.readStringRange()
            try reader.expect(UInt8(ascii: ":"))
            let index = bundle.unitTypeIndex(named: reader.slice(key))
            if try reader.consumeNull() { continue }
            let id = try reader.readString()
            if let index {
                guard id.count > 0, id.count <= Bucketing.maxUnitIDLength else {
                    throw RequestError(.badUnit, "unit '\(reader.text(key))' must be 1-\(Bucketing.maxUnitIDLength) bytes")
                }
                id.withUnsafeBytes { _ = setUnit(index, id: $0) }
            }
        } while try reader.consumeIf(UInt8(ascii: ","))
        try reader.expect(UInt8(ascii: "}"))
    }

    private mutating func readAttributes(_ reader: inout JSONReader, _ bundle: LoadedBundle) throws(RequestError) {
        if try reader.consumeNull() { return }
        try reader.expect(UInt8(ascii: "{"))
        if try reader.consumeIf(UInt8(ascii: "}")) { return }
        repeat {
            let key = try reader.readStringRange()
            try reader.expect(UInt8(ascii: ":"))
            guard let index = bundle.attributeIndex(named: reader.slice(key)) else {
                try reader.skipValue()
                continue
            }
            if try reader.consumeNull() { continue }
            let type = bundle.attributeType(index)
            let name = reader.text(key)
            do {
                try readAttribute(&reader, index: index, type: type)
            } catch {
                throw RequestError(error.code, "attribute '\(name)': \(error.message)")
            }
        } while try reader.consumeIf(UInt8(ascii: ","))
        try reader.expect(UInt8(ascii: "}"))
    }

    private mutating func readAttribute(_ reader: inout JSONReader, index: Int, type: AttributeType) throws(RequestError) {
        let first = try reader.peek()
        switch type {
        case .string:
            guard first == UInt8(ascii: "\"") else { throw RequestError(.badAttribute, "expected a string") }
            let value = try reader.readString()
            value.withUnsafeBytes { setString(index, $0) }
        case .number:
            if first == UInt8(ascii: "\"") {
                let value = try reader.readString()
                try value.withUnsafeBytes { bytes in
                    Result { () throws(RequestError) in try setAttribute(index, text: bytes, type: .number) }
                }.get()
            } else {
                let range = try reader.readNumberRange()
                guard let value = parseNumber(reader.slice(range)) else { throw RequestError(.badAttribute, "expected a number") }
                setNumber(index, value)
            }
        case .bool:
            if first == UInt8(ascii: "\"") {
                let value = try reader.readString()
                try value.withUnsafeBytes { bytes in
                    Result { () throws(RequestError) in try setAttribute(index, text: bytes, type: .bool) }
                }.get()
            } else if try reader.consumeLiteral("true") {
                setBool(index, true)
            } else if try reader.consumeLiteral("false") {
                setBool(index, false)
            } else {
                throw RequestError(.badAttribute, "expected true or false")
            }
        case .semver:
            guard first == UInt8(ascii: "\"") else { throw RequestError(.badAttribute, "expected a version string such as \"5.2.0\"") }
            let value = try reader.readString()
            let valid = value.withUnsafeBytes { setSemver(index, text: $0) }
            guard valid else { throw RequestError(.badAttribute, "not a semantic version") }
        case .stringList:
            if first == UInt8(ascii: "\"") {
                let value = try reader.readString()
                try value.withUnsafeBytes { bytes in
                    Result { () throws(RequestError) in try setAttribute(index, text: bytes, type: .stringList) }
                }.get()
                return
            }
            try reader.expect(UInt8(ascii: "["))
            setEmptyList(index)
            if try reader.consumeIf(UInt8(ascii: "]")) { return }
            repeat {
                guard try reader.peek() == UInt8(ascii: "\"") else { throw RequestError(.badAttribute, "expected an array of strings") }
                let element = try reader.readString()
                element.withUnsafeBytes { appendListElement(index, $0) }
            } while try reader.consumeIf(UInt8(ascii: ","))
            try reader.expect(UInt8(ascii: "]"))
        }
    }
}

/// A strict, small JSON reader over bytes (RFC 8259), enough for requests. Nesting is bounded.
struct JSONReader {
    let bytes: UnsafeRawBufferPointer
    var index = 0
    /// Decoded string scratch; reused across strings.
    var scratch: [UInt8] = []

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    static let maxDepth = 64

    func malformed(_ message: String) -> RequestError {
        RequestError(.malformedJSON, "malformed JSON at byte \(index): \(message)")
    }

    mutating func skipWhitespace() throws(RequestError) {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func peek() throws(RequestError) -> UInt8 {
        try skipWhitespace()
        guard index < bytes.count else { throw malformed("unexpected end") }
        return bytes[index]
    }

    mutating func expect(_ byte: UInt8) throws(RequestError) {
        guard try peek() == byte else { throw malformed("expected '\(Character(Unicode.Scalar(byte)))'") }
        index += 1
    }

    mutating func consumeIf(_ byte: UInt8) throws(RequestError) -> Bool {
        try skipWhitespace()
        if index < bytes.count, bytes[index] == byte {
            index += 1
            return true
        }
        return false
    }

    mutating func consumeLiteral(_ literal: StaticString) throws(RequestError) -> Bool {
        try skipWhitespace()
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] { return false }
        index += count
        return true
    }

    mutating func consumeNull() throws(RequestError) -> Bool { try consumeLiteral("null") }

    mutating func finish() throws(RequestError) {
        try skipWhitespace()
        guard index == bytes.count else { throw malformed("unexpected data after the value") }
    }

    func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[range])
    }

    func text(_ range: Range<Int>) -> String { String(decoding: slice(range), as: UTF8.self) }

    func equals(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        range.count == literal.utf8CodeUnitCount && slice(range).elementsEqual(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Reads a string that contains no escapes and returns its raw byte range (for keys).
    /// Keys with escapes are decoded into a range of `scratch`-backed storage is not possible,
    /// so such keys are refused: request keys are identifiers.
    mutating func readStringRange() throws(RequestError) -> Range<Int> {
        guard try peek() == UInt8(ascii: "\"") else { throw malformed("expected a string") }
        index += 1
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return start..<(index - 1)
            }
            if byte == UInt8(ascii: "\\") { throw malformed("escapes are not allowed in member names") }
            if byte < 0x20 { throw malformed("control character in a string") }
            index += 1
        }
        throw malformed("unterminated string")
    }

    /// Reads and decodes a string into `scratch`; returns it.
    mutating func readString() throws(RequestError) -> [UInt8] {
        guard try peek() == UInt8(ascii: "\"") else { throw malformed("expected a string") }
        index += 1
        scratch.removeAll(keepingCapacity: true)
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard isValidUTF8(scratch) else { throw malformed("string is not valid UTF-8") }
                return scratch
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw malformed("unterminated escape") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(escape)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw malformed("unpaired surrogate")
                        }
                        index += 2
                        let low = try readHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw malformed("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw malformed("unpaired surrogate")
                    }
                    scratch.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                default:
                    throw malformed("unknown escape")
                }
            default:
                guard byte >= 0x20 else { throw malformed("control character in a string") }
                scratch.append(byte)
            }
        }
        throw malformed("unterminated string")
    }

    private mutating func readHex4() throws(RequestError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw malformed("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            index += 1
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw malformed("bad \\u escape")
            }
            value = value << 4 | digit
        }
        return value
    }

    mutating func readNumberRange() throws(RequestError) -> Range<Int> {
        try skipWhitespace()
        let start = index
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
                index += 1
            default:
                guard index > start else { throw malformed("expected a value") }
                return start..<index
            }
        }
        guard index > start else { throw malformed("expected a value") }
        return start..<index
    }

    mutating func skipValue(depth: Int = 0) throws(RequestError) {
        guard depth < Self.maxDepth else { throw malformed("nesting is too deep") }
        let first = try peek()
        switch first {
        case UInt8(ascii: "\""):
            _ = try readString()
        case UInt8(ascii: "{"):
            index += 1
            if try consumeIf(UInt8(ascii: "}")) { return }
            repeat {
                _ = try readString()
                try expect(UInt8(ascii: ":"))
                try skipValue(depth: depth + 1)
            } while try consumeIf(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            index += 1
            if try consumeIf(UInt8(ascii: "]")) { return }
            repeat {
                try skipValue(depth: depth + 1)
            } while try consumeIf(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"))
        case UInt8(ascii: "t"):
            guard try consumeLiteral("true") else { throw malformed("expected a value") }
        case UInt8(ascii: "f"):
            guard try consumeLiteral("false") else { throw malformed("expected a value") }
        case UInt8(ascii: "n"):
            guard try consumeLiteral("null") else { throw malformed("expected a value") }
        default:
            let range = try readNumberRange()
            guard parseNumber(slice(range)) != nil else { throw malformed("bad number") }
        }
    }
}

/// Whether `bytes` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
func isValidUTF8(_ bytes: [UInt8]) -> Bool {
    var index = 0
    let count = bytes.count
    while index < count {
        let lead = bytes[index]
        if lead < 0x80 {
            index += 1
            continue
        }
        let length: Int
        var minimum: UInt32
        var scalar: UInt32
        switch lead {
        case 0xC2...0xDF: length = 2; minimum = 0x80; scalar = UInt32(lead & 0x1F)
        case 0xE0...0xEF: length = 3; minimum = 0x800; scalar = UInt32(lead & 0x0F)
        case 0xF0...0xF4: length = 4; minimum = 0x10000; scalar = UInt32(lead & 0x07)
        default: return false
        }
        guard index + length <= count else { return false }
        for offset in 1..<length {
            let byte = bytes[index + offset]
            guard byte & 0xC0 == 0x80 else { return false }
            scalar = scalar << 6 | UInt32(byte & 0x3F)
        }
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return false }
        index += length
    }
    return true
}
