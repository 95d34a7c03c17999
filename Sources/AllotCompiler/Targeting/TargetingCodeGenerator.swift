import AllotCore

/// Turns a checked `TargetingExpression` into the bytecode `TargetingOpcode` describes.
///
/// `&&` and `||` chains become short circuits: after each operand but the last, a `jumpIfFalse`
/// (for `&&`) or `jumpIfTrue` (for `||`) to the end of the chain. A final pass threads jumps that
/// land on other jumps (a jump taken on false that lands on another `jumpIfFalse` goes straight
/// to its target; on a `jumpIfTrue` it goes just past it), so a unit that fails an inner chain
/// skips every test that can no longer change the result. `x in [...]` on a semver attribute,
/// which has no instruction of its own, becomes a `||` chain of `==` comparisons.
///
/// The output depends only on the expression, the environment's indices and what `intern`
/// returns, called in a fixed order (left to right). The empty string is always `(0, 0)` and is
/// not interned.
struct TargetingCodeGenerator {
    private let environment: TargetingEnvironment
    private let intern: (String) -> (offset: UInt32, length: UInt32)
    private var code: [UInt8] = []
    /// Offsets of the jump instructions emitted.
    private var jumps: [Int] = []

    /// Something the environment cannot encode (an index outside its field).
    struct Failure: Error {
        var message: String
    }

    /// The bytecode of `expression`, which must have been checked against `environment`.
    static func generate(
        _ expression: TargetingExpression, environment: TargetingEnvironment, intern: (String) -> (offset: UInt32, length: UInt32)
    ) -> Result<[UInt8], Failure> {
        withoutActuallyEscaping(intern) { intern in
            var generator = TargetingCodeGenerator(environment: environment, intern: intern)
            do {
                try generator.emit(expression)
            } catch let failure as Failure {
                return .failure(failure)
            } catch {
                return .failure(Failure(message: "\(error)"))
            }
            generator.threadJumps()
            return .success(generator.code)
        }
    }

    /// The length of the bytecode `generate` produces for `expression`.
    static func size(of expression: TargetingExpression, environment: TargetingEnvironment) -> Int {
        let jump = TargetingOpcode.jumpIfFalse.length
        switch expression {
        case .constant: return TargetingOpcode.constant.length
        case .flag: return TargetingOpcode.boolEquals.length
        case .has: return TargetingOpcode.present.length
        case .comparison(let attribute, _, _):
            switch environment.attributes[attribute]?.type {
            case .bool: return TargetingOpcode.boolEquals.length
            case .semver: return TargetingOpcode.semverCompare.length
            case .datetime: return TargetingOpcode.timeCompare.length
            default: return TargetingOpcode.stringCompare.length
            }
        case .membership(let attribute, let values):
            if environment.attributes[attribute]?.type == .semver {
                return values.count * TargetingOpcode.semverCompare.length + (values.count - 1) * jump
            }
            return TargetingOpcode.stringIn.length + values.count * TargetingOpcode.listElementLength
        case .foldedComparison: return TargetingOpcode.stringCompare.length
        case .foldedMembership(_, let values): return TargetingOpcode.stringIn.length + values.count * TargetingOpcode.listElementLength
        case .now: return TargetingOpcode.nowCompare.length
        case .regex(_, let pattern):
            guard case .success(let automaton) = RegexAutomaton.compile(pattern) else { return 0 }
            return TargetingOpcode.regexMatch.length + automaton.encoded.count
        case .cidr(_, let networks): return TargetingOpcode.ipIn.length + networks.count * TargetingOpcode.ipIn.elementLength
        case .segment: return TargetingOpcode.inSegment.length
        case .not(let inner): return size(of: inner, environment: environment) + TargetingOpcode.not.length
        case .and(let operands), .or(let operands):
            return operands.reduce(0) { $0 + size(of: $1, environment: environment) } + (operands.count - 1) * jump
        }
    }

    private init(environment: TargetingEnvironment, intern: @escaping (String) -> (offset: UInt32, length: UInt32)) {
        self.environment = environment
        self.intern = intern
    }

    // MARK: Emission

    private mutating func emit(_ expression: TargetingExpression) throws {
        switch expression {
        case .constant(let value):
            code += [TargetingOpcode.constant.rawValue, value ? 1 : 0]
        case .flag(let attribute):
            try header(.boolEquals, 1, attribute)
        case .comparison(let attribute, let op, let value):
            try emitComparison(attribute, op, value)
        case .membership(let attribute, let values):
            try emitMembership(attribute, values)
        case .foldedComparison(let attribute, let op, let text):
            guard try attributeType(attribute) == .string else { throw Failure(message: "lower('\(attribute)') on a non-string attribute") }
            try header(.stringCompare, op.comparison.rawValue | TargetingComparison.asciiFolded, attribute)
            appendString(text)
        case .foldedMembership(let attribute, let values):
            guard try attributeType(attribute) == .string else { throw Failure(message: "lower('\(attribute)') on a non-string attribute") }
            try header(.stringIn, TargetingOpcode.foldedList, attribute)
            code.appendLE(UInt32(values.count))
            for value in values { appendString(value) }
        case .regex(let attribute, let pattern):
            guard try attributeType(attribute) == .string, case .success(let automaton) = RegexAutomaton.compile(pattern) else {
                throw Failure(message: "'\(attribute) matches \(pattern)' was not checked")
            }
            try header(.regexMatch, 0, attribute)
            code.appendLE(UInt16(automaton.stateCount))
            code.appendLE(UInt16(automaton.classCount))
            code += automaton.encoded
        case .now(let op, let seconds):
            code += [TargetingOpcode.nowCompare.rawValue, op.comparison.rawValue, 0, 0]
            code.appendLE(UInt64(bitPattern: seconds))
        case .cidr(let attribute, let networks):
            guard try attributeType(attribute) == .ip else {
                throw Failure(message: "cidr(...) on '\(attribute)', which is not an ip attribute")
            }
            try header(.ipIn, 0, attribute)
            code.appendLE(UInt32(networks.count))
            for network in networks {
                for word in [network.address.value, network.mask] {
                    code.appendLE(UInt64(truncatingIfNeeded: word >> 64))
                    code.appendLE(UInt64(truncatingIfNeeded: word))
                }
            }
        case .has(let attribute):
            try header(.present, 0, attribute)
        case .segment(let name, _):
            guard let segment = environment.segments[name], let index = UInt32(exactly: segment.index) else {
                throw Failure(message: "segment '\(name)' has no valid index in the environment")
            }
            code += [TargetingOpcode.inSegment.rawValue, 0, 0, 0]
            code.appendLE(index)
        case .not(let inner):
            try emit(inner)
            code.append(TargetingOpcode.not.rawValue)
        case .and(let operands):
            try emitChain(operands, jump: .jumpIfFalse)
        case .or(let operands):
            try emitChain(operands, jump: .jumpIfTrue)
        }
    }

