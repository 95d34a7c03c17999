/// The parse tree of a targeting expression, as written, with source spans: what the parser
/// produces and the type checker turns into a canonical `TargetingExpression`.
struct TargetingSyntax: Sendable {
    indirect enum Kind: Sendable {
        /// `true` or `false` alone.
        case constant(Bool)
        /// A name alone (a bool attribute).
        case name(Name)
        /// `has(name)`.
        case has(Name)
        /// `left <op> right`, as written (either side may be the attribute).
        case comparison(Operand, Operator)
        /// `element [not] in collection` where the collection is a list or a name.
        case membership(element: Operand, negated: Bool, keyword: TargetingSpan, collection: Operand)
        /// `name matches "pattern"`, with the pattern string's span.
        case matches(Name, pattern: Name)
        /// `[unit] [not] in segment("name")`.
        case segment(unit: Name?, negated: Bool, segment: Name)
        /// `! operand`.
        case not(TargetingSyntax)
        /// `( inner )`.
        case group(TargetingSyntax)
        /// `a && b && ...` within one level of parentheses.
        case and([TargetingSyntax])
        /// `a || b || ...` within one level of parentheses.
        case or([TargetingSyntax])
        /// Where a syntax error was reported; checking skips it.
        case invalid
    }

    /// A comparison operator and its right operand.
    struct Operator: Sendable {
        var op: TargetingOperator
        var span: TargetingSpan
        var right: Operand
    }

    /// An identifier, or a segment's name, with where it was written.
    struct Name: Sendable {
        var text: String
        var span: TargetingSpan
    }

    /// One side of a comparison.
    enum Operand: Sendable {
        case name(Name)
        case literal(Literal)
        case list([Literal], TargetingSpan)
        /// `lower(name)`, with the span of the whole call.
        case lowered(Name, TargetingSpan)
        /// `cidr("block", ...)`: each string with its span, and the span of the whole call.
        case cidr([Name], TargetingSpan)
        /// `now()`, the request time.
        case now(TargetingSpan)

        var span: TargetingSpan {
            switch self {
            case .name(let name): return name.span
            case .lowered(_, let span): return span
            case .cidr(_, let span): return span
            case .now(let span): return span
            case .literal(let literal): return literal.span
            case .list(_, let span): return span
            }
        }
    }

    /// A constant as written. Semver text is checked by the type checker.
    struct Literal: Sendable {
        enum Value: Sendable {
            case string(String)
            case number(Double)
            case bool(Bool)
            /// `semver("text")`, with the span of the string inside the parentheses.
            case semver(String, TargetingSpan)
        }

        var value: Value
        var span: TargetingSpan
    }

    var kind: Kind
    var span: TargetingSpan
    /// Nesting depth as `docs/targeting.md` defines it: a predicate is 1; parentheses, `!` and an
    /// `&&` or `||` chain each add one to the deepest thing they contain.
    var depth: Int
}
