import AllotCore

/// Recursive-descent parser for targeting expressions (grammar in `docs/targeting.md`).
///
/// On a syntax error it reports, skips to the next `&&`, `||` or `)` at the same level of
/// parentheses and carries on, so one run finds the independent mistakes of an expression.
/// Recursion is bounded: more than `TargetingLimits.maxDepth` nested `(` or `!` stop the parse.
struct TargetingParser {
    private let tokens: [TargetingToken]
    private let scalars: [Unicode.Scalar]
    private var position = 0
    /// `(` and `!` around the current point.
    private var nesting = 0
    /// Set when nesting went past the limit; everything after is skipped.
    private var aborted = false
    private var diagnostics: TargetingDiagnostics

    /// Parses `source`, appending lexical and syntax errors to `diagnostics`.
    static func parse(_ source: String, diagnostics: inout TargetingDiagnostics) -> TargetingSyntax {
        let (tokens, lexicalErrors) = TargetingLexer.tokenize(source)
        for error in lexicalErrors {
            diagnostics.error(error.span, error.message, hint: error.hint)
        }
        var parser = TargetingParser(tokens: tokens, scalars: Array(source.unicodeScalars), diagnostics: diagnostics)
        let syntax = parser.parseExpression()
        diagnostics = parser.diagnostics
        return syntax
    }

    private init(tokens: [TargetingToken], scalars: [Unicode.Scalar], diagnostics: TargetingDiagnostics) {
        self.tokens = tokens
        self.scalars = scalars
        self.diagnostics = diagnostics
    }

    // MARK: Tokens

    private var peek: TargetingToken { aborted ? tokens[tokens.count - 1] : tokens[position] }

    private func peek(_ ahead: Int) -> TargetingToken {
        tokens[max(0, min(position + ahead, tokens.count - 1))]
    }

    @discardableResult
    private mutating func advance() -> TargetingToken {
        let token = tokens[position]
        if token.kind != .end { position += 1 }
        return token
    }

    private func text(_ span: TargetingSpan) -> String {
        String(String.UnicodeScalarView(scalars[span.offset..<min(span.end, scalars.count)]))
    }

    /// How a token is named in messages.
    private func describe(_ token: TargetingToken) -> String {
        token.kind == .end ? "the end of the expression" : "'\(text(token.span))'"
    }

    /// The span an error at `token` is reported at (the end of input is one column wide).
    private func errorSpan(_ token: TargetingToken) -> TargetingSpan {
        TargetingSpan(offset: token.span.offset, length: max(1, token.span.length))
    }

    private mutating func error(_ span: TargetingSpan, _ message: String, hint: String? = nil) {
        diagnostics.error(span, message, hint: hint)
    }

    private func invalid(_ span: TargetingSpan) -> TargetingSyntax {
        TargetingSyntax(kind: .invalid, span: span, depth: 1)
    }

    /// Skips to the next `&&` or `||` at the current level of parentheses, or the `)` that closes
    /// it, or the end. A `]` at this level (the list the error was in) is skipped.
    private mutating func synchronize() {
        var level = 0
        while true {
            switch peek.kind {
            case .end:
                return
            case .and, .or:
                if level == 0 { return }
            case .rightParen:
                if level == 0 { return }
                level -= 1
            case .rightBracket:
                if level > 0 { level -= 1 }
            case .leftParen, .leftBracket:
                level += 1
            case .identifier(let word) where level == 0 && wordOperator(word) != nil:
                return
            default:
                break
            }
            advance()
        }
    }

    /// `and`/`or` written as words, which the parser reads as `&&`/`||` after reporting them.
    private func wordOperator(_ word: String) -> TargetingTokenKind? {
        switch word.lowercased() {
        case "and": return .and
        case "or": return .or
        default: return nil
        }
    }

    // MARK: Depth

    private mutating func enter(_ token: TargetingToken) -> Bool {
        nesting += 1
        guard nesting <= TargetingLimits.maxDepth else {
            reportDepth(at: token.span)
            aborted = true
            return false
        }
        return true
    }

