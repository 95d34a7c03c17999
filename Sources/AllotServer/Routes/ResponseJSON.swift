import AllotCore

/// Small helpers for writing JSON text into response buffers. Strings are escaped by AllotCore's
/// one escaper (`JSONString`), so names and messages look the same as everywhere else in Allot.
enum ResponseJSON {
    /// `text` as the inside of a JSON string literal (without the quotes).
    static func escaped(_ text: String) -> [UInt8] {
        Array(JSONString.quoted(text).utf8.dropFirst().dropLast())
    }

    /// Appends `text` as a quoted JSON string literal.
    static func appendString(_ text: String, to output: inout [UInt8]) {
        output.append(contentsOf: JSONString.quoted(text).utf8)
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
