/// The bytecode targeting expressions compile to, shared by the compiler's code generator, the
/// payload validator and the evaluator. `docs/bundle-format.md` describes it normatively.
///
/// A program runs over one boolean register `R`, initially false, from its first byte to its end.
/// Predicates set `R`; `not` negates it; conditional jumps implement `&&` and `||` with short
/// circuits. Jumps only go forward, so every program terminates after at most one pass. A
/// predicate on an attribute the request does not carry is false.
public enum TargetingOpcode: UInt8, Sendable {
    /// `[op][cmp u8][attr u16][const StrRef]` (12): compare a string attribute with a constant.
    /// `cmp` may carry ``TargetingComparison/asciiFolded`` (`lower(x)`).
    case stringCompare = 0x01
    /// `[op][fold u8][attr u16][count u32][count × StrRef]`: string attribute is one of the
    /// constants; `fold` is 0, or ``foldedList`` to fold the value's ASCII capitals first.
    case stringIn = 0x02
    /// `[op][cmp u8][attr u16][f64]` (12): compare a number attribute with a constant (IEEE
    /// doubles; a NaN attribute value makes every comparison, `!=` included, false).
    case numberCompare = 0x03
    /// `[op][0][attr u16][count u32][count × f64]`: number attribute is one of the constants.
    case numberIn = 0x04
    /// `[op][value u8][attr u16]` (4): bool attribute equals the value.
    case boolEquals = 0x05
    /// `[op][cmp u8][attr u16][major u64][minor u64][patch u64][prerelease StrRef]` (36).
    case semverCompare = 0x06
    /// `[op][0][attr u16][const StrRef]` (12): list attribute has an element equal to the constant.
    case listContains = 0x07
    /// `[op][0][attr u16]` (4): the request carries the attribute.
    case present = 0x08
    /// `[op][0][0][0][segment u32]` (8): the unit is a member of the segment.
    case inSegment = 0x09
    /// `[op]` (1): `R = !R`.
    case not = 0x0A
    /// `[op][0][0][0][target u32]` (8): if `R` is false, continue at `target`.
    case jumpIfFalse = 0x0B
    /// `[op][0][0][0][target u32]` (8): if `R` is true, continue at `target`.
    case jumpIfTrue = 0x0C
    /// `[op][value u8]` (2): `R = value`.
    case constant = 0x0D
    /// `[op][0][attr u16][count u32][count × (network u128, mask u128)]`: the ip attribute lies in
    /// one of the CIDR blocks, `address & mask == network`. Each u128 is two little-endian u64,
    /// high word first; each mask is a prefix (ones, then zeros) and each network has no bits
    /// outside its mask. A validator that predates it refuses the program (unknown opcode).
    case ipIn = 0x0E
    /// `[op][cmp u8][attr u16][seconds i64]` (12): compare a datetime attribute (unix seconds)
    /// with a constant; `cmp` 0-5.
    case timeCompare = 0x0F
    /// `[op][cmp u8][0][0][seconds i64]` (12): compare the request time, the `now` the evaluator
    /// is given, with a constant; `cmp` 2-5 (`<`, `<=`, `>`, `>=`).
    case nowCompare = 0x10
    /// `[op][0][attr u16][states u16][classes u16][class u8 × 256][accept u8 × states]
    /// [next u8 × states × classes]`: a deterministic automaton run over the string attribute's
    /// bytes from state 0: each byte moves to `next[state × classes + class[byte]]`. It matches
    /// when a state it reaches has accept bit 1 (at once), or the state at the end has bit 0.
    /// 1-256 states and classes. A validator that predates it refuses the program.
    case regexMatch = 0x11

    /// Bytes of the instruction: the one table the code generator, the validator and the
    /// evaluator all use. For `stringIn`, `numberIn` and `ipIn` it is the head before the list,
    /// which `count` constants of ``elementLength`` bytes follow.
    @inline(__always)
    public var length: Int {
        switch self {
        case .stringCompare, .numberCompare, .listContains, .timeCompare, .nowCompare: return 12
        case .stringIn, .numberIn, .ipIn, .regexMatch: return 8
        case .boolEquals, .present: return 4
        case .semverCompare: return 36
        case .inSegment, .jumpIfFalse, .jumpIfTrue: return 8
        case .not: return 1
        case .constant: return 2
        }
    }