    private mutating func reportDepth(at span: TargetingSpan) {
        error(
            span, "expression nests deeper than \(TargetingLimits.maxDepth) levels",
            hint: "remove redundant parentheses, or move part of the condition into a segment")
    }

    /// Builds a node and reports it if it is the first to cross the depth limit.
    private mutating func node(_ kind: TargetingSyntax.Kind, _ span: TargetingSpan, depth: Int, operator: TargetingSpan) -> TargetingSyntax
    {
        if depth == TargetingLimits.maxDepth + 1 { reportDepth(at: `operator`) }
        return TargetingSyntax(kind: kind, span: span, depth: depth)
    }

    // MARK: Conditions

    private mutating func parseExpression() -> TargetingSyntax {
        if peek.kind == .end {
            error(
                TargetingSpan(offset: 0, length: max(1, scalars.count)), "empty targeting expression",
                hint: "write a condition such as country == \"US\", or remove the targeting to include every unit")
            return invalid(TargetingSpan(offset: 0, length: 0))
        }
        let expression = parseOr()
        if !aborted, peek.kind != .end {
            unexpectedAfterCondition(closing: nil)
        }
        return expression
    }

    private mutating func parseOr() -> TargetingSyntax {
        parseChain(.or) { $0.parseAnd() }
    }

    private mutating func parseAnd() -> TargetingSyntax {
        parseChain(.and) { $0.parseUnary() }
    }

    private mutating func parseChain(
        _ kind: TargetingTokenKind, operand: (inout TargetingParser) -> TargetingSyntax
    ) -> TargetingSyntax {
        var operands = [operand(&self)]
        var firstOperator: TargetingSpan?
        while !aborted {
            let token = peek
            if token.kind == kind {
                advance()
            } else if case .identifier(let word) = token.kind, wordOperator(word) == kind {
                let symbol = kind == .and ? "&&" : "||"
                error(token.span, "'\(word)' is not an operator", hint: "write '\(symbol)' for '\(word.lowercased())'")
                advance()
            } else {
                break
            }
            firstOperator = firstOperator ?? token.span
            operands.append(operand(&self))
        }
        guard !aborted else { return invalid(operands[0].span) }
        guard operands.count > 1, let firstOperator else { return operands[0] }
        let span = operands[0].span.through(operands[operands.count - 1].span)
        let depth = 1 + operands.map(\.depth).max()!
        return node(kind == .and ? .and(operands) : .or(operands), span, depth: depth, operator: firstOperator)
    }

    private mutating func parseUnary() -> TargetingSyntax {
        let token = peek
        switch token.kind {
        case .bang:
            advance()
            return parseNegation(of: token)
        case .not where peek(1).kind != .in:
            advance()
            error(token.span, "'not' only appears in 'not in'", hint: "write '!' to negate a condition")
            return parseNegation(of: token)
        default:
            return parsePrimary()
        }
    }

    private mutating func parseNegation(of bang: TargetingToken) -> TargetingSyntax {
        guard enter(bang) else { return invalid(bang.span) }
        let operand = parseUnary()
        nesting -= 1
        if aborted { return invalid(bang.span) }
        switch operand.kind {
        case .comparison, .membership, .segment, .matches:
            error(
                bang.span, "'!' applies to a single operand; put the comparison in parentheses",
                hint: "write !(\(text(operand.span)))")
        default:
            break
        }
        return node(.not(operand), bang.span.through(operand.span), depth: operand.depth + 1, operator: bang.span)
    }

