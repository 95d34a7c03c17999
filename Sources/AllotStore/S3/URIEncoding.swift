internal import AllotCore

/// Percent-encoding as AWS Signature Version 4 and S3 define it: every byte of the UTF-8
/// encoding is written as `%XX` (uppercase hex) except the unreserved characters
/// `A-Z a-z 0-9 - . _ ~`. Object key paths also keep `/`.
enum URIEncoding {
    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Encodes a query parameter name or value (`/` is encoded too; space becomes `%20`).
    static func encodeComponent(_ text: String) -> String {
        encode(text, keepSlash: false)
    }

    /// Encodes an S3 object path: like ``encodeComponent(_:)`` but `/` stays as is. S3 paths are
    /// encoded exactly once, in the URL and in the canonical request alike.
    static func encodePath(_ text: String) -> String {
        encode(text, keepSlash: true)
    }

    private static func encode(_ text: String, keepSlash: Bool) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) || (keepSlash && byte == UInt8(ascii: "/")) {
                output.append(byte)
            } else {
                output.append(UInt8(ascii: "%"))
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 15)])
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes `%XX` escapes (and nothing else: `+` stays `+`). Nil when an escape is malformed
    /// or the bytes are not UTF-8.
    static func decode(_ text: some StringProtocol) -> String? {
        let input = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < input.count, let value = Hex.decode(String(decoding: input[index + 1...index + 2], as: UTF8.self))
                else { return nil }
                output.append(value[0])
                index += 3
            } else {
                output.append(byte)
                index += 1
            }
        }
        return String(validating: output, as: UTF8.self)
    }
}
