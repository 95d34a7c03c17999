public import AllotCore

/// A checked targeting expression in canonical form: what `allot diff` and `allot lint` compare and
/// print, and what the code generator turns into bytecode.
///
/// Canonical form, which `TargetingCompiler.check` always returns and `description` relies on:
/// - `and` and `or` have at least two operands, none of them of the same kind (chains are flat);
/// - comparisons have the attribute on the left;
/// - a bool attribute compared with a bool constant is either `flag` (`x`, `x == true`,
///   `x != false`) or `comparison(x, .equal, .bool(false))` (`x == false`, `x != true`);
/// - values compared with a semver attribute are `.semver`, never `.string`.
///
/// `description` prints the canonical source text, with the fewest parentheses precedence allows;
/// parsing and checking it gives back an equal expression.
public indirect enum TargetingExpression: Equatable, Sendable, CustomStringConvertible {
    /// `true` or `false`: every unit, or none.
    case constant(Bool)
    /// A bool attribute on its own (`is_employee`): true when the request carries it as `true`.
    case flag(attribute: String)
    /// `attribute <op> value`, e.g. `country == "US"`, `email endsWith "@example.com"`,
    /// `tags contains "beta"` (on a list attribute: membership).
    case comparison(attribute: String, TargetingOperator, TargetingValue)
    /// `attribute in [values]`.
    case membership(attribute: String, [TargetingValue])
    /// `lower(attribute) <op> "text"` on a string attribute: the value with ASCII `A`-`Z` folded
    /// to `a`-`z` (other bytes unchanged), compared with `text`, which has no `A`-`Z`. `op` is
    /// `==`, `!=`, `startsWith`, `endsWith` or `contains`.
    case foldedComparison(attribute: String, TargetingOperator, String)
    /// `lower(attribute) in ["a", ...]`: the folded value equals one of the strings.
    case foldedMembership(attribute: String, [String])
    /// `attribute in cidr("10.0.0.0/8", ...)` on an ip attribute: the address lies in one of the
    /// blocks.
    case cidr(attribute: String, [IPNetwork])
    /// `now() <op> "2026-12-01T09:00:00Z"`: the request time (unix seconds) against a constant;
    /// `op` is `<`, `<=`, `>` or `>=`.
    case now(TargetingOperator, Int64)
    /// `attribute matches "pattern"` on a string attribute: some part of the value matches the
    /// regular expression (`RegexAutomaton`), which compiles to a deterministic automaton.
    case regex(attribute: String, pattern: String)
    /// `has(attribute)`: the request carries the attribute.
    case has(attribute: String)
    /// `in segment("name")`, or `unit in segment("name")` when a unit type is named.
    case segment(name: String, unitType: String?)
    /// `!e`; also what `x not in [...]` means.
    case not(TargetingExpression)
    /// `a && b && ...`, evaluated left to right, stopping at the first false operand.
    case and([TargetingExpression])
    /// `a || b || ...`, evaluated left to right, stopping at the first true operand.
    case or([TargetingExpression])

    /// The attributes the expression refers to, sorted and unique.
    public var referencedAttributes: [String] {
        var names = Set<String>()
        visit { node in
            switch node {
            case .flag(let a), .comparison(let a, _, _), .membership(let a, _), .has(let a), .foldedComparison(let a, _, _),
                .foldedMembership(let a, _), .cidr(let a, _), .regex(let a, _):
                names.insert(a)
            default: break
            }
        }
        return names.sorted()
    }

    /// The segments the expression refers to, sorted and unique.
    public var referencedSegments: [String] {
        var names = Set<String>()
        visit { node in
            if case .segment(let name, _) = node { names.insert(name) }
        }
        return names.sorted()
    }

    /// Calls `body` on every node, parents before children.
    func visit(_ body: (TargetingExpression) -> Void) {
        body(self)
        switch self {
        case .not(let inner): inner.visit(body)
        case .and(let operands), .or(let operands): operands.forEach { $0.visit(body) }
        default: break
        }
    }
}

/// The comparison operators of the language.
public enum TargetingOperator: String, Sendable, CaseIterable {
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
    case startsWith
    case endsWith
    /// Substring on a string attribute; membership on a list attribute.
    case contains

    /// The operator that gives the same result with its operands swapped (`5 < x` is `x > 5`), for
    /// the symmetric and ordering operators.
    var flipped: TargetingOperator? {
        switch self {
        case .equal, .notEqual: return self
        case .less: return .greater
        case .lessOrEqual: return .greaterOrEqual
        case .greater: return .less
        case .greaterOrEqual: return .lessOrEqual
        case .startsWith, .endsWith, .contains: return nil
        }
    }

    /// `==`, `!=`, `<`, `<=`, `>`, `>=`.
    var isOrdering: Bool {
        switch self {
        case .startsWith, .endsWith, .contains: return false
        default: return true
        }
    }

    /// The bytecode comparison code.
    var comparison: TargetingComparison {
        switch self {
        case .equal: return .equal
        case .notEqual: return .notEqual
        case .less: return .less
        case .lessOrEqual: return .lessOrEqual
        case .greater: return .greater
        case .greaterOrEqual: return .greaterOrEqual
        case .startsWith: return .startsWith
        case .endsWith: return .endsWith
        case .contains: return .contains
        }
    }
}

/// A constant in a targeting expression.
public enum TargetingValue: Equatable, Sendable, CustomStringConvertible {
    case string(String)
    /// A finite double; never `-0` (which the language reads as `0`).
    case number(Double)
    case bool(Bool)
    case semver(Semver)
    /// A point in time, in unix seconds (compared with a datetime attribute).
    case time(Int64)

    /// Byte-wise equality: strings are equal when their UTF-8 is (the evaluator compares bytes, so
    /// `"é"` and `"e\u0301"` are different values even though Swift's `==` on strings says equal).
    public static func == (a: TargetingValue, b: TargetingValue) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x.utf8.elementsEqual(y.utf8)
        case (.number(let x), .number(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.time(let x), .time(let y)): return x == y
        case (.semver(let x), .semver(let y)):
            return x.major == y.major && x.minor == y.minor && x.patch == y.patch && x.prerelease.utf8.elementsEqual(y.prerelease.utf8)
        default: return false
        }
    }

    /// The kind of value, as messages name it.
    var kindName: String {
        switch self {
        case .string: return "string"
        case .number: return "number"
        case .bool: return "bool"
        case .semver: return "semver"
        case .time: return "datetime"
        }
    }

    /// The canonical source text: `"US"`, `5`, `2.5`, `1e+21`, `true`, `semver("5.2.0")`.
    public var description: String {
        switch self {
        case .string(let text): return TargetingText.quoted(text)
        case .number(let value): return TargetingText.number(value)
        case .bool(let value): return value ? "true" : "false"
        case .semver(let version): return "semver(\(TargetingText.quoted(version.description)))"
        case .time(let seconds): return TargetingText.quoted(RFC3339.format(seconds))
        }
    }
}
