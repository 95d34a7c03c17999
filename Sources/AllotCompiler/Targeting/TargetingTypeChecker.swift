import AllotCore

/// Checks a parse tree against the environment and lowers it to a canonical `TargetingExpression`.
///
/// Every subexpression is checked even after an error, so one run reports every unknown name,
/// type mismatch and bad value in the expression.
struct TargetingTypeChecker {
    typealias Name = TargetingSyntax.Name
    typealias Literal = TargetingSyntax.Literal

    private let environment: TargetingEnvironment
    private let scalars: [Unicode.Scalar]
    var diagnostics: TargetingDiagnostics

    init(environment: TargetingEnvironment, source: String, diagnostics: TargetingDiagnostics) {
        self.environment = environment
        self.scalars = Array(source.unicodeScalars)
        self.diagnostics = diagnostics
    }

    private func text(_ span: TargetingSpan) -> String {
        String(String.UnicodeScalarView(scalars[span.offset..<min(span.end, scalars.count)]))
    }

    private mutating func error(_ span: TargetingSpan, _ message: String, hint: String? = nil) {
        diagnostics.error(span, message, hint: hint)
    }

    // MARK: Conditions

    /// The canonical expression, or nil if this part has errors (all of them reported).
    mutating func check(_ syntax: TargetingSyntax) -> TargetingExpression? {
        switch syntax.kind {
        case .invalid:
            return nil
        case .constant(let value):
            return .constant(value)
        case .name(let name):
            guard let attribute = attribute(name) else { return nil }
            guard attribute.type == .bool else {
                error(
                    name.span, "'\(name.text)' is a \(attribute.type.name) attribute, not a condition",
                    hint:
                        "compare it with a value, e.g. \(example(name.text, attribute.type)), or test presence with has(\(TargetingText.name(name.text)))"
                )
                return nil
            }
            return .flag(attribute: name.text)
        case .has(let name):
            return attribute(name) == nil ? nil : .has(attribute: name.text)
        case .group(let inner):
            return check(inner)
        case .not(let inner):
            return check(inner).map { .not($0) }
        case .and(let operands):
            return chain(operands, isAnd: true)
        case .or(let operands):
            return chain(operands, isAnd: false)
        case .comparison(let left, let op):
            return checkComparison(left, op)
        case .membership(let element, let negated, let keyword, let collection):
            let result = checkMembership(element, keyword: keyword, collection)
            return negated ? result.map { .not($0) } : result
        case .matches(let name, let pattern):
            return checkRegex(name, pattern)
        case .segment(let unit, let negated, let segment):
            let result = checkSegment(unit: unit, segment)
            return negated ? result.map { .not($0) } : result
        }
    }

    private mutating func chain(_ operands: [TargetingSyntax], isAnd: Bool) -> TargetingExpression? {
        var checked: [TargetingExpression] = []
        var valid = true
        for operand in operands {
            switch check(operand) {
            case nil: valid = false
            case .and(let inner)? where isAnd: checked += inner
            case .or(let inner)? where !isAnd: checked += inner
            case let expression?: checked.append(expression)
            }
        }
        guard valid else { return nil }
        return isAnd ? .and(checked) : .or(checked)
    }

    // MARK: Names

    /// The declared attribute `name`, or nil after reporting why it is not one.
    private mutating func attribute(_ name: Name) -> TargetingEnvironment.Attribute? {
        if let attribute = environment.attributes[name.text] { return attribute }
        if environment.unitTypes.contains(name.text) {
            error(
                name.span, "'\(name.text)' is a unit type, not an attribute",
                hint: "to target particular units, list them in a segment and write \(TargetingText.name(name.text)) in segment(\"name\")")
            return nil
        }
        let hint: String
        switch name.text.lowercased() {
        case "true", "false": hint = "write \(name.text.lowercased()) in lowercase"
        case "null", "nil", "none", "undefined": hint = "to test that an attribute is absent, write !has(attribute)"
        default: hint = TargetingText.suggestion(for: name.text, among: environment.attributes.keys, kind: "attribute")
        }
        error(name.span, "unknown attribute '\(name.text)'", hint: hint)
        return nil
    }