    private mutating func parsePrimary() -> TargetingSyntax {
        let token = peek
        switch token.kind {
        case .leftParen:
            advance()
            return parseGroup(open: token)
        case .bool(let value):
            advance()
            if startsComparison(peek) {
                return parseComparison(left: .literal(.init(value: .bool(value), span: token.span)))
            }
            return TargetingSyntax(kind: .constant(value), span: token.span, depth: 1)
        case .identifier(let name):
            advance()
            return parseAfterName(TargetingSyntax.Name(text: name, span: token.span))
        case .string(let value):
            advance()
            return parseAfterValue(.init(value: .string(value), span: token.span))
        case .number(let value):
            advance()
            return parseAfterValue(.init(value: .number(value), span: token.span))
        case .semver:
            guard let literal = parseSemverLiteral() else { return invalid(token.span) }
            return parseAfterValue(literal)
        case .has:
            return parseHas()
        case .in, .not:
            return parseStandaloneSegment()
        case .segment:
            error(
                token.span, "segment(...) is used with 'in'",
                hint: "write in segment(\"name\") for the unit's membership, or user_id in segment(\"name\")")
            synchronize()
            return invalid(token.span)
        case .leftBracket:
            _ = parseList()
            error(token.span, "a list alone is not a condition", hint: "write attribute in [...], e.g. country in [\"US\", \"CA\"]")
            synchronize()
            return invalid(token.span)
        default:
            error(errorSpan(token), "expected a condition, found \(describe(token))", hint: hintForMissingCondition(token))
            if token.kind != .and, token.kind != .or { synchronize() }
            return invalid(errorSpan(token))
        }
    }

    private func hintForMissingCondition(_ token: TargetingToken) -> String? {
        switch token.kind {
        case .comparison: return "a comparison needs an attribute on its left, e.g. country == \"US\""
        case .rightParen: return "parentheses must contain a condition"
        case .end, .and, .or: return "write a condition such as has(country) or country == \"US\""
        default: return nil
        }
    }

    private mutating func parseGroup(open: TargetingToken) -> TargetingSyntax {
        guard enter(open) else { return invalid(open.span) }
        let inner = parseOr()
        nesting -= 1
        if aborted { return invalid(open.span) }
        if peek.kind == .rightParen {
            let close = advance()
            return node(.group(inner), open.span.through(close.span), depth: inner.depth + 1, operator: open.span)
        }
        unexpectedAfterCondition(closing: open)
        if peek.kind == .rightParen { advance() }
        return TargetingSyntax(kind: .group(inner), span: open.span.through(inner.span), depth: inner.depth + 1)
    }

    /// Reports what follows a complete condition where `&&`, `||`, `)` (inside parentheses) or the
    /// end was expected, then synchronizes.
    private mutating func unexpectedAfterCondition(closing open: TargetingToken?) {
        let token = peek
        let span = errorSpan(token)
        switch token.kind {
        case .end:
            error(
                span, "expected ')' at the end of the expression",
                hint: "add ')' to close the '(' at \(diagnostics.position(open!.span.offset))")
        case .rightParen:
            error(span, "unexpected ')'", hint: "no '(' is open here; remove it or add a matching '('")
        case .comparison, .in:
            error(
                span, "unexpected \(describe(token)) after a complete comparison",
                hint: "comparisons do not chain; join them with '&&' or '||'")
        default:
            let expected = open == nil ? "'&&' or '||'" : "'&&', '||' or ')'"
            let hint =
                open.map { "add ')' to close the '(' at \(diagnostics.position($0.span.offset)), or join conditions with '&&' or '||'" }
                ?? "join conditions with '&&' or '||'"
            error(span, "expected \(expected), found \(describe(token))", hint: hint)
        }
        advance()
        synchronize()
    }

    // MARK: Predicates

    private func startsComparison(_ token: TargetingToken) -> Bool {
        switch token.kind {
        case .comparison, .in, .not: return true
        default: return false
        }
    }

    /// Whether a token can only start a value (so an operator is missing before it).
    private func startsValue(_ token: TargetingToken) -> Bool {
        switch token.kind {
        case .string, .number, .bool, .semver, .leftBracket, .has, .segment: return true
        case .identifier(let word): return wordOperator(word) == nil
        default: return false
        }
    }