    /// Bytes of each constant in the list of `stringIn` and `numberIn` (a StrRef or an f64).
    public static let listElementLength = 8

    /// Bytes of each constant after the head of a list instruction (0 for the others): a StrRef
    /// or an f64 (``listElementLength``), or an `ipIn` block's network and mask.
    @inline(__always)
    public var elementLength: Int {
        switch self {
        case .stringIn, .numberIn: return Self.listElementLength
        case .ipIn: return 32
        default: return 0
        }
    }

    /// `stringIn`'s second byte for `lower(x) in [...]`: the value's ASCII `A`-`Z` are folded to
    /// `a`-`z` before it is compared with the constants. A validator that predates it requires 0
    /// there and refuses the program.
    public static let foldedList: UInt8 = 1

    /// Bytes of the instruction at `pc` of a program that decodes (its opcode known, its list
    /// count readable).
    static func length(at pc: Int, of code: UnsafeRawBufferPointer) -> Int {
        let op = TargetingOpcode(rawValue: code[pc])!
        if op == .regexMatch {
            let states = Int(code.le16(pc + 4))
            return op.length + 256 + states + states * Int(code.le16(pc + 6))
        }
        return op.length + (op.elementLength == 0 ? 0 : Int(code.le32(pc + 4)) * op.elementLength)
    }
}

/// Comparison operators of `stringCompare`, `numberCompare` and `semverCompare`.
public enum TargetingComparison: UInt8, Sendable, CaseIterable {
    case equal = 0
    case notEqual = 1
    case less = 2
    case lessOrEqual = 3
    case greater = 4
    case greaterOrEqual = 5
    /// Strings only.
    case startsWith = 6
    /// Strings only.
    case endsWith = 7
    /// Strings only: substring.
    case contains = 8

    /// A flag on `stringCompare`'s comparison code, for `lower(x)`: the value's ASCII `A`-`Z` are
    /// folded to `a`-`z` before it is compared (other bytes unchanged). Allowed with `equal`,
    /// `notEqual`, `startsWith`, `endsWith` and `contains`, whose results do not depend on byte
    /// order. A validator that predates it reads an unknown comparison and refuses the program.
    public static let asciiFolded: UInt8 = 0x80

    /// Whether the comparison may carry `asciiFolded`.
    var isFoldable: Bool {
        switch self {
        case .equal, .notEqual, .startsWith, .endsWith, .contains: return true
        default: return false
        }
    }

    /// Whether an ordering result (`-1`, `0`, `1`) satisfies this comparison.
    @inline(__always)
    func holds(ordering: Int) -> Bool {
        switch self {
        case .equal: return ordering == 0
        case .notEqual: return ordering != 0
        case .less: return ordering < 0
        case .lessOrEqual: return ordering <= 0
        case .greater: return ordering > 0
        case .greaterOrEqual: return ordering >= 0
        case .startsWith, .endsWith, .contains: return false
        }
    }

    /// `holds(ordering:)` for the comparison whose raw value is `code` (a validated program's
    /// operand, at most 8), without decoding it: bit `3 × code + ordering + 1` of a constant is
    /// set exactly when the comparison holds for that ordering.
    @inline(__always)
    static func holds(_ code: UInt8, ordering: Int) -> Bool {
        let table: UInt32 = 0b010 | 0b101 << 3 | 0b001 << 6 | 0b011 << 9 | 0b100 << 12 | 0b110 << 15
        return (table >> (UInt32(code) &* 3 &+ UInt32(truncatingIfNeeded: ordering &+ 1))) & 1 != 0
    }
}

