/// A byte-level reader of one line of newline-delimited JSON holding a flat object (exposure
/// records, metric events): hands each member's name and value to the caller without building a
/// dictionary or a `String`. Nested values are skipped whole. Strings without escapes are handed
/// out as slices of the line; strings with escapes are decoded into a scratch buffer.
///
/// Works on bytes the caller owns for the duration of `scan` only.
struct FlatJSONScanner {
    enum Value {
        /// A string's UTF-8 bytes (valid only during the callback).
        case string(UnsafeRawBufferPointer)
        /// A number's text.
        case number(UnsafeRawBufferPointer)
        case null
        case bool(Bool)
        /// An object or array, skipped.
        case nested
    }

    struct Failure: Error {
        var offset: Int
        var message: String
    }

    private var scratch: [UInt8] = []

    /// Calls `member` for each member of the object on `line` (without its `\n`).
    mutating func scan(_ line: UnsafeRawBufferPointer, member: (UnsafeRawBufferPointer, Value) throws -> Void) throws {
        var i = skipSpace(line, 0)
        guard i < line.count, line[i] == UInt8(ascii: "{") else { throw Failure(offset: i, message: "expected a JSON object") }
        i = skipSpace(line, i + 1)
        if i < line.count, line[i] == UInt8(ascii: "}") {
            try end(line, i + 1)
            return
        }
        while true {
            guard i < line.count, line[i] == UInt8(ascii: "\"") else { throw Failure(offset: i, message: "expected a member name") }
            // Names are the record format's own: escapes in them are not expected, but are read correctly.
            let (nameStart, nameEnd, nameEscaped, afterName) = try stringBounds(line, i)
            var nameCopy: [UInt8] = []
            if nameEscaped { nameCopy = try decode(line, nameStart, nameEnd) }
            i = skipSpace(line, afterName)
            guard i < line.count, line[i] == UInt8(ascii: ":") else { throw Failure(offset: i, message: "expected ':'") }
            i = skipSpace(line, i + 1)
            guard i < line.count else { throw Failure(offset: i, message: "expected a value") }
            let value: Value
            let byte = line[i]
            switch byte {
            case UInt8(ascii: "\""):
                let (start, stop, escaped, after) = try stringBounds(line, i)
                if escaped {
                    scratch = try decode(line, start, stop)
                    i = after
                    try scratch.withUnsafeBytes { (bytes) in
                        try callMember(line, nameStart, nameEnd, nameEscaped, nameCopy, .string(bytes), member)
                    }
                    i = skipSpace(line, i)
                    if try nextMember(line, &i) { continue } else { return }
                }
                value = .string(UnsafeRawBufferPointer(rebasing: line[start..<stop]))
                i = after
            case UInt8(ascii: "n"):
                try literal(line, i, "null")
                value = .null
                i += 4
            case UInt8(ascii: "t"):
                try literal(line, i, "true")
                value = .bool(true)
                i += 4
            case UInt8(ascii: "f"):
                try literal(line, i, "false")
                value = .bool(false)
                i += 5
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                i = try skipNested(line, i)
                value = .nested
            default:
                let start = i
                while i < line.count, Self.isNumberByte(line[i]) { i += 1 }
                guard i > start else { throw Failure(offset: i, message: "unexpected character in a value") }
                value = .number(UnsafeRawBufferPointer(rebasing: line[start..<i]))
            }
            try callMember(line, nameStart, nameEnd, nameEscaped, nameCopy, value, member)
            i = skipSpace(line, i)
            if try nextMember(line, &i) { continue } else { return }
        }
    }

    private func callMember(
        _ line: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ escaped: Bool, _ copy: [UInt8], _ value: Value,
        _ member: (UnsafeRawBufferPointer, Value) throws -> Void
    ) throws {
        if escaped {
            try copy.withUnsafeBytes { (name) in try member(name, value) }
        } else {
            try member(UnsafeRawBufferPointer(rebasing: line[start..<end]), value)
        }
    }