    private mutating func parseAfterName(_ name: TargetingSyntax.Name) -> TargetingSyntax {
        let next = peek
        if next.kind == .leftParen, name.text == "lower" {
            return parseLowered(name)
        }
        if next.kind == .leftParen, name.text == "now" {
            return parseNow(name)
        }
        if next.kind == .leftParen {
            let functions = ["has", "lower", "now", "segment", "semver"]
            error(
                name.span, "unknown function '\(name.text)'",
                hint: closestMatch(to: name.text, in: functions).map { "did you mean '\($0)'?" }
                    ?? "the functions are has(attribute), lower(attribute), now(), semver(\"version\") and segment(\"name\")")
            synchronize()
            return invalid(name.span)
        }
        if startsComparison(next) {
            return parseComparison(left: .name(name))
        }
        if case .identifier("matches") = next.kind {
            advance()
            let token = peek
            guard case .string(let pattern) = token.kind else {
                error(
                    errorSpan(token), "expected a pattern in double quotes after 'matches', found \(describe(token))",
                    hint: "write \(TargetingText.name(name.text)) matches \"^Mozilla/5\\\\.0\"")
                synchronize()
                return invalid(name.span.through(next.span))
            }
            advance()
            return TargetingSyntax(
                kind: .matches(name, pattern: .init(text: pattern, span: token.span)), span: name.span.through(token.span), depth: 1)
        }
        if startsValue(next) {
            var hint = "compare with ==, !=, <, <=, >, >=, in, startsWith, endsWith or contains"
            if case .identifier(let word) = next.kind,
                let match = closestMatch(to: word, in: ["startsWith", "endsWith", "contains", "in", "not"])
            {
                hint = "did you mean '\(match)'?"
            }
            error(errorSpan(next), "expected an operator after '\(name.text)', found \(describe(next))", hint: hint)
            synchronize()
            return invalid(name.span.through(next.span))
        }
        return TargetingSyntax(kind: .name(name), span: name.span, depth: 1)
    }

    /// `lower(name) <op> ...` or `lower(name) [not] in [...]`. `lower` is not a keyword: an
    /// attribute may be named `lower`, and only `lower` followed by `(` is the function.
    private mutating func parseLowered(_ keyword: TargetingSyntax.Name) -> TargetingSyntax {
        advance()  // (
        let token = peek
        let name: TargetingSyntax.Name
        switch token.kind {
        case .identifier(let text):
            advance()
            name = .init(text: text, span: token.span)
        case .string(let text):
            advance()
            error(token.span, "lower(...) takes an attribute name without quotes", hint: "write lower(\(TargetingText.name(text)))")
            name = .init(text: text, span: token.span)
        default:
            error(
                errorSpan(token), "expected an attribute name in lower(...), found \(describe(token))",
                hint: "write lower(attribute), e.g. lower(email) endsWith \"@example.com\"")
            synchronize()
            return invalid(keyword.span)
        }
        guard peek.kind == .rightParen else {
            error(
                errorSpan(peek), "expected ')' after the attribute name in lower(...), found \(describe(peek))",
                hint: "lower(...) takes one attribute")
            synchronize()
            return invalid(keyword.span)
        }
        let call = keyword.span.through(advance().span)
        if startsComparison(peek) {
            return parseComparison(left: .lowered(name, call))
        }
        error(
            call, "lower(...) alone is not a condition",
            hint: "compare it with a lowercase string, e.g. lower(\(TargetingText.name(name.text))) == \"...\"")
        synchronize()
        return invalid(call)
    }

    /// `now() <op> "time"`. `now` is not a keyword: only `now` followed by `(` is the function.
    private mutating func parseNow(_ keyword: TargetingSyntax.Name) -> TargetingSyntax {
        advance()  // (
        guard peek.kind == .rightParen else {
            error(errorSpan(peek), "now() takes no arguments, found \(describe(peek))", hint: "write now() >= \"2026-12-01T09:00:00Z\"")
            synchronize()
            return invalid(keyword.span)
        }
        let call = keyword.span.through(advance().span)
        if startsComparison(peek) {
            return parseComparison(left: .now(call))
        }
        error(call, "now() alone is not a condition", hint: "compare it with a time, e.g. now() >= \"2026-12-01T09:00:00Z\"")
        synchronize()
        return invalid(call)
    }

