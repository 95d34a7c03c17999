import AllotCore
import AllotTestSupport
import Testing

@testable import AllotCompiler

/// Writes an expression as source the way a person might: random spacing and line breaks,
/// redundant parentheses, chains split into parenthesised groups, literals on the left, `x == true`
/// for `x`, `!(x in [...])` for `x not in [...]`, strings with `\u` escapes, numbers as `18.0` or
/// `1.8e1`, versions as plain strings. Every variant must check to the same canonical expression.
struct NoisyPrinter {
    var random: SeededRandom

    /// Where a piece of text goes, which decides whether it needs parentheses.
    enum Context { case top, orOperand, andOperand, unary }

    private mutating func gap() -> String { random.pick([" ", " ", " ", "  ", "\n  ", "\t"]) }
    private mutating func tight() -> String { random.pick(["", "", " ", "\n"]) }

    private mutating func parenthesised(_ text: String) -> String { "(" + tight() + text + tight() + ")" }

    mutating func print(_ expression: TargetingExpression, _ context: Context = .top) -> String {
        var text = printBare(expression, context)
        if random.chance(0.1) { text = parenthesised(text) }
        return text
    }

    private mutating func printBare(_ expression: TargetingExpression, _ context: Context) -> String {
        switch expression {
        case .and(let operands):
            let text = chain(operands, "&&", .andOperand)
            return context == .unary ? parenthesised(text) : text
        case .or(let operands):
            let text = chain(operands, "||", .orOperand)
            return context == .top || context == .orOperand ? text : parenthesised(text)
        case .not(let inner):
            if random.chance(0.5), let sugar = notIn(inner) {
                return context == .unary ? parenthesised(sugar) : sugar
            }
            return "!" + tight() + print(inner, .unary)
        case .constant(let value):
            return value ? "true" : "false"
        case .flag(let attribute):
            if random.chance(0.5) { return name(attribute) }
            return predicate(
                random.pick([
                    "\(name(attribute))\(gap())==\(gap())true", "true\(gap())==\(gap())\(name(attribute))",
                    "\(name(attribute))\(gap())!=\(gap())false",
                ]), context, atomic: false)
        case .has(let attribute):
            return predicate("has" + tight() + "(" + tight() + name(attribute) + tight() + ")", context, atomic: true)
        default:
            return predicate(comparison(expression), context, atomic: false)
        }
    }

    /// A comparison-level predicate; `!` needs it in parentheses.
    private mutating func predicate(_ text: String, _ context: Context, atomic: Bool) -> String {
        !atomic && context == .unary ? parenthesised(text) : text
    }

    private mutating func chain(_ operands: [TargetingExpression], _ op: String, _ context: Context) -> String {
        // Split into consecutive groups; a group of two or more goes in parentheses (same AST once flattened).
        var parts: [String] = []
        var index = 0
        while index < operands.count {
            let size = random.chance(0.25) ? Int.random(in: 2...max(2, operands.count - index), using: &random) : 1
            let group = Array(operands[index..<min(operands.count, index + size)])
            if group.count == 1 {
                parts.append(print(group[0], context))
            } else {
                parts.append(parenthesised(chain(group, op, context)))
            }
            index += group.count
        }
        return parts.joined(separator: gap() + op + gap())
    }

    /// `x not in [...]`, `"v" not in tags`, `[u] not in segment(...)`, when `inner` allows it.
    private mutating func notIn(_ inner: TargetingExpression) -> String? {
        switch inner {
        case .membership(let attribute, let values):
            return "\(name(attribute))\(gap())not\(gap())in\(gap())\(list(values, attribute))"
        case .segment(let segment, let unit):
            return (unit.map { name($0) + gap() } ?? "") + "not\(gap())in\(gap())segment(\(string(segment)))"
        case .comparison(let attribute, .contains, .string(let value)) where TargetingFixtures.type(of: attribute) == .stringList:
            return "\(string(value))\(gap())not in\(gap())\(name(attribute))"
        default:
            return nil
        }
    }

