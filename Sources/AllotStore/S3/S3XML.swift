/// Just enough XML to read S3's answers: the text of simple elements such as `<Code>`,
/// `<Key>` or `<IsTruncated>`, and the blocks of repeated elements such as `<Contents>`.
/// S3 answers are flat, namespace-free in their element names and never use CDATA for these
/// fields; anything unexpected yields nil or an empty list, never a trap.
enum S3XML {
    /// The raw inner text of every `<name>...</name>` (or `""` for `<name/>`) in `text`,
    /// in document order. Elements with the same name nested inside each other are not supported.
    static func elements(_ name: String, in text: Substring) -> [Substring] {
        var results: [Substring] = []
        var searchStart = text.startIndex
        let open = "<\(name)"
        let close = "</\(name)>"
        while let start = text.range(of: open, range: searchStart..<text.endIndex) {
            guard let tagEnd = text[start.upperBound...].firstIndex(of: ">") else { break }
            let between = text[start.upperBound..<tagEnd]
            // `<Key>` must not match `<KeyCount>`: the name ends at whitespace, `/` or `>`.
            if let first = between.first, first != " " && first != "/" && first != "\t" && first != "\n" {
                searchStart = start.upperBound
                continue
            }
            if between.hasSuffix("/") {
                results.append(text[tagEnd..<tagEnd])
                searchStart = text.index(after: tagEnd)
                continue
            }
            let contentStart = text.index(after: tagEnd)
            guard let end = text.range(of: close, range: contentStart..<text.endIndex) else { break }
            results.append(text[contentStart..<end.lowerBound])
            searchStart = end.upperBound
        }
        return results
    }

    /// The decoded text of the first `<name>` element, or nil.
    static func first(_ name: String, in text: Substring) -> String? {
        elements(name, in: text).first.flatMap { decodeEntities($0) }
    }

    /// Replaces the five predefined entities and numeric character references. Nil when a
    /// reference is malformed.
    static func decodeEntities(_ text: Substring) -> String? {
        guard text.contains("&") else { return String(text) }
        var output = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            guard character == "&" else {
                output.append(character)
                index = text.index(after: index)
                continue
            }
            guard let semicolon = text[index...].firstIndex(of: ";") else { return nil }
            let entity = text[text.index(after: index)..<semicolon]
            switch entity {
            case "amp": output.append("&")
            case "lt": output.append("<")
            case "gt": output.append(">")
            case "quot": output.append("\"")
            case "apos": output.append("'")
            default:
                guard entity.hasPrefix("#") else { return nil }
                let digits = entity.dropFirst()
                let value =
                    digits.hasPrefix("x") || digits.hasPrefix("X") ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
                guard let value, let scalar = Unicode.Scalar(value) else { return nil }
                output.unicodeScalars.append(scalar)
            }
            index = text.index(after: semicolon)
        }
        return output
    }
}