    private mutating func parseAfterValue(_ literal: TargetingSyntax.Literal) -> TargetingSyntax {
        if startsComparison(peek) {
            return parseComparison(left: .literal(literal))
        }
        error(literal.span, "a value alone is not a condition", hint: "compare an attribute with it, e.g. country == \(text(literal.span))")
        synchronize()
        return invalid(literal.span)
    }

    /// `left <op> value`, `left [not] in collection`.
    private mutating func parseComparison(left: TargetingSyntax.Operand) -> TargetingSyntax {
        let token = advance()
        switch token.kind {
        case .comparison(let op):
            guard let right = parseValue(after: token) else { return invalid(left.span.through(token.span)) }
            return TargetingSyntax(
                kind: .comparison(left, .init(op: op, span: token.span, right: right)), span: left.span.through(right.span), depth: 1)
        case .not:
            guard peek.kind == .in else {
                error(errorSpan(peek), "expected 'in' after 'not', found \(describe(peek))", hint: "write x not in [...], or !(condition)")
                synchronize()
                return invalid(left.span.through(token.span))
            }
            let keyword = advance()
            return parseMembership(left: left, negated: true, keyword: token.span.through(keyword.span))
        default:  // .in
            return parseMembership(left: left, negated: false, keyword: token.span)
        }
    }

    private mutating func parseMembership(left: TargetingSyntax.Operand, negated: Bool, keyword: TargetingSpan) -> TargetingSyntax {
        let token = peek
        switch token.kind {
        case .segment:
            guard let segment = parseSegmentReference() else { return invalid(left.span.through(keyword)) }
            let span = left.span.through(peek(-1).span)
            guard case .name(let unit) = left else {
                error(
                    left.span, "the left of 'in segment(...)' must be a unit type",
                    hint: "write user_id in segment(\"\(segment.text)\"), or in segment(\"\(segment.text)\") for the layer's unit")
                return invalid(span)
            }
            return TargetingSyntax(kind: .segment(unit: unit, negated: negated, segment: segment), span: span, depth: 1)
        case .leftBracket:
            guard let list = parseList() else { return invalid(left.span.through(keyword)) }
            return TargetingSyntax(
                kind: .membership(element: left, negated: negated, keyword: keyword, collection: list), span: left.span.through(list.span),
                depth: 1)
        case .semver:
            // `version in semver("^1.2")`: a range, checked by the type checker.
            guard let range = parseSemverLiteral() else { return invalid(left.span.through(keyword)) }
            return TargetingSyntax(
                kind: .membership(element: left, negated: negated, keyword: keyword, collection: .literal(range)),
                span: left.span.through(range.span), depth: 1)
        case .identifier("cidr") where peek(1).kind == .leftParen:
            guard let blocks = parseCIDR() else { return invalid(left.span.through(keyword)) }
            return TargetingSyntax(
                kind: .membership(element: left, negated: negated, keyword: keyword, collection: blocks),
                span: left.span.through(blocks.span), depth: 1)
        case .identifier(let name):
            advance()
            let collection = TargetingSyntax.Operand.name(.init(text: name, span: token.span))
            return TargetingSyntax(
                kind: .membership(element: left, negated: negated, keyword: keyword, collection: collection),
                span: left.span.through(token.span), depth: 1)
        default:
            error(
                errorSpan(token),
                "expected a list, a list attribute, a semver(\"range\") or segment(\"name\") after '\(text(keyword))', found \(describe(token))",
                hint: "write country in [\"US\", \"CA\"], \"beta\" in tags, app_version in semver(\"^5.2\") or in segment(\"staff\")")
            synchronize()
            return invalid(left.span.through(keyword))
        }
    }

