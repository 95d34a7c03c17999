internal import AllotCore
internal import Yams

/// Canonical JSON text for parameter values: the bytes the bundle pre-encodes and servers copy.
enum CanonicalJSON {
    /// A JSON string literal (Allot's canonical form, `JSONString`).
    static func string(_ value: String) -> String {
        JSONString.quoted(value)
    }

    /// The canonical JSON form of a number written as `text`, or nil if `text` is not a finite
    /// number. Integers (no fraction or exponent, within ±2⁵³) keep their integer form; other
    /// numbers use the shortest form that round-trips, always with a fraction or exponent, so
    /// clients that distinguish integers from floats see what the experiment file wrote.
    static func number(_ text: String) -> String? {
        guard isNumberSyntax(text) else { return nil }
        let isInteger = !text.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
        if isInteger, let value = Int64(text), abs(value) <= (1 << 53) {
            return String(value)
        }
        guard let value = Double(text), value.isFinite else { return nil }
        var form = "\(value)"
        if !form.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") }) { form += ".0" }
        return form
    }

    /// JSON number syntax, also accepting a leading `+` as YAML does.
    static func isNumberSyntax(_ text: String) -> Bool {
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "+" { scalars.removeFirst() }
        var index = 0
        func digits() -> Bool {
            let start = index
            while index < scalars.count, ("0"..."9").contains(scalars[index]) { index += 1 }
            return index > start
        }
        if index < scalars.count, scalars[index] == "-" { index += 1 }
        guard digits() else { return false }
        if index < scalars.count, scalars[index] == "." {
            index += 1
            guard digits() else { return false }
        }
        if index < scalars.count, scalars[index] == "e" || scalars[index] == "E" {
            index += 1
            if index < scalars.count, scalars[index] == "+" || scalars[index] == "-" { index += 1 }
            guard digits() else { return false }
        }
        return index == scalars.count
    }

    /// Converts a YAML node to canonical JSON, resolving plain scalars with the YAML 1.2 core
    /// schema (null, true/false, integers, floats, else strings). Returns the first problem found.
    static func fromYAML(_ node: Node, locator: NodeLocator) -> Result<String, Diagnostic> {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain { return .success(string(scalar.string)) }
            if node.isNull { return .success("null") }
            if scalar.string == "true" || scalar.string == "false" { return .success(scalar.string) }
            if let number = number(scalar.string) { return .success(number) }
            if isNumberSyntax(scalar.string) {
                return .failure(Diagnostic(at: locator.location(of: node), "number '\(scalar.string)' is out of range"))
            }
            return .success(string(scalar.string))
        case .mapping(let mapping):
            var members: [String] = []
            var seen = Set<String>()
            for (key, value) in mapping {
                guard let keyText = key.scalar?.string else {
                    return .failure(Diagnostic(at: locator.location(of: key), "JSON object keys must be strings"))
                }
                guard seen.insert(keyText).inserted else {
                    return .failure(Diagnostic(at: locator.location(of: key), "duplicate key '\(keyText)' in a JSON object"))
                }
                switch fromYAML(value, locator: locator) {
                case .success(let json): members.append(string(keyText) + ":" + json)
                case .failure(let diagnostic): return .failure(diagnostic)
                }
            }
            return .success("{" + members.joined(separator: ",") + "}")
        case .sequence(let sequence):
            var elements: [String] = []
            for element in sequence {
                switch fromYAML(element, locator: locator) {
                case .success(let json): elements.append(json)
                case .failure(let diagnostic): return .failure(diagnostic)
                }
            }
            return .success("[" + elements.joined(separator: ",") + "]")
        case .alias:
            return .failure(Diagnostic(at: locator.location(of: node), "YAML aliases are not supported in parameter values"))
        }
    }
}
