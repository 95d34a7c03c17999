/// JSON string literals in Allot's one canonical form, used wherever Allot writes JSON text:
/// parameter values in bundles, manifests, targeting's canonical text. `"` and `\` are escaped,
/// control characters U+0000–U+001F and U+007F become `\n` `\r` `\t` `\b` `\f` or `\u00xx`
/// (lowercase hex), and everything else is written as is (UTF-8).
public enum JSONString {
    /// `text` as a double-quoted JSON string literal.
    public static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let digits = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