/// Compile-time bounds on targeting programs, enforced by the compiler and again by the validator.
public enum TargetingLimits {
    /// Largest program, in bytes.
    public static let maxProgramLength = 64 * 1024
    /// Deepest nesting of parentheses, `!`, `&&` and `||`.
    public static let maxDepth = 32
    /// Most elements in one `in [...]` list.
    public static let maxListElements = 4096
    /// Deepest chain of segments referring to segments.
    public static let maxSegmentNesting = 8
}

extension Payload {
    /// Checks that a program decodes into known instructions whose operands are in range and whose
    /// jumps land on instruction boundaries ahead of them. `segmentLimit` bounds the segments it
    /// may reference (a segment's rule may only use segments declared before it).
    func validateProgram(offset: Int, length: Int, segmentLimit: Int, context: String) throws(BundleError) {
        func fail(_ message: String) -> BundleError {
            BundleError(.malformedPayload, "\(context): targeting program \(message)")
        }
        guard length <= TargetingLimits.maxProgramLength else { throw fail("is longer than \(TargetingLimits.maxProgramLength) bytes") }
        guard offset >= 0, length >= 0, offset + length <= targetingLength else { throw fail("lies outside the targeting section") }
        let code = program(offset: offset, length: length)
        var boundaries = Set<Int>()
        var jumpTargets: [Int] = []
        var pc = 0

        func need(_ count: Int) throws(BundleError) {
            guard pc + count <= length else { throw fail("is truncated at byte \(pc)") }
        }
        func attribute(_ at: Int, _ expected: AttributeType?) throws(BundleError) {
            let index = Int(code.le16(at))
            guard index < attributeCount else { throw fail("refers to attribute \(index) of \(attributeCount)") }
            if let expected {
                let actual = AttributeType(rawValue: u8(attributeRecord(index) + PayloadFormat.AttributeRecord.type))
                guard actual == expected else { throw fail("applies a \(expected.name) operation to a \(actual?.name ?? "?") attribute") }
            }
        }
        func stringRef(_ at: Int) throws(BundleError) {
            let start = Int(code.le32(at))
            let count = Int(code.le32(at + 4))
            guard start + count <= stringsLength else { throw fail("has a string constant outside the string pool") }
        }
        func zeros(_ range: Range<Int>) throws(BundleError) {
            for index in range where code[pc + index] != 0 { throw fail("has a non-zero reserved byte at \(pc + index)") }
        }
        func comparison(_ at: Int, stringOnly allowed: Bool) throws(BundleError) {
            var raw = code[at]
            if allowed, raw & TargetingComparison.asciiFolded != 0 {
                raw &= ~TargetingComparison.asciiFolded
                guard let cmp = TargetingComparison(rawValue: raw), cmp.isFoldable else {
                    throw fail("folds case for comparison \(raw), which takes none")
                }
                return
            }
            guard let cmp = TargetingComparison(rawValue: raw) else { throw fail("has unknown comparison \(code[at])") }
            if !allowed && cmp.rawValue > TargetingComparison.greaterOrEqual.rawValue {
                throw fail("uses a string-only comparison on a non-string")
            }
        }

        while pc < length {
            boundaries.insert(pc)
            guard let op = TargetingOpcode(rawValue: code[pc]) else { throw fail("has unknown opcode \(code[pc]) at byte \(pc)") }
            switch op {
            case .stringCompare:
                try need(op.length)
                try comparison(pc + 1, stringOnly: true)
                try attribute(pc + 2, .string)
                try stringRef(pc + 4)
                pc += op.length
            case .stringIn, .numberIn:
                try need(op.length)
                if op == .numberIn || code[pc + 1] != TargetingOpcode.foldedList { try zeros(1..<2) }
                try attribute(pc + 2, op == .stringIn ? .string : .number)
                let count = Int(code.le32(pc + 4))
                guard count <= TargetingLimits.maxListElements else { throw fail("has a list of \(count) constants") }
                let element = TargetingOpcode.listElementLength
                try need(op.length + count * element)
                if op == .stringIn {
                    for i in 0..<count { try stringRef(pc + op.length + i * element) }
                }
                pc += op.length + count * element
            case .numberCompare:
                try need(op.length)
                try comparison(pc + 1, stringOnly: false)
                try attribute(pc + 2, .number)
                pc += op.length
            case .boolEquals:
                try need(op.length)
                guard code[pc + 1] <= 1 else { throw fail("has a bool constant other than 0 or 1") }
                try attribute(pc + 2, .bool)
                pc += op.length
            case .semverCompare:
                try need(op.length)
                try comparison(pc + 1, stringOnly: false)
                try attribute(pc + 2, .semver)
                try stringRef(pc + 28)
                pc += op.length
            case .listContains:
                try need(op.length)
                try zeros(1..<2)
                try attribute(pc + 2, .stringList)
                try stringRef(pc + 4)
                pc += op.length
            case .present:
                try need(op.length)
                try zeros(1..<2)
                try attribute(pc + 2, nil)
                pc += op.length
            case .inSegment:
                try need(op.length)
                try zeros(1..<4)
                let segment = Int(code.le32(pc + 4))
                guard segment < segmentLimit else { throw fail("refers to segment \(segment), which it may not use") }
                pc += op.length
            case .not:
                pc += op.length
            case .jumpIfFalse, .jumpIfTrue:
                try need(op.length)
                try zeros(1..<4)
                let target = Int(code.le32(pc + 4))
                guard target > pc, target <= length else { throw fail("jumps from \(pc) to \(target), not forward within the program") }
                jumpTargets.append(target)
                pc += op.length
            case .constant:
                try need(op.length)
                guard code[pc + 1] <= 1 else { throw fail("has a bool constant other than 0 or 1") }
                pc += op.length
            case .timeCompare:
                try need(op.length)
                try comparison(pc + 1, stringOnly: false)
                try attribute(pc + 2, .datetime)
                pc += op.length
            case .nowCompare:
                try need(op.length)
                try comparison(pc + 1, stringOnly: false)
                guard code[pc + 1] >= TargetingComparison.less.rawValue else { throw fail("compares the request time for equality") }
                try zeros(2..<4)
                pc += op.length
            case .regexMatch:
                try need(op.length)
                try zeros(1..<2)
                try attribute(pc + 2, .string)
                let states = Int(code.le16(pc + 4))
                let classes = Int(code.le16(pc + 6))
                guard (1...256).contains(states), (1...256).contains(classes) else {
                    throw fail("has an automaton of \(states) states and \(classes) classes")
                }
                let size = op.length + 256 + states + states * classes
                try need(size)
                let table = pc + op.length
                for i in 0..<256 where Int(code[table + i]) >= classes { throw fail("maps byte \(i) to an unknown class") }
                for i in 0..<states where code[table + 256 + i] > 3 { throw fail("has unknown accept flags") }
                for i in (256 + states)..<(256 + states + states * classes) where Int(code[table + i]) >= states {
                    throw fail("has an automaton transition to an unknown state")
                }
                pc += size
            case .ipIn:
                try need(op.length)
                try zeros(1..<2)
                try attribute(pc + 2, .ip)
                let count = Int(code.le32(pc + 4))
                guard count <= TargetingLimits.maxListElements else { throw fail("has a list of \(count) constants") }
                try need(op.length + count * op.elementLength)
                for i in 0..<count {
                    let at = pc + op.length + i * op.elementLength
                    let network = UInt128(code.le64(at)) << 64 | UInt128(code.le64(at + 8))
                    let mask = UInt128(code.le64(at + 16)) << 64 | UInt128(code.le64(at + 24))
                    // A prefix mask: its complement is 2^k - 1.
                    guard ~mask & (~mask &+ 1) == 0, network & ~mask == 0 else {
                        throw fail("has a CIDR block at byte \(at) that is not a network and prefix mask")
                    }
                }
                pc += op.length + count * op.elementLength
            }
        }
        for target in jumpTargets where target != length && !boundaries.contains(target) {
            throw fail("jumps into the middle of an instruction (byte \(target))")
        }
    }
}
