public import AllotCompiler
public import AllotCore

/// Proves facts about targeting expressions: that one can never match (for `allot lint`) and
/// that one implies another (for `allot diff`: a targeting change that only widens un-enrolls
/// nobody). Sound, not complete: a contradiction or an implication is claimed only when proven;
/// "unknown" is reported as "may match" / "does not imply".
///
/// The method: negation normal form, then disjunctive normal form (given up beyond
/// `maxClauses` alternatives), then each conjunction is checked per attribute against the
/// semantics of `docs/targeting.md`: a predicate on a missing attribute is false (so its negation
/// is true), strings compare bytewise, numbers as doubles, versions by semver precedence.
/// Predicates the method does not model (`lower(x) == "a"`, `ip in cidr(...)`, `now() < "..."`)
/// are opaque atoms: only an atom and
/// its own negation conflict, so no claim ever rests on what such a predicate means.
public struct TargetingLogic: Sendable {
    /// The declared type of each attribute the expressions may use.
    public var attributeTypes: [String: AttributeType]
    /// Segments known to have no members (no ids, and no rule or a rule that never matches).
    public var emptySegments: Set<String>
    /// The largest disjunctive normal form examined.
    public var maxClauses = 256

    public init(attributeTypes: [String: AttributeType], emptySegments: Set<String> = []) {
        self.attributeTypes = attributeTypes
        self.emptySegments = emptySegments
    }

    /// A proof that an expression never matches: in every alternative, these conditions cannot all hold.
    public struct Contradiction: Sendable, Equatable, CustomStringConvertible {
        /// The conflicting conditions of the first alternative, in canonical text.
        public var conditions: [String]
        /// How many alternatives (`||` branches after distribution) the expression has.
        public var alternatives: Int

        public var description: String {
            let list = conditions.map { "`\($0)`" }
            let what: String
            switch list.count {
            case 1: what = "\(list[0]) is never true"
            case 2: what = "\(list[0]) and \(list[1]) cannot both hold"
            default: what = list.dropLast().joined(separator: ", ") + " and \(list.last!) cannot all hold"
            }
            return alternatives > 1 ? "every alternative contradicts itself, for example: \(what)" : what
        }
    }

    /// A contradiction when `expression` is proven to never match; nil when it may match.
    public func contradiction(in expression: TargetingExpression) -> Contradiction? {
        guard let clauses = dnf(Formula(expression, negated: false)) else { return nil }
        var first: [Literal]? = nil
        for clause in clauses {
            guard let conflict = conflict(in: clause) else { return nil }
            if first == nil { first = conflict }
        }
        return Contradiction(conditions: (first ?? []).map(\.text), alternatives: clauses.count)
            .with(conditionsIfEmpty: clauses.isEmpty ? ["false"] : nil)
    }

    /// Whether every unit matching `a` is proven to match `b` (`a && !b` never matches).
    public func implies(_ a: TargetingExpression, _ b: TargetingExpression) -> Bool {
        contradiction(in: .and([a, .not(b)])) != nil
    }

    // MARK: Normal forms

    struct Literal: Sendable {
        var atom: TargetingExpression
        var positive: Bool
        var text: String { positive ? atom.description : TargetingExpression.not(atom).description }
    }

    private indirect enum Formula {
        case constant(Bool)
        case literal(Literal)
        case and([Formula])
        case or([Formula])

        init(_ expression: TargetingExpression, negated: Bool) {
            switch expression {
            case .constant(let value): self = .constant(value != negated)
            case .not(let inner): self = Formula(inner, negated: !negated)
            case .and(let operands):
                let parts = operands.map { Formula($0, negated: negated) }
                self = negated ? .or(parts) : .and(parts)
            case .or(let operands):
                let parts = operands.map { Formula($0, negated: negated) }
                self = negated ? .and(parts) : .or(parts)
            case .segment(let name, _):
                // Naming the unit does not change a segment test's meaning.
                self = .literal(Literal(atom: .segment(name: name, unitType: nil), positive: !negated))
            default: self = .literal(Literal(atom: expression, positive: !negated))
            }
        }
    }