    private func example(_ name: String, _ type: AttributeType) -> String {
        let shown = TargetingText.name(name)
        switch type {
        case .string: return "\(shown) == \"...\""
        case .number: return "\(shown) > 0"
        case .bool: return "\(shown) == true"
        case .semver: return "\(shown) >= semver(\"1.0.0\")"
        case .stringList: return "\(shown) contains \"...\""
        case .ip: return "\(shown) in cidr(\"10.0.0.0/8\")"
        case .datetime: return "\(shown) >= \"2026-01-01T00:00:00Z\""
        }
    }

    // MARK: Comparisons

    private mutating func checkComparison(_ left: TargetingSyntax.Operand, _ op: TargetingSyntax.Operator) -> TargetingExpression? {
        switch (left, op.right) {
        case (_, .list):
            let suggested = op.op == .notEqual ? "not in" : "in"
            error(
                op.span, "'\(op.op.rawValue)' cannot compare with a list",
                hint: op.op == .equal || op.op == .notEqual
                    ? "write \(text(left.span)) \(suggested) \(text(op.right.span))" : "compare with a single value")
            return nil
        case (.name(let name), .literal(let literal)):
            return predicate(name, op.op, op.span, literal)
        case (.literal(let literal), .name(let name)):
            guard let flipped = op.op.flipped else {
                error(
                    op.span, "'\(op.op.rawValue)' needs the attribute on its left",
                    hint: "write \(TargetingText.name(name.text)) \(op.op.rawValue) \(text(literal.span))")
                _ = attribute(name)
                _ = value(literal)
                return nil
            }
            return predicate(name, flipped, op.span, literal)
        case (.name(let name), .name(let other)):
            return twoNames(name, other, op.span, op.op.rawValue)
        case (.lowered(let name, _), .literal(let literal)):
            return foldedPredicate(name, op.op, op.span, literal)
        case (.now, .literal(let literal)):
            return nowPredicate(op.op, op.span, literal)
        case (.now, .name(let name)):
            error(
                name.span, "now() is compared with a time constant, not an attribute",
                hint: "write \(TargetingText.name(name.text)) < \"2026-12-01T09:00:00Z\", or now() >= \"2026-12-01T09:00:00Z\"")
            return nil
        case (.lowered(let name, _), .name(let other)):
            return twoNames(name, other, op.span, op.op.rawValue)
        default:
            error(
                left.span.through(op.right.span), "this compares two values; one side must be an attribute",
                hint: "write attribute \(op.op.rawValue) value, e.g. country == \"US\"")
            return nil
        }
    }

    /// `a <op> b` with two names: either an unquoted value or an unsupported attribute comparison.
    private mutating func twoNames(_ name: Name, _ other: Name, _ opSpan: TargetingSpan, _ op: String) -> TargetingExpression? {
        let known = attribute(name)
        if environment.attributes[other.text] != nil || environment.unitTypes.contains(other.text) {
            error(
                name.span.through(other.span), "comparing two attributes ('\(name.text)' and '\(other.text)') is not supported",
                hint: "compare an attribute with a literal value, e.g. \(example(name.text, known?.type ?? .string))")
        } else {
            let isList = op == "in" || op == "not in"
            error(
                other.span, "unknown attribute '\(other.text)' on the right of '\(op)'",
                hint: isList
                    ? "write a list of values: [\(TargetingText.quoted(other.text))]"
                    : "quote text values: \(TargetingText.quoted(other.text))")
        }
        return nil
    }