    /// The right side of `==` and friends.
    private mutating func parseValue(after op: TargetingToken) -> TargetingSyntax.Operand? {
        let token = peek
        switch token.kind {
        case .identifier(let name) where wordOperator(name) == nil:
            advance()
            return .name(.init(text: name, span: token.span))
        case .string(let value):
            advance()
            return .literal(.init(value: .string(value), span: token.span))
        case .number(let value):
            advance()
            return .literal(.init(value: .number(value), span: token.span))
        case .bool(let value):
            advance()
            return .literal(.init(value: .bool(value), span: token.span))
        case .semver:
            return parseSemverLiteral().map { .literal($0) }
        case .leftBracket:
            return parseList()
        default:
            error(
                errorSpan(token), "expected a value after '\(text(op.span))', found \(describe(token))",
                hint: "write a value such as \"US\", 5, true or semver(\"5.2.0\")")
            synchronize()
            return nil
        }
    }

    /// `[v, v, ...]`; names inside are reported and read as strings.
    private mutating func parseList() -> TargetingSyntax.Operand? {
        let open = advance()
        var values: [TargetingSyntax.Literal] = []
        if peek.kind == .rightBracket {
            return .list([], open.span.through(advance().span))
        }
        while true {
            let token = peek
            switch token.kind {
            case .string(let value):
                advance()
                values.append(.init(value: .string(value), span: token.span))
            case .number(let value):
                advance()
                values.append(.init(value: .number(value), span: token.span))
            case .bool(let value):
                advance()
                values.append(.init(value: .bool(value), span: token.span))
            case .semver:
                guard let literal = parseSemverLiteral() else { return nil }
                values.append(literal)
            case .identifier(let name):
                advance()
                error(token.span, "expected a value in the list, found the name '\(name)'", hint: "quote text values: \"\(name)\"")
                values.append(.init(value: .string(name), span: token.span))
            default:
                let previous = peek(-1)
                if previous.kind == .comma, token.kind == .rightBracket {
                    error(previous.span, "trailing ',' in the list", hint: "remove the ',' before ']'")
                    return .list(values, open.span.through(advance().span))
                }
                error(
                    errorSpan(token), "expected a value in the list, found \(describe(token))",
                    hint: "list values are literals such as \"US\", 5 or semver(\"5.2.0\")")
                synchronize()
                return nil
            }
            switch peek.kind {
            case .comma:
                advance()
            case .rightBracket:
                return .list(values, open.span.through(advance().span))
            default:
                let token = peek
                let hint =
                    token.kind == .end
                    ? "close the list that starts at \(diagnostics.position(open.span.offset)) with ']'" : "separate list values with ','"
                error(errorSpan(token), "expected ',' or ']' in the list, found \(describe(token))", hint: hint)
                synchronize()
                return nil
            }
        }
    }

    /// `cidr("block", ...)`: one or more strings, checked by the type checker. `cidr` is not a
    /// keyword; only `cidr` followed by `(` after `in` is the function.
    private mutating func parseCIDR() -> TargetingSyntax.Operand? {
        let keyword = advance()
        advance()  // (
        var blocks: [TargetingSyntax.Name] = []
        while true {
            let token = peek
            guard case .string(let text) = token.kind else {
                let hint =
                    token.kind == .rightParen && blocks.isEmpty
                    ? "list at least one block, e.g. cidr(\"10.0.0.0/8\")"
                    : "write each block in double quotes, e.g. cidr(\"10.0.0.0/8\", \"2001:db8::/32\")"
                error(errorSpan(token), "expected a CIDR block in double quotes, found \(describe(token))", hint: hint)
                synchronize()
                return nil
            }
            advance()
            blocks.append(.init(text: text, span: token.span))
            switch peek.kind {
            case .comma:
                advance()
            case .rightParen:
                return .cidr(blocks, keyword.span.through(advance().span))
            default:
                error(
                    errorSpan(peek), "expected ',' or ')' in cidr(...), found \(describe(peek))",
                    hint: "separate blocks with ',' and close with ')'")
                synchronize()
                return nil
            }
        }
    }