    /// The alternatives (conjunctions of literals); nil when there would be too many.
    private func dnf(_ formula: Formula) -> [[Literal]]? {
        switch formula {
        case .constant(let value): return value ? [[]] : []
        case .literal(let literal): return [[literal]]
        case .or(let parts):
            var result: [[Literal]] = []
            for part in parts {
                guard let clauses = dnf(part) else { return nil }
                result += clauses
                if result.count > maxClauses { return nil }
            }
            return result
        case .and(let parts):
            var result: [[Literal]] = [[]]
            for part in parts {
                guard let clauses = dnf(part) else { return nil }
                var next: [[Literal]] = []
                for left in result { for right in clauses { next.append(left + right) } }
                if next.count > maxClauses { return nil }
                result = next
            }
            return result
        }
    }

    // MARK: Conjunctions

    /// A small set of literals of `clause` that cannot all hold, or nil when the clause may hold.
    private func conflict(in clause: [Literal]) -> [Literal]? {
        guard !satisfiable(clause) else { return nil }
        for literal in clause where !satisfiable([literal]) { return [literal] }
        for i in clause.indices {
            for j in clause.indices where j > i && !satisfiable([clause[i], clause[j]]) { return [clause[i], clause[j]] }
        }
        return clause
    }

    /// False only when the conjunction is proven unsatisfiable.
    private func satisfiable(_ clause: [Literal]) -> Bool {
        for (i, a) in clause.enumerated() {
            for b in clause[(i + 1)...] where a.positive != b.positive && a.atom == b.atom { return false }
        }
        var byAttribute: [String: [Literal]] = [:]
        for literal in clause {
            switch literal.atom {
            case .segment(let name, _):
                if literal.positive && emptySegments.contains(name) { return false }
            case .flag(let a), .comparison(let a, _, _), .membership(let a, _), .has(let a):
                byAttribute[a, default: []].append(literal)
            case .foldedComparison, .foldedMembership, .cidr, .now, .regex:
                // Opaque: `lower(x)` predicates are not related to each other or to `x`'s own
                // predicates (beyond `p && !p`, above), so a clause is never proven
                // unsatisfiable through them. Sound, not complete.
                break
            default:
                break
            }
        }
        for (attribute, literals) in byAttribute where !attributeSatisfiable(attribute, literals) { return false }
        return true
    }

    private func attributeSatisfiable(_ attribute: String, _ literals: [Literal]) -> Bool {
        var present = false
        var absentRequired = false
        var constraints: [Literal] = []
        for literal in literals {
            if case .has = literal.atom {
                if literal.positive { present = true } else { absentRequired = true }
            } else {
                if literal.positive { present = true }
                constraints.append(literal)
            }
        }
        if present && absentRequired { return false }
        // Without a positive predicate the attribute may be missing, which makes every negated
        // predicate true.
        guard present, let type = attributeTypes[attribute] else { return true }
        switch type {
        case .bool:
            return [true, false].contains { value in constraints.allSatisfy { holds($0, .bool(value)) != false } }
        case .stringList:
            var required = Set<[UInt8]>()
            var forbidden = Set<[UInt8]>()
            for literal in constraints {
                guard case .comparison(_, .contains, .string(let value)) = literal.atom else { continue }
                if literal.positive { required.insert(Array(value.utf8)) } else { forbidden.insert(Array(value.utf8)) }
            }
            return required.isDisjoint(with: forbidden)
        case .string, .number, .semver, .datetime:
            return orderedSatisfiable(constraints, type: type)
        case .ip:
            return true  // its only predicate, `cidr(...)`, is opaque
        }
    }

