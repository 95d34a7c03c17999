/// JSON string literals in Allot's one canonical form, used wherever Allot writes JSON text:
/// parameter values in bundles, manifests, targeting's canonical text, error bodies, exposure
/// records. `"` and `\` are escaped, control characters U+0000–U+001F and U+007F become `\n` `\r`
/// `\t` `\b` `\f` or `\u00xx` (lowercase hex), valid UTF-8 is written as is, and each byte that is
/// not part of valid UTF-8 becomes U+FFFD (one per maximal subpart, as Unicode recommends and
/// Swift's `String(decoding:as:)` does), so the output is always valid UTF-8 JSON.
public enum JSONString {
    /// `text` as a double-quoted JSON string literal.
    public static func quoted(_ text: String) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "\"")]
        var text = text
        text.withUTF8 { appendEscaped($0, to: &bytes) }
        bytes.append(UInt8(ascii: "\""))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `input` as the inside of a JSON string (no quotes).
    public static func appendEscaped(_ input: some Sequence<UInt8>, to output: inout [UInt8]) {
        let done: Bool? = input.withContiguousStorageIfAvailable { buffer in
            appendEscaped(UnsafeRawBufferPointer(buffer), to: &output)
            return true
        }
        if done == nil { Array(input).withUnsafeBytes { appendEscaped($0, to: &output) } }
    }

    /// Appends `input` as the inside of a JSON string (no quotes).
    public static func appendEscaped(_ input: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: input.count * maxBytesPerByte))
        let written = output.withUnsafeMutableBufferPointer { buffer in
            escape(input, into: buffer.baseAddress! + start)
        }
        output.removeLast(input.count * maxBytesPerByte - written)
    }

    /// Most bytes `escape` writes for one byte it reads (a control character as `\u00xx`).
    public static let maxBytesPerByte = 6

    /// Writes `input` as the inside of a JSON string at `output`, which must have room for
    /// `input.count * maxBytesPerByte` bytes; returns the bytes written.
    public static func escape(_ input: UnsafeRawBufferPointer, into output: UnsafeMutablePointer<UInt8>) -> Int {
        let hex: StaticString = "0123456789abcdef"
        var out = 0
        var index = 0
        let count = input.count
        while index < count {
            let byte = input[index]
            if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                output[out] = byte
                out &+= 1
                index &+= 1
                continue
            }
            if byte < 0x80 {
                output[out] = UInt8(ascii: "\\")
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): output[out &+ 1] = byte
                case 0x0A: output[out &+ 1] = UInt8(ascii: "n")
                case 0x0D: output[out &+ 1] = UInt8(ascii: "r")
                case 0x09: output[out &+ 1] = UInt8(ascii: "t")
                case 0x08: output[out &+ 1] = UInt8(ascii: "b")
                case 0x0C: output[out &+ 1] = UInt8(ascii: "f")
                default:
                    output[out &+ 1] = UInt8(ascii: "u")
                    output[out &+ 2] = UInt8(ascii: "0")
                    output[out &+ 3] = UInt8(ascii: "0")
                    output[out &+ 4] = hex.utf8Start[Int(byte >> 4)]
                    output[out &+ 5] = hex.utf8Start[Int(byte & 0x0F)]
                    out &+= 4
                }
                out &+= 2
                index &+= 1
                continue
            }
            let (length, valid) = UTF8Sequence.at(index, in: input)
            if valid {
                (output + out).update(from: input.baseAddress!.assumingMemoryBound(to: UInt8.self) + index, count: length)
                out &+= length
            } else {
                // U+FFFD: 3 bytes for at least 1 in.
                output[out] = 0xEF
                output[out &+ 1] = 0xBF
                output[out &+ 2] = 0xBD
                out &+= 3
            }
            index &+= length
        }
        return out
    }
}