    private mutating func comparison(_ expression: TargetingExpression) -> String {
        switch expression {
        case .comparison(let attribute, .equal, .bool(false)):
            return random.pick([
                "\(name(attribute)) == false", "false == \(name(attribute))", "\(name(attribute))\(gap())!=\(gap())true",
                "true != \(name(attribute))",
            ])
        case .comparison(let attribute, .contains, .string(let value)) where TargetingFixtures.type(of: attribute) == .stringList:
            return random.chance(0.5)
                ? "\(name(attribute))\(gap())contains\(gap())\(string(value))" : "\(string(value))\(gap())in\(gap())\(name(attribute))"
        case .comparison(let attribute, let op, let value):
            let shown = self.value(value)
            if let flipped = op.flipped, random.chance(0.4) {
                return shown + gap() + flipped.rawValue + gap() + name(attribute)
            }
            let separator = op.isOrdering ? tight() : gap()
            return name(attribute) + (separator.isEmpty ? " " : separator) + op.rawValue + gap() + shown
        case .membership(let attribute, let values):
            return "\(name(attribute))\(gap())in\(tight())\(list(values, attribute))"
        case .segment(let segment, let unit):
            return (unit.map { name($0) + gap() } ?? "") + "in\(gap())segment\(tight())(\(tight())\(string(segment))\(tight()))"
        default:
            Issue.record("not a comparison: \(expression)")
            return ""
        }
    }

    private mutating func list(_ values: [TargetingValue], _ attribute: String) -> String {
        "[" + tight() + values.map { value($0) }.joined(separator: tight() + "," + gap()) + tight() + "]"
    }

    private mutating func name(_ name: String) -> String {
        random.chance(0.1) ? "`\(name)`" : name
    }

    private mutating func value(_ value: TargetingValue) -> String {
        switch value {
        case .string(let text): return string(text)
        case .number(let number): return self.number(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .semver(let version):
            return random.pick([
                "semver(\(string(version.description)))", string(version.description), "semver(\"v\(version.description)+build.1\")",
            ])
        case .time(let seconds): return string(RFC3339.format(seconds))
        }
    }

    private mutating func number(_ value: Double) -> String {
        let text = TargetingText.number(value)
        if text.contains("e") { return random.pick([text, text.uppercased()]) }
        if text.contains(".") { return random.pick([text, text + "0", text + "e0"]) }
        return random.pick([text, text + ".0", text + "e0", text + "E+0"])
    }

    /// A string literal with some characters escaped (`\u0041`, `\/`, surrogate pairs).
    private mutating func string(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            if random.chance(0.15) {
                for unit in String(scalar).utf16 {
                    let digits = String(unit, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
                }
                continue
            }
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "/": result += random.chance(0.5) ? "\\/" : "/"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    result += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}

@Suite("Targeting round trips")
struct TargetingRoundTripTests {
    static let seeds: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8]
    static let perSeed = 80

    @Test("random expressions print, reparse and recheck to the same expression", arguments: seeds)
    func roundTrip(seed: UInt64) throws {
        var generator = ExpressionGenerator(random: SeededRandom(seed: seed))
        for _ in 0..<Self.perSeed {
            let expression = generator.expression(depth: 4)
            let text = expression.description
            let checked = try Targeting.check(text).get()
            #expect(checked == expression, "\(text)")
            #expect(checked.description == text)
            let compiled = try Targeting.compile(text).get()
            #expect(compiled.code.count == TargetingCodeGenerator.size(of: expression, environment: TargetingFixtures.environment))
            #expect(compiled.referencedAttributes == expression.referencedAttributes)
        }
    }

    @Test("random spellings of the same expression compile to identical code", arguments: seeds)
    func formattingInvariance(seed: UInt64) throws {
        var generator = ExpressionGenerator(random: SeededRandom(seed: seed &* 7919))
        var printer = NoisyPrinter(random: SeededRandom(seed: seed))
        for _ in 0..<Self.perSeed {
            let expression = generator.expression(depth: 4)
            let canonical = try Targeting.compile(expression.description).get()
            let variant = printer.print(expression)
            switch Targeting.compile(variant) {
            case .success(let compiled):
                #expect(compiled.expression == expression, "\(variant)")
                #expect(compiled.code == canonical.code, "\(variant)")
            case .failure(let failure):
                Issue.record("\(variant)\n→ \(failure.diagnostics.map(\.description))")
            }
        }
    }

    @Test("compiling is deterministic, including the order strings are interned")
    func deterministic() throws {
        var generator = ExpressionGenerator(random: SeededRandom(seed: 99))
        for _ in 0..<50 {
            let text = generator.expression(depth: 4).description
            var first = TestStringPool()
            var second = TestStringPool()
            let a = try Targeting.compile(text, pool: &first).get()
            let b = try Targeting.compile(text, pool: &second).get()
            #expect(a.code == b.code)
            #expect(first.internCalls == second.internCalls)
        }
    }
}
