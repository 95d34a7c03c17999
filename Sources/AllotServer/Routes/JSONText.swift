import AllotCore

/// Small helpers for writing JSON text into response buffers.
enum JSONText {
    /// `text` as the inside of a JSON string (quotes, backslashes and control characters escaped).
    static func escaped(_ text: String) -> [UInt8] {
        var output: [UInt8] = []
        appendEscaped(text.utf8, to: &output)
        return output
    }

    /// Appends `text` as the inside of a JSON string.
    static func appendEscaped(_ text: some Sequence<UInt8>, to output: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        for byte in text {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                output.append(UInt8(ascii: "\\"))
                output.append(byte)
            case 0x0A:
                output.append(UInt8(ascii: "\\"))
                output.append(UInt8(ascii: "n"))
            case 0..<0x20, 0x7F:
                output.append(contentsOf: #"\u00"#.utf8)
                output.append(hex.utf8Start[Int(byte >> 4)])
                output.append(hex.utf8Start[Int(byte & 0xF)])
            default:
                output.append(byte)
            }
        }
    }

    /// Appends a quoted, escaped JSON string.
    static func appendString(_ text: some Sequence<UInt8>, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        appendEscaped(text, to: &output)
        output.append(UInt8(ascii: "\""))
    }

    /// Appends a literal (already valid JSON text, or a fragment of it).
    @inline(__always)
    static func append(_ literal: StaticString, to output: inout [UInt8]) {
        output.append(contentsOf: UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends a signed integer in decimal.
    static func appendInteger(_ value: Int64, to output: inout [UInt8]) {
        if value < 0 {
            output.append(UInt8(ascii: "-"))
            appendDecimal(value.magnitude, to: &output)
        } else {
            appendDecimal(UInt64(value), to: &output)
        }
    }
}