    /// `semver("text")`.
    private mutating func parseSemverLiteral() -> TargetingSyntax.Literal? {
        let keyword = advance()
        guard let argument = parseStringArgument(of: keyword, what: "a version", example: "semver(\"5.2.0\")", acceptName: false)
        else { return nil }
        return .init(value: .semver(argument.text, argument.span), span: keyword.span.through(peek(-1).span))
    }

    /// `has(name)`.
    private mutating func parseHas() -> TargetingSyntax {
        let keyword = advance()
        guard peek.kind == .leftParen else {
            error(errorSpan(peek), "expected '(' after 'has'", hint: "write has(attribute)")
            synchronize()
            return invalid(keyword.span)
        }
        advance()
        let token = peek
        let name: TargetingSyntax.Name
        switch token.kind {
        case .identifier(let text):
            advance()
            name = .init(text: text, span: token.span)
        case .string(let text):
            advance()
            error(token.span, "has(...) takes an attribute name without quotes", hint: "write has(\(TargetingText.name(text)))")
            name = .init(text: text, span: token.span)
        default:
            error(errorSpan(token), "expected an attribute name in has(...), found \(describe(token))", hint: "write has(attribute)")
            synchronize()
            return invalid(keyword.span)
        }
        guard peek.kind == .rightParen else {
            error(
                errorSpan(peek), "expected ')' after the attribute name in has(...), found \(describe(peek))",
                hint: "has(...) takes one attribute")
            synchronize()
            return invalid(keyword.span)
        }
        let close = advance()
        return TargetingSyntax(kind: .has(name), span: keyword.span.through(close.span), depth: 1)
    }

    /// `in segment("name")` or `not in segment("name")` with no unit on the left.
    private mutating func parseStandaloneSegment() -> TargetingSyntax {
        let first = advance()
        var negated = false
        if first.kind == .not {
            negated = true
            advance()  // `in`, checked by the caller
        }
        let keyword = first.span.through(peek(-1).span)
        guard peek.kind == .segment else {
            error(
                errorSpan(first), "'\(text(keyword))' needs a value on its left",
                hint: "write country \(text(keyword)) [...], \"beta\" \(text(keyword)) tags, or \(text(keyword)) segment(\"name\")")
            synchronize()
            return invalid(keyword)
        }
        guard let segment = parseSegmentReference() else { return invalid(keyword) }
        return TargetingSyntax(
            kind: .segment(unit: nil, negated: negated, segment: segment), span: keyword.through(peek(-1).span), depth: 1)
    }

    /// `segment("name")`: the name and its span.
    private mutating func parseSegmentReference() -> TargetingSyntax.Name? {
        let keyword = advance()
        return parseStringArgument(of: keyword, what: "the segment's name", example: "segment(\"beta-testers\")", acceptName: true)
    }

    /// `( "text" )` after `keyword`. A bare name is reported and accepted when `acceptName`.
    private mutating func parseStringArgument(of keyword: TargetingToken, what: String, example: String, acceptName: Bool)
        -> TargetingSyntax.Name?
    {
        let name = text(keyword.span)
        guard peek.kind == .leftParen else {
            error(errorSpan(peek), "expected '(' after '\(name)'", hint: "write \(example)")
            synchronize()
            return nil
        }
        advance()
        let token = peek
        let argument: TargetingSyntax.Name
        switch token.kind {
        case .string(let value):
            advance()
            argument = .init(text: value, span: token.span)
        case .identifier(let value) where acceptName:
            advance()
            error(token.span, "\(name)(...) takes \(what) in double quotes", hint: "write \(name)(\"\(value)\")")
            argument = .init(text: value, span: token.span)
        default:
            let shown = token.kind == .end ? "" : text(token.span)
            error(
                errorSpan(token), "\(name)(...) takes \(what) in double quotes, found \(describe(token))",
                hint: shown.isEmpty ? "write \(example)" : "write \(name)(\"\(shown)\")")
            synchronize()
            return nil
        }
        guard peek.kind == .rightParen else {
            error(errorSpan(peek), "expected ')' after \(what), found \(describe(peek))", hint: "write \(example)")
            synchronize()
            return nil
        }
        advance()
        return argument
    }
}