    /// `attribute <op> literal`, checked and normalised.
    private mutating func predicate(_ name: Name, _ op: TargetingOperator, _ opSpan: TargetingSpan, _ literal: Literal)
        -> TargetingExpression?
    {
        let checkedValue = value(literal)
        guard let attribute = attribute(name), let checkedValue else { return nil }
        let type = attribute.type
        guard operatorApplies(op, to: type) else {
            error(
                opSpan, "operator '\(op.rawValue)' does not apply to \(type.name) attribute '\(name.text)'",
                hint: operatorHint(op, name.text, type))
            return nil
        }
        switch (type, checkedValue) {
        case (.string, .string(let text)):
            if op == .equal || op == .notEqual {
                guard allowed(text, attribute, name, literal.span) else { return nil }
            }
            return .comparison(attribute: name.text, op, .string(text))
        case (.number, .number):
            return .comparison(attribute: name.text, op, checkedValue)
        case (.bool, .bool(let expected)):
            // `x == true` and `x != false` are `x`; `x == false` and `x != true` are `x == false`.
            return (op == .equal) == expected ? .flag(attribute: name.text) : .comparison(attribute: name.text, .equal, .bool(false))
        case (.semver, .semver):
            return .comparison(attribute: name.text, op, checkedValue)
        case (.datetime, .string(let text)):
            guard let seconds = time(text, literal.span) else { return nil }
            return .comparison(attribute: name.text, op, .time(seconds))
        case (.semver, .string(let text)):
            guard let version = version(text, literal.span) else { return nil }
            return .comparison(attribute: name.text, op, .semver(version))
        case (.stringList, .string(let text)):
            guard allowed(text, attribute, name, literal.span) else { return nil }
            return .comparison(attribute: name.text, .contains, .string(text))
        default:
            mismatch(name, type, literal, checkedValue)
            return nil
        }
    }

    private func operatorApplies(_ op: TargetingOperator, to type: AttributeType) -> Bool {
        switch type {
        case .string: return true
        case .number, .semver: return op.isOrdering
        case .bool: return op == .equal || op == .notEqual
        case .stringList: return op == .contains
        case .ip: return false
        case .datetime: return op.isOrdering
        }
    }

    private func operatorHint(_ op: TargetingOperator, _ name: String, _ type: AttributeType) -> String {
        let shown = TargetingText.name(name)
        switch type {
        case .bool: return "a bool attribute takes == and != , or stands alone: \(shown) or !\(shown)"
        case .stringList: return "test membership with \(shown) contains \"x\" or \"x\" in \(shown)"
        case .ip: return "test an address with \(shown) in cidr(\"192.0.2.0/24\"), or cidr(\"192.0.2.1\") for one address"
        default:
            return "startsWith, endsWith and contains work on string attributes; \(shown) takes ==, !=, <, <=, > and >="
        }
    }

    /// Reports a literal whose type does not fit the attribute.
    private mutating func mismatch(_ name: Name, _ type: AttributeType, _ literal: Literal, _ value: TargetingValue) {
        let written = text(literal.span)
        let shown = TargetingText.name(name.text)
        var hint: String
        switch (type, value) {
        case (.string, .number), (.string, .bool), (.stringList, .number), (.stringList, .bool):
            hint = "quote the value: \(TargetingText.quoted(written))"
        case (.string, .semver), (.stringList, .semver):
            hint = "'\(name.text)' holds text; compare it with a string, or declare it as a semver attribute"
        case (.number, .string(let text)) where TargetingText.parseNumber(text) != nil:
            hint = "remove the quotes: \(text)"
        case (.bool, .string(let text)) where text == "true" || text == "false":
            hint = "remove the quotes: \(text)"
        case (.bool, _):
            hint = "compare with true or false, or write \(shown) alone for \(shown) == true"
        case (.semver, .number):
            hint = "quote versions: \(TargetingText.quoted(written))"
        case (.datetime, _):
            hint = "write times as RFC 3339 strings, e.g. \(example(name.text, type))"
        default:
            hint = "compare it with a \(type.name) value, e.g. \(example(name.text, type))"
        }
        error(literal.span, "cannot compare \(type.name) attribute '\(name.text)' with \(value.kindName) \(written)", hint: hint)
    }

    // MARK: Regular expressions

    /// `attribute matches "pattern"`.
    private mutating func checkRegex(_ name: Name, _ pattern: Name) -> TargetingExpression? {
        let known = attribute(name)
        if case .failure(let failure) = RegexAutomaton.compile(pattern.text) {
            error(
                pattern.span,
                "invalid pattern: \(failure.message)" + (failure.offset < 0 ? "" : " (at character \(failure.offset + 1) of the pattern)"),
                hint: "patterns use . [...] \\d \\w \\s ( | ) * + ? {n,m} and ^ $ at the ends; a backslash is written \\\\ in the string")
            return nil
        }
        guard let attribute = known else { return nil }
        guard attribute.type == .string else {
            error(
                name.span, "'matches' applies to string attributes; '\(name.text)' is a \(attribute.type.name) attribute",
                hint: "compare it with a \(attribute.type.name) value, e.g. \(example(name.text, attribute.type))")
            return nil
        }
        return .regex(attribute: name.text, pattern: pattern.text)
    }

