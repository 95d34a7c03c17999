internal import AllotCore

/// How the targeting language writes names, strings and numbers, and the hints it gives.
enum TargetingText {
    /// A string as a double-quoted literal, in the JSON form Allot writes everywhere.
    static func quoted(_ text: String) -> String {
        JSONString.quoted(text)
    }

    /// Integers below 2^53 without a fraction (`5`, `-12`); everything else in Swift's shortest
    /// round-tripping form (`0.1`, `1e-07`, `1e+16`), which is valid JSON.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 {
            return String(Int64(value))
        }
        return value.description
    }

    /// A name as written in source: bare when it is a plain identifier, otherwise in backticks.
    static func name(_ name: String) -> String {
        TargetingLexer.isBareIdentifier(name) ? name : "`\(name)`"
    }

    /// A JSON-style number, as the lexer reads it; nil for anything else.
    static func parseNumber(_ text: String) -> Double? {
        let (tokens, errors) = TargetingLexer.tokenize(text)
        guard errors.isEmpty, tokens.count == 2, case .number(let value) = tokens[0].kind else { return nil }
        return value
    }

    /// A did-you-mean hint for an unknown `word` among `candidates`, or a fallback listing them.
    static func suggestion(for word: String, among candidates: some Collection<String>, kind: String) -> String {
        if let match = closestMatch(to: word, in: candidates) {
            return "did you mean '\(match)'?"
        }
        if candidates.isEmpty {
            return "no \(kind)s are declared"
        }
        let sorted = candidates.sorted()
        let shown = sorted.prefix(8).map { "'\($0)'" }.joined(separator: ", ")
        return "known \(kind)s: \(shown)" + (sorted.count > 8 ? ", ..." : "")
    }
}