    /// After a value: `,` (returns true, `i` at the next name) or `}` (checks the rest is blank).
    private func nextMember(_ line: UnsafeRawBufferPointer, _ i: inout Int) throws -> Bool {
        guard i < line.count else { throw Failure(offset: i, message: "unterminated object") }
        if line[i] == UInt8(ascii: ",") {
            i = skipSpace(line, i + 1)
            return true
        }
        guard line[i] == UInt8(ascii: "}") else { throw Failure(offset: i, message: "expected ',' or '}'") }
        try end(line, i + 1)
        return false
    }

    private func end(_ line: UnsafeRawBufferPointer, _ i: Int) throws {
        let rest = skipSpace(line, i)
        guard rest == line.count else { throw Failure(offset: rest, message: "text after the object") }
    }

    private func skipSpace(_ line: UnsafeRawBufferPointer, _ start: Int) -> Int {
        var i = start
        while i < line.count, line[i] == 32 || line[i] == 9 || line[i] == 13 { i += 1 }
        return i
    }

    private func literal(_ line: UnsafeRawBufferPointer, _ i: Int, _ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard i + count <= line.count else { throw Failure(offset: i, message: "unexpected end of line") }
        for k in 0..<count where line[i + k] != word.utf8Start[k] {
            throw Failure(offset: i, message: "unexpected character in a value")
        }
    }

    static func isNumberByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
    }

    /// The content range of the string starting at the quote at `i`, whether it has escapes, and
    /// the index after its closing quote.
    private func stringBounds(_ line: UnsafeRawBufferPointer, _ i: Int) throws -> (Int, Int, Bool, Int) {
        var k = i + 1
        var escaped = false
        while k < line.count {
            let byte = line[k]
            if byte == UInt8(ascii: "\"") { return (i + 1, k, escaped, k + 1) }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                k += 2
                continue
            }
            if byte < 0x20 { throw Failure(offset: k, message: "a control character in a string") }
            k += 1
        }
        throw Failure(offset: i, message: "unterminated string")
    }

    /// Decodes a string's escapes (`\n`, `\uXXXX` with surrogate pairs, ...) into UTF-8.
    private func decode(_ line: UnsafeRawBufferPointer, _ start: Int, _ end: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(end - start)
        var k = start
        func hex4(_ at: Int) throws -> UInt32 {
            guard at + 4 <= end else { throw Failure(offset: at, message: "a short \\u escape") }
            var value: UInt32 = 0
            for j in at..<(at + 4) {
                let byte = line[j]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw Failure(offset: j, message: "a bad \\u escape")
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while k < end {
            let byte = line[k]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                k += 1
                continue
            }
            guard k + 1 < end else { throw Failure(offset: k, message: "a bad escape") }
            let kind = line[k + 1]
            k += 2
            switch kind {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(kind)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "u"):
                var scalar = try hex4(k)
                k += 4
                if scalar >= 0xD800, scalar < 0xDC00, k + 6 <= end, line[k] == UInt8(ascii: "\\"), line[k + 1] == UInt8(ascii: "u") {
                    let low = try hex4(k + 2)
                    if low >= 0xDC00, low < 0xE000 {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        k += 6
                    }
                }
                let unicode = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: String(unicode).utf8)
            default:
                throw Failure(offset: k - 2, message: "a bad escape")
            }
        }
        return out
    }

    /// The index after the object or array starting at `i`.
    private func skipNested(_ line: UnsafeRawBufferPointer, _ i: Int) throws -> Int {
        var depth = 0
        var k = i
        while k < line.count {
            let byte = line[k]
            if byte == UInt8(ascii: "\"") {
                k = try stringBounds(line, k).3
                continue
            }
            if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
            if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                depth -= 1
                if depth == 0 { return k + 1 }
            }
            k += 1
        }
        throw Failure(offset: i, message: "unterminated object or array")
    }
}

extension UnsafeRawBufferPointer {
    /// Whether the bytes equal `text`'s UTF-8.
    @inline(__always)
    func equals(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard self.count == count else { return false }
        return memcmpBytes(baseAddress, UnsafeRawPointer(text.utf8Start), count)
    }
}

@inline(__always)
func memcmpBytes(_ a: UnsafeRawPointer?, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    guard count > 0 else { return true }
    guard let a else { return false }
    for k in 0..<count where a.load(fromByteOffset: k, as: UInt8.self) != b.load(fromByteOffset: k, as: UInt8.self) { return false }
    return true
}
