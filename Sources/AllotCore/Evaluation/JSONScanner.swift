#if canImport(Glibc)
    import Glibc
#endif

/// A strict, allocation-free JSON reader over request bytes (RFC 8259): the one reader behind
/// `EvaluationInput.setJSON` (native requests and batch lines) and the server's own request shapes,
/// OFREP contexts (`{"context":{...}}`) and assign batches (`{"requests":[...]}`). It reads one
/// token at a time; values a caller does not need are skipped with `skipValue`, which also returns
/// their byte range (a batch hands each element to `setJSON`). Nesting is bounded, strings are
/// checked for UTF-8 and decoded into a buffer the caller owns and reuses.
package struct JSONScanner: ~Copyable {
    package let bytes: UnsafeRawBufferPointer
    package private(set) var index = 0

    /// Deeper nesting is refused (a request is a few levels deep; this bounds the recursion).
    package static let maxDepth = 32

    package init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// A syntax error, with the byte offset where it was found.
    package struct Failure: Error {
        package let offset: Int
        package let reason: StaticString

        package var message: String { "malformed JSON at byte \(offset): \(reason)" }
    }

    private func fail(_ reason: StaticString) -> Failure { Failure(offset: index, reason: reason) }

    package mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// The next significant byte, without consuming it; nil at the end.
    package mutating func peek() -> UInt8? {
        skipWhitespace()
        return index < bytes.count ? bytes[index] : nil
    }

    package mutating func expect(_ byte: UInt8, _ reason: StaticString) throws(Failure) {
        guard peek() == byte else { throw fail(reason) }
        index += 1
    }

    /// Consumes `byte` if it is next.
    package mutating func consume(_ byte: UInt8) -> Bool {
        guard peek() == byte else { return false }
        index += 1
        return true
    }

    /// Consumes `literal` (`true`, `false`, `null`) if it is next.
    package mutating func consumeLiteral(_ literal: StaticString) -> Bool {
        skipWhitespace()
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] { return false }
        // A literal must end at a delimiter: `nullx` is not `null`.
        if index + count < bytes.count, Self.isIdentifierByte(bytes[index + count]) { return false }
        index += count
        return true
    }

    /// Checks that only whitespace remains.
    package mutating func finish() throws(Failure) {
        skipWhitespace()
        guard index == bytes.count else { throw fail("unexpected data after the value") }
    }

    // MARK: Objects

    /// Reads `{`; returns false for an empty object (`{}` consumed whole).
    package mutating func beginObject() throws(Failure) -> Bool {
        try expect(UInt8(ascii: "{"), "expected an object")
        return !consume(UInt8(ascii: "}"))
    }

    /// After a member's value: true if another member follows (`,` consumed), false at `}`.
    package mutating func nextMember() throws(Failure) -> Bool {
        if consume(UInt8(ascii: ",")) { return true }
        try expect(UInt8(ascii: "}"), "expected ',' or '}' after an object member")
        return false
    }

    /// Reads an object member's name and the `:` after it, decoding it into `key` (cleared first).
    package mutating func readKey(into key: inout [UInt8]) throws(Failure) {
        key.removeAll(keepingCapacity: true)
        try readString(into: &key)
        try expect(UInt8(ascii: ":"), "expected ':' after a member name")
    }

    // MARK: Arrays

    /// Reads `[`; returns false for an empty array (`[]` consumed whole).
    package mutating func beginArray() throws(Failure) -> Bool {
        try expect(UInt8(ascii: "["), "expected an array")
        return !consume(UInt8(ascii: "]"))
    }

    /// After an element: true if another follows (`,` consumed), false at `]`.
    package mutating func nextElement() throws(Failure) -> Bool {
        if consume(UInt8(ascii: ",")) { return true }
        try expect(UInt8(ascii: "]"), "expected ',' or ']' after an array element")
        return false
    }

    // MARK: Scalars

    /// Reads a string, appending its decoded UTF-8 to `output`. Escapes are decoded (surrogate
    /// pairs joined); control characters, lone surrogates and invalid UTF-8 are refused.
    package mutating func readString(into output: inout [UInt8]) throws(Failure) {
        guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string") }
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw fail("unterminated escape") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(escape)
                case UInt8(ascii: "b"): output.append(0x08)
                case UInt8(ascii: "f"): output.append(0x0C)
                case UInt8(ascii: "n"): output.append(0x0A)
                case UInt8(ascii: "r"): output.append(0x0D)
                case UInt8(ascii: "t"): output.append(0x09)
                case UInt8(ascii: "u"): try readUnicodeEscape(into: &output)
                default: throw fail("unknown escape")
                }
            case 0..<0x20:
                throw fail("control character in a string")
            case 0..<0x80:
                output.append(byte)
                index += 1
            default:
                try copyUTF8Sequence(into: &output)
            }
        }
        throw fail("unterminated string")
    }

    /// Reads a number and returns its value (finite doubles only).
    package mutating func readNumber() throws(Failure) -> Double {
        skipWhitespace()
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, Self.isDigit(bytes[index]) else { throw fail("expected a number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw fail("expected a digit after '.'") }
            while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, Self.isDigit(bytes[index]) else { throw fail("expected a digit in the exponent") }
            while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
        }
        guard index - start <= 64 else { throw fail("number is too long") }
        let value = Self.parseDouble(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        guard let value, value.isFinite else { throw fail("number out of range") }
        return value
    }

    /// Skips one value of any kind and returns the byte range it occupied.
    @discardableResult
    package mutating func skipValue(depth: Int = 0) throws(Failure) -> Range<Int> {
        guard depth < Self.maxDepth else { throw fail("nesting is too deep") }
        guard let first = peek() else { throw fail("expected a value") }
        let start = index
        switch first {
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "{"):
            if try beginObject() {
                repeat {
                    try skipString()
                    try expect(UInt8(ascii: ":"), "expected ':' after a member name")
                    try skipValue(depth: depth + 1)
                } while try nextMember()
            }
        case UInt8(ascii: "["):
            if try beginArray() {
                repeat {
                    try skipValue(depth: depth + 1)
                } while try nextElement()
            }
        case UInt8(ascii: "t"):
            guard consumeLiteral("true") else { throw fail("expected a value") }
        case UInt8(ascii: "f"):
            guard consumeLiteral("false") else { throw fail("expected a value") }
        case UInt8(ascii: "n"):
            guard consumeLiteral("null") else { throw fail("expected a value") }
        default:
            _ = try readNumber()
        }
        return start..<index
    }

    /// Validates a string without keeping its content.
    private mutating func skipString() throws(Failure) {
        guard peek() == UInt8(ascii: "\"") else { throw fail("expected a string") }
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw fail("unterminated escape") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    try skipUnicodeEscape()
                default: throw fail("unknown escape")
                }
            case 0..<0x20:
                throw fail("control character in a string")
            case 0..<0x80:
                index += 1
            default:
                try validateUTF8Sequence()
            }
        }
        throw fail("unterminated string")
    }

    // MARK: Escapes and UTF-8

    private mutating func readHex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail("bad \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// After `\u`: the scalar, joining a surrogate pair.
    private mutating func readScalarEscape() throws(Failure) -> UInt32 {
        let first = try readHex4()
        switch first {
        case 0xD800...0xDBFF:
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw fail("unpaired surrogate")
            }
            index += 2
            let second = try readHex4()
            guard (0xDC00...0xDFFF).contains(second) else { throw fail("unpaired surrogate") }
            return 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        case 0xDC00...0xDFFF:
            throw fail("unpaired surrogate")
        default:
            return first
        }
    }

    private mutating func readUnicodeEscape(into output: inout [UInt8]) throws(Failure) {
        let scalar = try readScalarEscape()
        switch scalar {
        case 0..<0x80:
            output.append(UInt8(scalar))
        case 0x80..<0x800:
            output.append(0xC0 | UInt8(scalar >> 6))
            output.append(0x80 | UInt8(scalar & 0x3F))
        case 0x800..<0x10000:
            output.append(0xE0 | UInt8(scalar >> 12))
            output.append(0x80 | UInt8((scalar >> 6) & 0x3F))
            output.append(0x80 | UInt8(scalar & 0x3F))
        default:
            output.append(0xF0 | UInt8(scalar >> 18))
            output.append(0x80 | UInt8((scalar >> 12) & 0x3F))
            output.append(0x80 | UInt8((scalar >> 6) & 0x3F))
            output.append(0x80 | UInt8(scalar & 0x3F))
        }
    }

    private mutating func skipUnicodeEscape() throws(Failure) {
        _ = try readScalarEscape()
    }

    /// The length of the well-formed UTF-8 sequence starting at `index`, or a failure.
    private func utf8SequenceLength() throws(Failure) -> Int {
        let lead = bytes[index]
        let length: Int
        var minimum: UInt32
        var scalar: UInt32
        switch lead {
        case 0xC2...0xDF: (length, minimum, scalar) = (2, 0x80, UInt32(lead & 0x1F))
        case 0xE0...0xEF: (length, minimum, scalar) = (3, 0x800, UInt32(lead & 0x0F))
        case 0xF0...0xF4: (length, minimum, scalar) = (4, 0x10000, UInt32(lead & 0x07))
        default: throw fail("string is not valid UTF-8")
        }
        guard index + length <= bytes.count else { throw fail("string is not valid UTF-8") }
        for offset in 1..<length {
            let byte = bytes[index + offset]
            guard byte & 0xC0 == 0x80 else { throw fail("string is not valid UTF-8") }
            scalar = scalar << 6 | UInt32(byte & 0x3F)
        }
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else {
            throw fail("string is not valid UTF-8")
        }
        return length
    }

    private mutating func copyUTF8Sequence(into output: inout [UInt8]) throws(Failure) {
        let length = try utf8SequenceLength()
        output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + length)]))
        index += length
    }

    private mutating func validateUTF8Sequence() throws(Failure) {
        index += try utf8SequenceLength()
    }

    // MARK: Helpers

    @inline(__always)
    package static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    @inline(__always)
    package static func isIdentifierByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || isDigit(byte)
    }

    /// A double from a JSON number's bytes (already checked against the grammar), without
    /// allocating: the bytes go through a stack buffer to `strtod`.
    package static func parseDouble(_ text: UnsafeRawBufferPointer) -> Double? {
        guard text.count <= 64 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 65) { buffer -> Double? in
            for i in 0..<text.count { buffer[i] = CChar(bitPattern: text[i]) }
            buffer[text.count] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let value = strtod(buffer.baseAddress!, &end)
            guard let end, end == buffer.baseAddress! + text.count else { return nil }
            return value
        }
    }
}