    // MARK: Time

    /// The unix seconds of an RFC 3339 time constant; nil after reporting a bad one.
    private mutating func time(_ text: String, _ span: TargetingSpan) -> Int64? {
        guard let seconds = RFC3339.parse(text) else {
            error(
                span, "\(TargetingText.quoted(text)) is not an RFC 3339 time",
                hint: "write times like \"2026-12-01T09:00:00Z\" or \"2026-12-01T10:00:00+01:00\", or a date, \"2026-12-01\" (midnight UTC)"
            )
            return nil
        }
        return seconds
    }

    /// `now() <op> "time"`.
    private mutating func nowPredicate(_ op: TargetingOperator, _ opSpan: TargetingSpan, _ literal: Literal) -> TargetingExpression? {
        let checkedValue = value(literal)
        guard [.less, .lessOrEqual, .greater, .greaterOrEqual].contains(op) else {
            error(
                opSpan, "operator '\(op.rawValue)' does not apply to now()",
                hint:
                    "the request time is compared with <, <=, > or >=; for one day write now() >= \"2026-12-01\" && now() < \"2026-12-02\"")
            return nil
        }
        guard let checkedValue else { return nil }
        guard case .string(let text) = checkedValue else {
            error(
                literal.span, "cannot compare now() with \(checkedValue.kindName) \(text(literal.span))",
                hint: "write the time as an RFC 3339 string, e.g. now() \(op.rawValue) \"2026-12-01T09:00:00Z\"")
            return nil
        }
        guard let seconds = time(text, literal.span) else { return nil }
        return .now(op, seconds)
    }

    // MARK: CIDR blocks

    /// `attribute in cidr("10.0.0.0/8", ...)`.
    private mutating func checkCIDR(_ name: Name, _ keyword: TargetingSpan, _ blocks: [Name]) -> TargetingExpression? {
        let known = attribute(name)
        var valid = true
        var networks: [IPNetwork] = []
        var seen = Set<IPNetwork>()
        guard blocks.count <= TargetingLimits.maxListElements else {
            error(
                blocks[0].span.through(blocks[blocks.count - 1].span),
                "cidr(...) has \(blocks.count) blocks; at most \(TargetingLimits.maxListElements) are allowed",
                hint: "merge adjacent blocks into shorter prefixes")
            return nil
        }
        for block in blocks {
            switch IPNetwork.parse(block.text) {
            case .success(let network):
                if !seen.insert(network).inserted {
                    error(
                        block.span, "\(TargetingText.quoted(block.text)) repeats the block \(network) in cidr(...)",
                        hint: "remove the repeated block")
                    valid = false
                }
                networks.append(network)
            case .failure(.badAddress):
                error(
                    block.span, "\(TargetingText.quoted(block.text)) is not a CIDR block: the address is not an IPv4 or IPv6 address",
                    hint: "write a block as address/prefix, e.g. \"10.0.0.0/8\" or \"2001:db8::/32\" (IPv4 octets without leading zeros)")
                valid = false
            case .failure(.badPrefix(let maximum)):
                error(
                    block.span, "\(TargetingText.quoted(block.text)) is not a CIDR block: the prefix must be a number from 0 to \(maximum)",
                    hint: "write a block as address/prefix, e.g. \"10.0.0.0/8\" or \"2001:db8::/32\"")
                valid = false
            case .failure(.hostBitsSet(let network)):
                error(
                    block.span,
                    "\(TargetingText.quoted(block.text)) has bits set after its /\(block.text.split(separator: "/").last ?? "") prefix",
                    hint:
                        "write the network's first address: \(TargetingText.quoted(network.description)), or the address alone for just it")
                valid = false
            }
        }
        guard let attribute = known, valid else { return nil }
        guard attribute.type == .ip else {
            error(
                keyword, "'\(text(keyword)) cidr(...)' applies to ip attributes; '\(name.text)' is a \(attribute.type.name) attribute",
                hint: attribute.type == .string
                    ? "declare '\(name.text)' as an ip attribute (type: ip) to match addresses"
                    : "compare it with a \(attribute.type.name) value, e.g. \(example(name.text, attribute.type))")
            return nil
        }
        return .cidr(attribute: name.text, networks)
    }

