/// A range of Unicode scalars in a targeting expression's source: `offset ..< offset + length`.
struct TargetingSpan: Equatable, Sendable {
    var offset: Int
    var length: Int

    var end: Int { offset + length }

    /// The span from the start of `self` to the end of `other`.
    func through(_ other: TargetingSpan) -> TargetingSpan {
        TargetingSpan(offset: offset, length: max(other.end, end) - offset)
    }
}

/// The kinds of token in a targeting expression.
enum TargetingTokenKind: Equatable, Sendable {
    /// An attribute or unit type name, bare (`country`) or in backticks (`` `5g-capable` ``).
    case identifier(String)
    /// A double-quoted string, escapes resolved.
    case string(String)
    case number(Double)
    /// `true` or `false`.
    case bool(Bool)
    /// `==`, `!=`, `<`, `<=`, `>`, `>=`, `startsWith`, `endsWith`, `contains`.
    case comparison(TargetingOperator)
    case `in`
    case not
    case has
    case segment
    case semver
    case and
    case or
    case bang
    case leftParen
    case rightParen
    case leftBracket
    case rightBracket
    case comma
    case end
}

struct TargetingToken: Equatable, Sendable {
    var kind: TargetingTokenKind
    var span: TargetingSpan
}

/// A lexical error: where, what, and how to fix it.
struct TargetingSyntaxError: Sendable {
    var span: TargetingSpan
    var message: String
    var hint: String?
}

/// Splits a targeting expression into tokens.
///
/// The lexer never stops at an error: it reports it and produces the token the author most likely
/// meant (`=` becomes `==`, `'US'` a string), so the parser and type checker can still find the
/// other mistakes in the same expression.
struct TargetingLexer {
    /// Words that cannot name an attribute without backticks.
    static let keywords: [String: TargetingTokenKind] = [
        "true": .bool(true), "false": .bool(false), "in": .in, "not": .not, "has": .has, "segment": .segment,
        "semver": .semver, "startsWith": .comparison(.startsWith), "endsWith": .comparison(.endsWith),
        "contains": .comparison(.contains),
    ]

    private let scalars: [Unicode.Scalar]
    private var index = 0
    private(set) var tokens: [TargetingToken] = []
    private(set) var errors: [TargetingSyntaxError] = []

    /// Tokenizes `source`; the last token is always `.end`.
    static func tokenize(_ source: String) -> (tokens: [TargetingToken], errors: [TargetingSyntaxError]) {
        var lexer = TargetingLexer(scalars: Array(source.unicodeScalars))
        lexer.run()
        return (lexer.tokens, lexer.errors)
    }

    private init(scalars: [Unicode.Scalar]) {
        self.scalars = scalars
    }

    /// Whether `name` can be written without backticks.
    static func isBareIdentifier(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard let first = scalars.first, isIdentifierStart(first), keywords[name] == nil else { return false }
        return scalars.allSatisfy(isIdentifierContinuation)
    }

    /// Whether `name` can be written at all (bare or in backticks).
    static func isReferenceable(_ name: String) -> Bool {
        !name.isEmpty && !name.unicodeScalars.contains { $0 == "`" || $0.value < 0x20 || $0.value == 0x7F }
    }