    /// Strings, numbers and versions: pin to candidate values when an equality or list allows
    /// only some; otherwise intersect the bounds (and, for strings, prefixes and suffixes).
    private func orderedSatisfiable(_ constraints: [Literal], type: AttributeType) -> Bool {
        var candidates: [TargetingValue]? = nil
        func pin(_ values: [TargetingValue]) {
            candidates = (candidates ?? values).filter { c in values.contains { order(c, $0) == 0 } }
        }
        var bounds = Bounds()
        var excluded: [TargetingValue] = []
        var prefixes: [[UInt8]] = []
        var suffixes: [[UInt8]] = []
        var substrings: [[UInt8]] = []
        var forbiddenPrefixes: [[UInt8]] = []
        var forbiddenSuffixes: [[UInt8]] = []
        var forbiddenSubstrings: [[UInt8]] = []
        for literal in constraints {
            switch literal.atom {
            case .membership(_, let values):
                if literal.positive { pin(values) } else { excluded += values }
            case .comparison(_, let op, let value):
                let effective = literal.positive ? op : op.negatedForPresentValue
                switch effective {
                case .equal: pin([value])
                case .notEqual: excluded.append(value)
                case .less: bounds.upper(value, strict: true, order)
                case .lessOrEqual: bounds.upper(value, strict: false, order)
                case .greater: bounds.lower(value, strict: true, order)
                case .greaterOrEqual: bounds.lower(value, strict: false, order)
                case .startsWith, .endsWith, .contains, nil:
                    guard case .string(let text) = value else { continue }
                    let bytes = Array(text.utf8)
                    switch (op, literal.positive) {
                    case (.startsWith, true): prefixes.append(bytes)
                    case (.startsWith, false): forbiddenPrefixes.append(bytes)
                    case (.endsWith, true): suffixes.append(bytes)
                    case (.endsWith, false): forbiddenSuffixes.append(bytes)
                    case (.contains, true): substrings.append(bytes)
                    case (.contains, false): forbiddenSubstrings.append(bytes)
                    default: break
                    }
                }
            default:
                break
            }
        }
        if let lower = bounds.lowerValue, let upper = bounds.upperValue {
            let sign = order(lower, upper)
            if sign > 0 || (sign == 0 && (bounds.lowerStrict || bounds.upperStrict)) { return false }
            if sign == 0 { pin([lower]) }
            if bounds.lowerStrict, bounds.upperStrict, case .number(let a) = lower, case .number(let b) = upper, b <= a.nextUp {
                return false
            }
        }
        if let upper = bounds.upperValue, case .string(let text) = upper, text.isEmpty {
            if bounds.upperStrict { return false }  // nothing is below ""
            pin([upper])
        }
        if let candidates {
            return candidates.contains { value in constraints.allSatisfy { holds($0, value) != false } }
        }
        guard type == .string else { return true }
        // Unpinned strings: prefixes must nest, suffixes too; forbidden ones must not follow.
        guard let prefix = longestNested(prefixes, { $0.starts(with: $1) }),
            let suffix = longestNested(suffixes, { $0.reversed().starts(with: $1.reversed()) })
        else { return false }
        if forbiddenPrefixes.contains(where: { prefix.starts(with: $0) }) { return false }
        if forbiddenSuffixes.contains(where: { suffix.reversed().starts(with: $0.reversed()) }) { return false }
        for forbidden in forbiddenSubstrings {
            if forbidden.isEmpty || contains(prefix, forbidden) || contains(suffix, forbidden) { return false }
            if substrings.contains(where: { contains($0, forbidden) }) { return false }
        }
        // Every string with prefix P is at least P, and below any bound greater than P that does not start with P.
        if !prefix.isEmpty {
            let p = TargetingValue.string(String(decoding: prefix, as: UTF8.self))
            if let upper = bounds.upperValue {
                let sign = order(upper, p)
                if sign < 0 || (sign == 0 && bounds.upperStrict) { return false }
            }
            if let lower = bounds.lowerValue, case .string(let text) = lower, order(lower, p) == 1, !Array(text.utf8).starts(with: prefix) {
                return false
            }
        }
        return true
    }