    // MARK: Case-insensitive comparison

    /// The operators `lower(x)` takes: those whose result does not depend on byte order.
    private static let foldedOperators: [TargetingOperator] = [.equal, .notEqual, .startsWith, .endsWith, .contains]

    /// The string attribute under `lower(...)`, or nil after reporting why it is not one.
    private mutating func foldedAttribute(_ name: Name) -> TargetingEnvironment.Attribute? {
        guard let attribute = attribute(name) else { return nil }
        guard attribute.type == .string else {
            error(
                name.span, "lower(...) applies to string attributes; '\(name.text)' is a \(attribute.type.name) attribute",
                hint: "compare it without lower(...), e.g. \(example(name.text, attribute.type))")
            return nil
        }
        return attribute
    }

    /// Whether `text` can equal a folded value: it has no ASCII capital (reporting it if it has).
    private mutating func foldable(_ text: String, _ name: Name, _ span: TargetingSpan) -> Bool {
        guard text.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else { return true }
        let lowered = String(decoding: text.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }, as: UTF8.self)
        error(
            span, "\(TargetingText.quoted(text)) has capital letters, which lower(\(TargetingText.name(name.text))) never has",
            hint: "write it in lowercase: \(TargetingText.quoted(lowered))")
        return false
    }

    /// `lower(attribute) <op> "text"`.
    private mutating func foldedPredicate(_ name: Name, _ op: TargetingOperator, _ opSpan: TargetingSpan, _ literal: Literal)
        -> TargetingExpression?
    {
        let checkedValue = value(literal)
        guard foldedAttribute(name) != nil, let checkedValue else { return nil }
        guard Self.foldedOperators.contains(op) else {
            error(
                opSpan, "operator '\(op.rawValue)' does not apply to lower(...)",
                hint:
                    "lower(...) takes ==, !=, startsWith, endsWith, contains and in [...]; order compares bytes, so compare the attribute itself"
            )
            return nil
        }
        guard case .string(let text) = checkedValue else {
            let written = text(literal.span)
            error(
                literal.span, "cannot compare lower(\(TargetingText.name(name.text))) with \(checkedValue.kindName) \(written)",
                hint: "lower(...) is text: quote the value, \(TargetingText.quoted(written))")
            return nil
        }
        guard foldable(text, name, literal.span) else { return nil }
        return .foldedComparison(attribute: name.text, op, text)
    }

    /// `lower(attribute) in ["a", ...]`.
    private mutating func checkFoldedList(_ name: Name, _ keyword: TargetingSpan, _ literals: [Literal], _ span: TargetingSpan)
        -> TargetingExpression?
    {
        let known = foldedAttribute(name)
        guard !literals.isEmpty else {
            error(span, "empty list", hint: "'in []' matches nothing; add values or remove the condition")
            return nil
        }
        guard literals.count <= TargetingLimits.maxListElements else {
            error(
                span, "list has \(literals.count) values; at most \(TargetingLimits.maxListElements) are allowed",
                hint: "put long lists of ids in a segment")
            return nil
        }
        var valid = known != nil
        var texts: [String] = []
        var seen = Set<[UInt8]>()
        for literal in literals {
            guard let checked = value(literal) else {
                valid = false
                continue
            }
            guard case .string(let text) = checked else {
                error(
                    literal.span, "lower(...) is text, so its list holds strings, not \(checked.kindName) \(text(literal.span))",
                    hint: "quote the value: \(TargetingText.quoted(text(literal.span)))")
                valid = false
                continue
            }
            guard foldable(text, name, literal.span) else {
                valid = false
                continue
            }
            if !seen.insert(Array(text.utf8)).inserted {
                error(literal.span, "\(self.text(literal.span)) appears twice in the list", hint: "remove the repeated value")
                valid = false
                continue
            }
            texts.append(text)
        }
        return valid ? .foldedMembership(attribute: name.text, texts) : nil
    }

    // MARK: Membership

    private mutating func checkMembership(
        _ element: TargetingSyntax.Operand, keyword: TargetingSpan, _ collection: TargetingSyntax.Operand
    ) -> TargetingExpression? {
        let op = text(keyword)
        switch (element, collection) {
        case (.name(let name), .list(let literals, let span)):
            return checkList(name, keyword, literals, span)
        case (.literal(let literal), .name(let name)):
            return listContains(name, literal)
        case (.name(let name), .name(let other)):
            return twoNames(name, other, keyword, op)
        case (.name(let name), .literal(let range)):
            return checkRange(name, keyword, range)
        case (.name(let name), .cidr(let blocks, _)):
            return checkCIDR(name, keyword, blocks)
        case (.now(let span), _):
            error(span, "now() cannot be tested with '\(op)'", hint: "compare it with <, <=, > or >= and a time")
            return nil
        case (_, .cidr):
            error(element.span, "'\(op) cidr(...)' needs an ip attribute on its left", hint: "write ip \(op) cidr(\"10.0.0.0/8\")")
            return nil
        case (.lowered(let name, _), .list(let literals, let span)):
            return checkFoldedList(name, keyword, literals, span)
        case (.lowered(let name, let call), _):
            _ = attribute(name)
            error(
                call.through(collection.span), "'\(text(call)) \(op)' needs a list of lowercase strings",
                hint: "write \(text(call)) \(op) [\"a\", \"b\"]")
            return nil
        case (.literal(let literal), .literal):
            error(
                literal.span, "'\(op) semver(...)' needs a semver attribute on its left",
                hint: "write attribute \(op) semver(\"^5.2\"), e.g. app_version in semver(\"^5.2\")")
            return nil
        case (.literal(let literal), .list(let literals, _)):
            _ = literals.map { value($0) }
            error(
                literal.span, "'\(op) [...]' needs an attribute on its left",
                hint: "write attribute \(op) [...], e.g. country in [\"US\", \"CA\"]")
            return nil
        default:
            error(element.span, "a list cannot be on the left of '\(op)'", hint: "write attribute \(op) [...]")
            return nil
        }
    }

    /// `"beta" in tags`: membership in a list attribute.
    private mutating func listContains(_ name: Name, _ literal: Literal) -> TargetingExpression? {
        let checkedValue = value(literal)
        guard let attribute = attribute(name), let checkedValue else { return nil }
        guard attribute.type == .stringList else {
            let shown = TargetingText.name(name.text)
            let written = text(literal.span)
            error(
                name.span,
                "'\(text(literal.span)) in \(name.text)' needs a list attribute on the right; '\(name.text)' is a \(attribute.type.name) attribute",
                hint: attribute.type == .string
                    ? "write \(shown) == \(written), or \(shown) contains \(written) for a substring"
                    : "write \(example(name.text, attribute.type))")
            return nil
        }
        guard case .string(let text) = checkedValue else {
            mismatch(name, .stringList, literal, checkedValue)
            return nil
        }
        guard allowed(text, attribute, name, literal.span) else { return nil }
        return .comparison(attribute: name.text, .contains, .string(text))
    }

    /// `attribute in semver("^1.2")`: a caret or tilde range on a semver attribute, lowered to its
    /// two bounds (`SemverRange`).
    private mutating func checkRange(_ name: Name, _ keyword: TargetingSpan, _ literal: Literal) -> TargetingExpression? {
        let known = attribute(name)
        guard case .semver(let text, let span) = literal.value else {
            error(literal.span, "a value cannot follow '\(self.text(keyword))'", hint: "write a list, e.g. [\(self.text(literal.span))]")
            return nil
        }
        let range: SemverRange
        switch SemverRange.parse(text) {
        case .success(let parsed):
            range = parsed
        case .failure(.notARange):
            if Semver(text) != nil {
                error(
                    span, "\(TargetingText.quoted(text)) is one version, not a range",
                    hint:
                        "write \(TargetingText.name(name.text)) == semver(\(TargetingText.quoted(text))) for exactly it, or a range such as semver(\"^\(text)\") or semver(\"~\(text)\")"
                )
            } else {
                error(
                    span, "\(TargetingText.quoted(text)) is not a version range",
                    hint: "write a caret or tilde range such as \"^5.2\" or \"~5.2.1\"")
            }
            return nil
        case .failure(.badVersion):
            error(
                span, "\(TargetingText.quoted(text)) is not a version range",
                hint:
                    "after ^ or ~ write one to three numbers, like \"^5\", \"^5.2\" or \"~5.2.1\"; a pre-release needs all three (\"^5.2.0-beta.1\")"
            )
            return nil
        case .failure(.tooLarge):
            error(
                span, "\(TargetingText.quoted(text)) has no upper bound that fits 64 bits",
                hint: "write \(TargetingText.name(name.text)) >= semver(...) instead")
            return nil
        }
        guard let attribute = known else { return nil }
        guard attribute.type == .semver else {
            error(
                keyword.through(literal.span),
                "'\(self.text(keyword)) semver(...)' applies to semver attributes; '\(name.text)' is a \(attribute.type.name) attribute",
                hint: attribute.type == .string
                    ? "declare '\(name.text)' as a semver attribute to compare it as a version"
                    : "compare it with a \(attribute.type.name) value, e.g. \(example(name.text, attribute.type))")
            return nil
        }
        return range.expression(on: name.text)
    }

    /// `attribute in [values]`.
    private mutating func checkList(_ name: Name, _ keyword: TargetingSpan, _ literals: [Literal], _ span: TargetingSpan)
        -> TargetingExpression?
    {
        let known = attribute(name)
        guard !literals.isEmpty else {
            error(span, "empty list", hint: "'in []' matches nothing; add values or remove the condition")
            return nil
        }
        guard literals.count <= TargetingLimits.maxListElements else {
            error(
                span, "list has \(literals.count) values; at most \(TargetingLimits.maxListElements) are allowed",
                hint: "put long lists of ids in a segment")
            return nil
        }
        var values: [TargetingValue] = []
        var valid = true
        for literal in literals {
            if let value = value(literal) { values.append(value) } else { valid = false }
        }
        guard valid else { return nil }
        // One type per list; strings and versions mix in a semver attribute's list.
        let versions = known?.type == .semver
        func kind(_ value: TargetingValue) -> String {
            if versions, case .string = value { return "semver" }
            return value.kindName
        }
        let first = kind(values[0])
        for (index, value) in values.enumerated() where kind(value) != first {
            error(literals[index].span, "list mixes \(first) and \(kind(value)) values", hint: "a list holds values of one type")
            valid = false
        }
        guard valid, let attribute = known else { return nil }
        let shown = TargetingText.name(name.text)

        switch attribute.type {
        case .bool:
            error(
                keyword, "'\(text(keyword)) [...]' does not apply to bool attribute '\(name.text)'",
                hint: "write \(shown) == true or \(shown) == false")
            return nil
        case .datetime:
            error(
                keyword, "'\(text(keyword)) [...]' does not apply to datetime attribute '\(name.text)'",
                hint: "compare it with a time: \(shown) >= \"2026-12-01T00:00:00Z\" && \(shown) < \"2026-12-02T00:00:00Z\"")
            return nil
        case .ip:
            error(
                keyword, "'\(text(keyword)) [...]' does not apply to ip attribute '\(name.text)'",
                hint: "list CIDR blocks or addresses: \(shown) \(text(keyword)) cidr(\"192.0.2.0/24\", \"2001:db8::1\")")
            return nil
        case .stringList:
            error(
                keyword, "'\(text(keyword)) [...]' does not apply to list attribute '\(name.text)'",
                hint: "test one value at a time: \(shown) contains \"a\" || \(shown) contains \"b\"")
            return nil
        case .string, .number, .semver:
            break
        }
        guard first == attribute.type.name else {
            error(
                span, "cannot compare \(attribute.type.name) attribute '\(name.text)' with a list of \(first) values",
                hint: "compare it with \(attribute.type.name) values, e.g. \(example(name.text, attribute.type))")
            return nil
        }
        var checked: [TargetingValue] = []
        var seen = Set<ValueKey>()
        for (index, value) in values.enumerated() {
            let span = literals[index].span
            var item = value
            switch value {
            case .string(let text) where attribute.type == .semver:
                guard let version = version(text, span) else {
                    valid = false
                    continue
                }
                item = .semver(version)
            case .string(let text):
                if !allowed(text, attribute, name, span) {
                    valid = false
                    continue
                }
            default:
                break
            }
            if !seen.insert(ValueKey(item)).inserted {
                error(span, "\(text(span)) appears twice in the list", hint: "remove the repeated value")
                valid = false
                continue
            }
            checked.append(item)
        }
        return valid ? .membership(attribute: name.text, checked) : nil
    }

    /// Equal for list values that match the same requests: strings by bytes, numbers by value,
    /// versions by precedence (`"5.2"` and `"5.2.0+build"` are the same).
    private enum ValueKey: Hashable {
        case string([UInt8])
        case number(Double)
        case bool(Bool)
        case semver(UInt64, UInt64, UInt64, [UInt8])
        case time(Int64)

        init(_ value: TargetingValue) {
            switch value {
            case .string(let text): self = .string(Array(text.utf8))
            case .number(let number): self = .number(number)
            case .bool(let flag): self = .bool(flag)
            case .semver(let v): self = .semver(v.major, v.minor, v.patch, Array(v.prerelease.utf8))
            case .time(let seconds): self = .time(seconds)
            }
        }
    }

    // MARK: Segments

    private mutating func checkSegment(unit: Name?, _ segment: Name) -> TargetingExpression? {
        var valid = true
        let declared = environment.segments[segment.text]
        if declared == nil {
            error(
                segment.span, "unknown segment '\(segment.text)'",
                hint: TargetingText.suggestion(for: segment.text, among: environment.segments.keys, kind: "segment"))
            valid = false
        }
        if let unit {
            if !environment.unitTypes.contains(unit.text) {
                let example = environment.unitTypes.sorted().first ?? "user_id"
                if environment.attributes[unit.text] != nil {
                    error(
                        unit.span, "'\(unit.text)' is an attribute, not a unit type",
                        hint:
                            "segment membership is decided by unit id: write \(TargetingText.name(example)) in segment(\(TargetingText.quoted(segment.text))) or in segment(\(TargetingText.quoted(segment.text)))"
                    )
                } else {
                    error(
                        unit.span, "unknown unit type '\(unit.text)'",
                        hint: TargetingText.suggestion(for: unit.text, among: environment.unitTypes, kind: "unit type"))
                }
                valid = false
            } else if let expected = declared?.unitType, expected != unit.text {
                error(
                    unit.span, "segment '\(segment.text)' holds \(expected) units, not \(unit.text)",
                    hint:
                        "write \(TargetingText.name(expected)) in segment(\(TargetingText.quoted(segment.text))), or in segment(\(TargetingText.quoted(segment.text)))"
                )
                valid = false
            }
        }
        return valid ? .segment(name: segment.text, unitType: unit?.text) : nil
    }

    // MARK: Values

    /// A literal's value; nil after reporting an invalid `semver(...)`.
    private mutating func value(_ literal: Literal) -> TargetingValue? {
        switch literal.value {
        case .string(let text): return .string(text)
        case .number(let number): return .number(number)
        case .bool(let flag): return .bool(flag)
        case .semver(let text, let span): return version(text, span).map { .semver($0) }
        }
    }

    private mutating func version(_ text: String, _ span: TargetingSpan) -> Semver? {
        guard let version = Semver(text) else {
            let isRange = text.hasPrefix("^") || text.hasPrefix("~")
            error(
                span, "\(TargetingText.quoted(text)) is not a semantic version",
                hint: isRange
                    ? "a range is tested with 'in', e.g. app_version in semver(\(TargetingText.quoted(text)))"
                    : "write versions like \"5.2.0\", \"5.2\" or \"5.2.0-beta.1\"")
            return nil
        }
        return version
    }

    /// Whether `text` is among the attribute's allowed values (reporting it when not).
    private mutating func allowed(_ text: String, _ attribute: TargetingEnvironment.Attribute, _ name: Name, _ span: TargetingSpan) -> Bool
    {
        guard let values = attribute.allowedValues, attribute.type == .string || attribute.type == .stringList,
            !values.contains(where: { $0.utf8.elementsEqual(text.utf8) })
        else {
            return true
        }
        let hint: String
        if let match = closestMatch(to: text, in: values) {
            hint = "did you mean \(TargetingText.quoted(match))?"
        } else {
            let shown = values.prefix(10).map(TargetingText.quoted).joined(separator: ", ")
            hint = "allowed values: \(shown)" + (values.count > 10 ? ", ..." : "")
        }
        error(span, "\(TargetingText.quoted(text)) is not an allowed value of '\(name.text)'", hint: hint)
        return false
    }
}