    static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_"
    }

    static func isIdentifierContinuation(_ c: Unicode.Scalar) -> Bool {
        isIdentifierStart(c) || isDigit(c) || c == "-" || c == "." || c == ":" || c == "/"
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }

    private func peek(_ ahead: Int = 0) -> Unicode.Scalar? {
        index + ahead < scalars.count ? scalars[index + ahead] : nil
    }

    private mutating func add(_ kind: TargetingTokenKind, from start: Int) {
        tokens.append(TargetingToken(kind: kind, span: TargetingSpan(offset: start, length: index - start)))
    }

    private mutating func error(_ start: Int, _ length: Int, _ message: String, hint: String? = nil) {
        errors.append(TargetingSyntaxError(span: TargetingSpan(offset: start, length: length), message: message, hint: hint))
    }

    private mutating func run() {
        while let c = peek() {
            let start = index
            switch c {
            case " ", "\t", "\n", "\r":
                index += 1
            case "(":
                index += 1
                add(.leftParen, from: start)
            case ")":
                index += 1
                add(.rightParen, from: start)
            case "[":
                index += 1
                add(.leftBracket, from: start)
            case "]":
                index += 1
                add(.rightBracket, from: start)
            case ",":
                index += 1
                add(.comma, from: start)
            case "&":
                index += 1
                if peek() == "&" {
                    index += 1
                } else {
                    error(start, 1, "'&' is not an operator", hint: "write '&&' for 'and'")
                }
                add(.and, from: start)
            case "|":
                index += 1
                if peek() == "|" {
                    index += 1
                } else {
                    error(start, 1, "'|' is not an operator", hint: "write '||' for 'or'")
                }
                add(.or, from: start)
            case "=":
                index += 1
                if peek() == "=" {
                    index += 1
                } else {
                    error(start, 1, "'=' is not an operator", hint: "write '==' to compare")
                }
                add(.comparison(.equal), from: start)
            case "!":
                index += 1
                if peek() == "=" {
                    index += 1
                    add(.comparison(.notEqual), from: start)
                } else {
                    add(.bang, from: start)
                }
            case "<", ">":
                index += 1
                let orEqual = peek() == "="
                if orEqual { index += 1 }
                let op: TargetingOperator = c == "<" ? (orEqual ? .lessOrEqual : .less) : (orEqual ? .greaterOrEqual : .greater)
                add(.comparison(op), from: start)
            case "\"":
                lexString()
            case "'":
                lexSingleQuoted()
            case "`":
                lexQuotedIdentifier()
            case "-", "0"..."9":
                lexNumber()
            case "." where peek(1).map(Self.isDigit) == true:
                lexNumber()
            default:
                if Self.isIdentifierStart(c) {
                    lexIdentifier()
                } else {
                    index += 1
                    error(start, 1, "unexpected character '\(Character(c))'", hint: hint(forUnexpected: c))
                }
            }
        }
        tokens.append(TargetingToken(kind: .end, span: TargetingSpan(offset: scalars.count, length: 0)))
    }

    private func hint(forUnexpected c: Unicode.Scalar) -> String {
        switch c {
        case "\u{201C}", "\u{201D}": return "use straight double quotes (\") around strings"
        case "\u{2018}", "\u{2019}": return "strings are written in straight double quotes (\")"
        case "~", "^", "%", "+", "*", "/": return "targeting has no arithmetic; compare an attribute with a value"
        default: return "expressions are made of names, values, comparisons, 'in', '!', '&&', '||' and parentheses"
        }
    }

    private mutating func lexIdentifier() {
        let start = index
        while let c = peek(), Self.isIdentifierContinuation(c) { index += 1 }
        let text = String(String.UnicodeScalarView(scalars[start..<index]))
        add(Self.keywords[text] ?? .identifier(text), from: start)
    }

    private mutating func lexQuotedIdentifier() {
        let start = index
        index += 1
        var text = String.UnicodeScalarView()
        while let c = peek(), c != "`", c != "\n" {
            text.append(c)
            index += 1
        }
        guard peek() == "`" else {
            error(start, index - start, "unterminated quoted name", hint: "close the name with a backtick (`)")
            add(.identifier(String(text)), from: start)
            return
        }
        index += 1
        if text.isEmpty {
            error(start, 2, "empty quoted name", hint: "write the attribute's name between the backticks")
        } else if text.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            error(start, index - start, "control character in a quoted name", hint: "names cannot contain control characters")
        }
        add(.identifier(String(text)), from: start)
    }

    /// JSON-style numbers: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    private mutating func lexNumber() {
        let start = index
        if peek() == "-" {
            index += 1
            guard let next = peek(), Self.isDigit(next) || next == "." else {
                let spaced = peek().map { $0 == " " || $0 == "\t" } ?? false
                error(
                    start, 1, "unexpected character '-'",
                    hint: spaced
                        ? "write negative numbers without a space, like -5" : "targeting has no arithmetic; names cannot start with '-'")
                return
            }
        }
        var valid = true
        if peek() == "." {
            error(start, index - start + 1, "a number needs a digit before its '.'", hint: "write 0.5 rather than .5")
            valid = false
        } else if peek() == "0", let next = peek(1), Self.isDigit(next) {
            let zero = index
            while let c = peek(), Self.isDigit(c) { index += 1 }
            error(
                zero, index - zero, "numbers cannot have leading zeros",
                hint: "write the number without the leading 0, or quote it if it is text")
            valid = false
        } else {
            while let c = peek(), Self.isDigit(c) { index += 1 }
        }
        if peek() == "." {
            index += 1
            let fraction = index
            while let c = peek(), Self.isDigit(c) { index += 1 }
            if index == fraction, valid {
                error(start, index - start, "expected a digit after '.' in a number", hint: "write 5 or 5.0, not 5.")
                valid = false
            }
        }
        if peek() == "e" || peek() == "E" {
            index += 1
            if peek() == "+" || peek() == "-" { index += 1 }
            let exponent = index
            while let c = peek(), Self.isDigit(c) { index += 1 }
            if index == exponent, valid {
                error(start, index - start, "expected a digit in the exponent of a number", hint: "write exponents like 1e6 or 2.5e-3")
                valid = false
            }
        }
        if valid, peek() == ".", peek(1).map(Self.isDigit) == true {
            // `5.2.0`: a version written without quotes.
            while let c = peek(), Self.isDigit(c) || c == "." { index += 1 }
            let version = String(String.UnicodeScalarView(scalars[start..<index]))
            error(start, index - start, "version \(version) must be quoted", hint: "write \"\(version)\" or semver(\"\(version)\")")
            add(.string(version), from: start)
            return
        }
        let text = String(String.UnicodeScalarView(scalars[start..<index]))
        var value = valid ? Double(text) ?? 0 : 0
        if valid, !value.isFinite {
            error(start, index - start, "number \(text) is out of range", hint: "numbers must fit a 64-bit IEEE double")
            value = 0
        }
        if value == 0 { value = 0 }  // -0 is 0: the same constant, the same bytecode
        add(.number(value), from: start)
    }

    private mutating func lexString() {
        let start = index
        index += 1
        var text = String.UnicodeScalarView()
        while true {
            guard let c = peek() else {
                error(start, index - start, "unterminated string", hint: "add a closing '\"'")
                break
            }
            if c == "\"" {
                index += 1
                break
            }
            if c == "\\" {
                lexEscape(into: &text)
                continue
            }
            if c.value < 0x20 {
                error(index, 1, "control character in a string", hint: "write it as an escape such as \\n, \\t or \\u00\(hex2(c.value))")
            }
            text.append(c)
            index += 1
        }
        add(.string(String(text)), from: start)
    }

    private func hex2(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return digits.count < 2 ? "0" + digits : digits
    }

    private mutating func lexEscape(into text: inout String.UnicodeScalarView) {
        let start = index
        index += 1
        guard let c = peek() else { return }  // reported as unterminated
        index += 1
        switch c {
        case "\"": text.append("\"")
        case "\\": text.append("\\")
        case "/": text.append("/")
        case "b": text.append("\u{08}")
        case "f": text.append("\u{0C}")
        case "n": text.append("\n")
        case "r": text.append("\r")
        case "t": text.append("\t")
        case "u":
            guard let high = hexQuad() else {
                error(start, index - start, "'\\u' needs four hex digits", hint: "write characters as \\u00E9, or type them directly")
                return
            }
            if (0xD800...0xDBFF).contains(high) {
                let low: UInt32?
                if peek() == "\\", peek(1) == "u" {
                    index += 2
                    low = hexQuad()
                } else {
                    low = nil
                }
                guard let low, (0xDC00...0xDFFF).contains(low) else {
                    error(
                        start, index - start, "unpaired surrogate escape in a string",
                        hint: "a \\uD800-\\uDBFF escape must be followed by a \\uDC00-\\uDFFF one")
                    return
                }
                text.append(Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!)
            } else if let scalar = Unicode.Scalar(high) {
                text.append(scalar)
            } else {
                error(
                    start, index - start, "unpaired surrogate escape in a string",
                    hint: "a \\uDC00-\\uDFFF escape must follow a \\uD800-\\uDBFF one")
            }
        default:
            error(
                start, index - start, "invalid escape '\\\(Character(c))' in a string",
                hint: "valid escapes are \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX")
        }
    }

    private mutating func hexQuad() -> UInt32? {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let c = peek(), let digit = Character(c).hexDigitValue else { return nil }
            value = value * 16 + UInt32(digit)
            index += 1
        }
        return value
    }

    private mutating func lexSingleQuoted() {
        let start = index
        index += 1
        var text = String.UnicodeScalarView()
        while let c = peek(), c != "'" {
            text.append(c)
            index += 1
        }
        if peek() == "'" { index += 1 }
        let shown = String(text)
        error(start, index - start, "strings are written in double quotes", hint: "write \"\(shown)\" instead of '\(shown)'")
        add(.string(shown), from: start)
    }
}