    /// The longest element when every element extends (by `extends`) the shorter ones; nil if two disagree.
    private func longestNested(_ items: [[UInt8]], _ extends: ([UInt8], [UInt8]) -> Bool) -> [UInt8]? {
        var longest: [UInt8] = []
        for item in items.sorted(by: { $0.count < $1.count }) {
            guard extends(item, longest) else { return nil }
            longest = item
        }
        return longest
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        if needle.isEmpty { return true }
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return true
        }
        return false
    }

    /// Whether a literal holds for a present attribute with `value`; nil when unknown.
    private func holds(_ literal: Literal, _ value: TargetingValue) -> Bool? {
        let result: Bool?
        switch literal.atom {
        case .flag: result = value == .bool(true)
        case .membership(_, let values): result = values.contains { order($0, value) == 0 }
        case .comparison(_, let op, let constant):
            switch op {
            case .equal: result = compare(value, constant).map { $0 == 0 }
            case .notEqual: result = compare(value, constant).map { $0 != 0 }
            case .less: result = compare(value, constant).map { $0 < 0 }
            case .lessOrEqual: result = compare(value, constant).map { $0 <= 0 }
            case .greater: result = compare(value, constant).map { $0 > 0 }
            case .greaterOrEqual: result = compare(value, constant).map { $0 >= 0 }
            case .startsWith, .endsWith, .contains:
                guard case .string(let a) = value, case .string(let b) = constant else { return nil }
                let x = Array(a.utf8)
                let y = Array(b.utf8)
                switch op {
                case .startsWith: result = x.starts(with: y)
                case .endsWith: result = x.reversed().starts(with: y.reversed())
                default: result = contains(x, y)
                }
            }
        default: result = nil
        }
        return result.map { $0 == literal.positive }
    }

    /// -1, 0, 1 for two values of one kind; nil across kinds.
    private func compare(_ a: TargetingValue, _ b: TargetingValue) -> Int? {
        switch (a, b) {
        case (.string(let x), .string(let y)):
            let xb = Array(x.utf8)
            let yb = Array(y.utf8)
            return xb == yb ? 0 : (xb.lexicographicallyPrecedes(yb) ? -1 : 1)
        case (.number(let x), .number(let y)): return x == y ? 0 : (x < y ? -1 : 1)
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (!x ? -1 : 1)
        case (.semver(let x), .semver(let y)): return Semver.compare(x, y)
        case (.time(let x), .time(let y)): return x == y ? 0 : (x < y ? -1 : 1)
        default: return nil
        }
    }

    /// `compare`, with 2 for values of different kinds (which never bound each other).
    private func order(_ a: TargetingValue, _ b: TargetingValue) -> Int {
        compare(a, b) ?? 2
    }
}

/// The tightest lower and upper bounds seen.
private struct Bounds {
    var lowerValue: TargetingValue?
    var lowerStrict = false
    var upperValue: TargetingValue?
    var upperStrict = false

    mutating func lower(_ value: TargetingValue, strict: Bool, _ compare: (TargetingValue, TargetingValue) -> Int) {
        guard let current = lowerValue else {
            (lowerValue, lowerStrict) = (value, strict)
            return
        }
        let order = compare(value, current)
        if order == 2 { return }
        if order > 0 || (order == 0 && strict) { (lowerValue, lowerStrict) = (value, strict) }
    }

    mutating func upper(_ value: TargetingValue, strict: Bool, _ compare: (TargetingValue, TargetingValue) -> Int) {
        guard let current = upperValue else {
            (upperValue, upperStrict) = (value, strict)
            return
        }
        let order = compare(value, current)
        if order == 2 { return }
        if order < 0 || (order == 0 && strict) { (upperValue, upperStrict) = (value, strict) }
    }
}

extension TargetingOperator {
    /// What `!(x op c)` means once `x` is known to be present: the complementary comparison, or
    /// nil for the string operators (whose negations are handled separately).
    fileprivate var negatedForPresentValue: TargetingOperator? {
        switch self {
        case .equal: return .notEqual
        case .notEqual: return .equal
        case .less: return .greaterOrEqual
        case .lessOrEqual: return .greater
        case .greater: return .lessOrEqual
        case .greaterOrEqual: return .less
        case .startsWith, .endsWith, .contains: return nil
        }
    }
}

extension TargetingLogic.Contradiction {
    fileprivate func with(conditionsIfEmpty: [String]?) -> Self {
        guard conditions.isEmpty, let conditionsIfEmpty else { return self }
        var copy = self
        copy.conditions = conditionsIfEmpty
        return copy
    }
}