    private mutating func emitChain(_ operands: [TargetingExpression], jump: TargetingOpcode) throws {
        var pending: [Int] = []
        for (index, operand) in operands.enumerated() {
            try emit(operand)
            if index < operands.count - 1 {
                jumps.append(code.count)
                pending.append(code.count + 4)
                code += [jump.rawValue, 0, 0, 0]
                code.appendLE(UInt32(0))
            }
        }
        for site in pending {
            store(UInt32(code.count), at: site)
        }
    }

    private mutating func emitComparison(_ attribute: String, _ op: TargetingOperator, _ value: TargetingValue) throws {
        let type = try attributeType(attribute)
        switch (type, value) {
        case (.string, .string(let text)):
            try header(.stringCompare, op.comparison.rawValue, attribute)
            appendString(text)
        case (.stringList, .string(let text)):
            try header(.listContains, 0, attribute)
            appendString(text)
        case (.number, .number(let number)):
            try header(.numberCompare, op.comparison.rawValue, attribute)
            code.appendLE(number.bitPattern)
        case (.bool, .bool(let flag)):
            try header(.boolEquals, (op == .equal) == flag ? 1 : 0, attribute)
        case (.datetime, .time(let seconds)):
            try header(.timeCompare, op.comparison.rawValue, attribute)
            code.appendLE(UInt64(bitPattern: seconds))
        case (.semver, .semver(let version)):
            try header(.semverCompare, op.comparison.rawValue, attribute)
            code.appendLE(version.major)
            code.appendLE(version.minor)
            code.appendLE(version.patch)
            appendString(version.prerelease)
        default:
            throw Failure(message: "'\(attribute)' (\(type.name)) compared with a \(value.kindName); the expression was not checked")
        }
    }

    private mutating func emitMembership(_ attribute: String, _ values: [TargetingValue]) throws {
        let type = try attributeType(attribute)
        switch type {
        case .string, .number:
            try header(type == .string ? .stringIn : .numberIn, 0, attribute)
            code.appendLE(UInt32(values.count))
            for value in values {
                switch value {
                case .string(let text) where type == .string: appendString(text)
                case .number(let number) where type == .number: code.appendLE(number.bitPattern)
                default: throw Failure(message: "'\(attribute)' (\(type.name)) has a \(value.kindName) in its list")
                }
            }
        case .semver:
            try emitChain(values.map { .comparison(attribute: attribute, .equal, $0) }, jump: .jumpIfTrue)
        case .bool, .stringList, .ip, .datetime:
            throw Failure(message: "'\(attribute)' (\(type.name)) cannot be tested with 'in [...]'")
        }
    }

    /// `[op][byte][attribute u16]`.
    private mutating func header(_ op: TargetingOpcode, _ byte: UInt8, _ attribute: String) throws {
        guard let declared = environment.attributes[attribute], let index = UInt16(exactly: declared.index) else {
            throw Failure(message: "attribute '\(attribute)' has no index that fits the bytecode's 16-bit field")
        }
        code += [op.rawValue, byte]
        code.appendLE(index)
    }

    private func attributeType(_ attribute: String) throws -> AttributeType {
        guard let declared = environment.attributes[attribute] else {
            throw Failure(message: "attribute '\(attribute)' is not in the environment")
        }
        return declared.type
    }

    private mutating func appendString(_ text: String) {
        let reference = text.isEmpty ? (offset: UInt32(0), length: UInt32(0)) : intern(text)
        code.appendLE(reference.offset)
        code.appendLE(reference.length)
    }

    private mutating func store(_ value: UInt32, at offset: Int) {
        for i in 0..<4 {
            code[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))
        }
    }

    private func load(at offset: Int) -> Int {
        (0..<4).reduce(0) { $0 | Int(code[offset + $1]) << (8 * $1) }
    }

    // MARK: Jump threading

    /// Retargets each jump that lands on another jump (see the type's documentation). Jumps do not
    /// change `R`, so the outcome is the same; targets only move forward, so this terminates.
    private mutating func threadJumps() {
        var kinds: [Int: UInt8] = [:]
        for site in jumps { kinds[site] = code[site] }
        for site in jumps {
            var target = load(at: site + 4)
            while let kind = kinds[target] {
                target = kind == code[site] ? load(at: target + 4) : target + 8
            }
            store(UInt32(target), at: site + 4)
        }
    }
}
