extension TargetingExpression {
    /// The canonical source text: single spaces around binary operators, `, ` between list values,
    /// parentheses only where precedence needs them (`||` binds looser than `&&`; `!` applies to
    /// a parenthesised comparison), `x not in [...]` for a negated membership, and names in
    /// backticks only when they are not plain identifiers.
    public var description: String {
        switch self {
        case .constant(let value):
            return value ? "true" : "false"
        case .flag(let attribute):
            return TargetingText.name(attribute)
        case .comparison(let attribute, let op, let value):
            return "\(TargetingText.name(attribute)) \(op.rawValue) \(value)"
        case .membership(let attribute, let values):
            return "\(TargetingText.name(attribute)) in \(printedList(values))"
        case .foldedComparison(let attribute, let op, let text):
            return "lower(\(TargetingText.name(attribute))) \(op.rawValue) \(TargetingText.quoted(text))"
        case .foldedMembership(let attribute, let values):
            return "lower(\(TargetingText.name(attribute))) in \(printedList(values.map { .string($0) }))"
        case .cidr(let attribute, let networks):
            return "\(TargetingText.name(attribute)) in \(printedBlocks(networks))"
        case .regex(let attribute, let pattern):
            return "\(TargetingText.name(attribute)) matches \(TargetingText.quoted(pattern))"
        case .now(let op, let seconds):
            return "now() \(op.rawValue) \(TargetingValue.time(seconds))"
        case .has(let attribute):
            return "has(\(TargetingText.name(attribute)))"
        case .segment(let name, let unitType):
            return (unitType.map { TargetingText.name($0) + " " } ?? "") + "in segment(\(TargetingText.quoted(name)))"
        case .not(.membership(let attribute, let values)):
            return "\(TargetingText.name(attribute)) not in \(printedList(values))"
        case .not(.foldedMembership(let attribute, let values)):
            return "lower(\(TargetingText.name(attribute))) not in \(printedList(values.map { .string($0) }))"
        case .not(.cidr(let attribute, let networks)):
            return "\(TargetingText.name(attribute)) not in \(printedBlocks(networks))"
        case .not(.segment(let name, let unitType)):
            return (unitType.map { TargetingText.name($0) + " " } ?? "") + "not in segment(\(TargetingText.quoted(name)))"
        case .not(let inner):
            return inner.printsAsUnary ? "!" + inner.description : "!(\(inner.description))"
        case .and(let operands):
            return operands.map { operand in
                switch operand {
                case .and, .or: return "(\(operand.description))"
                default: return operand.description
                }
            }.joined(separator: " && ")
        case .or(let operands):
            return operands.map { operand in
                if case .or = operand { return "(\(operand.description))" }
                return operand.description
            }.joined(separator: " || ")
        }
    }

    /// Whether the printed form is a single operand that `!` can precede without parentheses.
    private var printsAsUnary: Bool {
        switch self {
        case .constant, .flag, .has: return true
        case .not(.membership), .not(.foldedMembership), .not(.cidr), .not(.segment): return false
        case .not: return true
        default: return false
        }
    }
}

private func printedBlocks(_ networks: [IPNetwork]) -> String {
    "cidr(" + networks.map { TargetingText.quoted($0.description) }.joined(separator: ", ") + ")"
}

private func printedList(_ values: [TargetingValue]) -> String {
    "[" + values.map(\.description).joined(separator: ", ") + "]"
}
