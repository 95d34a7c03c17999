import AllotCore

/// A regular expression for `attr matches "pattern"`, compiled at compile time to a deterministic
/// automaton over bytes (`docs/targeting.md`, "Regular expressions"). Evaluation walks the value's
/// bytes once, one table lookup each: time linear in the value, no backtracking, whatever the
/// pattern. Patterns whose automaton would need more than `maxStates` states are refused.
///
/// Syntax: literal characters (their UTF-8 bytes), `.` (any byte), classes `[abc]`, `[a-z0-9]`,
/// `[^...]` (ASCII), the escapes `\d` `\w` `\s` and `\D` `\W` `\S`, `\` before any ASCII
/// punctuation for itself, `\n` `\t` `\r`, groups `(...)`, alternation `|`, the quantifiers `*`,
/// `+`, `?`, `{n}`, `{n,}` and `{n,m}` (n, m up to `maxRepeat`), `^` at the very start and `$` at
/// the very end. It matches when some part of the value does (anchors pin it to the start or end).
struct RegexAutomaton: Equatable {
    /// Most states of the deterministic automaton.
    static let maxStates = 256
    /// Largest count in `{n,m}`.
    static let maxRepeat = 100

    /// The class of each byte.
    var classOf: [UInt8]
    var classCount: Int
    /// Per state: bit 0 accepting at the end of the value, bit 1 accepting at once (the rest of the
    /// value cannot matter).
    var accept: [UInt8]
    /// `next[state * classCount + class]`.
    var next: [UInt8]

    var stateCount: Int { accept.count }

    /// A pattern error: what, and at which character (Unicode scalar) of the pattern (-1 for the
    /// whole pattern).
    struct Failure: Error, Equatable {
        var message: String
        var offset: Int
    }

    // MARK: Syntax

    private indirect enum Node {
        case bytes(Set<UInt8>)
        case sequence([Node])
        case alternation([Node])
        case repeating(Node, min: Int, max: Int?)
    }

    private struct Parser {
        let scalars: [Unicode.Scalar]
        var index = 0

        func failure(_ message: String, at offset: Int? = nil) -> Failure {
            Failure(message: message, offset: offset ?? index)
        }

        mutating func alternation() throws(Failure) -> Node {
            var branches = [try sequence()]
            while index < scalars.count, scalars[index] == "|" {
                index += 1
                branches.append(try sequence())
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        mutating func sequence() throws(Failure) -> Node {
            var items: [Node] = []
            while index < scalars.count, scalars[index] != "|", scalars[index] != ")" {
                var atom = try self.atom()
                while index < scalars.count, let quantifier = try quantifier() {
                    atom = .repeating(atom, min: quantifier.0, max: quantifier.1)
                }
                items.append(atom)
            }
            return .sequence(items)
        }

        mutating func quantifier() throws(Failure) -> (Int, Int?)? {
            let start = index
            switch scalars[index] {
            case "*":
                index += 1
                return (0, nil)
            case "+":
                index += 1
                return (1, nil)
            case "?":
                index += 1
                return (0, 1)
            case "{":
                index += 1
                let low = number()
                var high: Int? = low
                if index < scalars.count, scalars[index] == "," {
                    index += 1
                    high = number()
                }
                guard let low, index < scalars.count, scalars[index] == "}" else {
                    throw failure("'{' must be a repetition such as {2}, {2,} or {2,5}; write \\{ for the character", at: start)
                }
                index += 1
                guard low <= RegexAutomaton.maxRepeat, (high ?? 0) <= RegexAutomaton.maxRepeat, high.map({ $0 >= low }) ?? true else {
                    throw failure("repetition counts go up to \(RegexAutomaton.maxRepeat), the second at least the first", at: start)
                }
                return (low, high)
            default:
                return nil
            }
        }

        mutating func number() -> Int? {
            let start = index
            var value = 0
            while index < scalars.count, index - start < 4, scalars[index].isASCII, let digit = Int(String(scalars[index])) {
                value = value * 10 + digit
                index += 1
            }
            return index > start ? value : nil
        }

        mutating func atom() throws(Failure) -> Node {
            let c = scalars[index]
            let start = index
            index += 1
            switch c {
            case "(":
                let inner = try alternation()
                guard index < scalars.count, scalars[index] == ")" else { throw failure("'(' is not closed; add ')'", at: start) }
                index += 1
                return inner
            case ")":
                throw failure("unmatched ')'; write \\) for the character", at: start)
            case "*", "+", "?", "{":
                throw failure("'\(c)' has nothing to repeat; write \\\(c) for the character", at: start)
            case ".":
                return .bytes(Set(0...255))
            case "[":
                return .bytes(try characterClass(start))
            case "\\":
                return .bytes(try escape())
            case "^", "$":
                throw failure(
                    "'\(c)' anchors only at the very \(c == "^" ? "start" : "end") of the pattern; write \\\(c) for the character",
                    at: start)
            default:
                let bytes = Array(String(c).utf8)
                return bytes.count == 1 ? .bytes([bytes[0]]) : .sequence(bytes.map { .bytes([$0]) })
            }
        }

        mutating func escape() throws(Failure) -> Set<UInt8> {
            guard index < scalars.count else { throw failure("a pattern cannot end with '\\'", at: index - 1) }
            let c = scalars[index]
            index += 1
            let digits = Set(UInt8(ascii: "0")...UInt8(ascii: "9"))
            let word = digits.union(UInt8(ascii: "a")...UInt8(ascii: "z")).union(UInt8(ascii: "A")...UInt8(ascii: "Z")).union([
                UInt8(ascii: "_")
            ])
            let space: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C]
            let all = Set<UInt8>(0...255)
            switch c {
            case "d": return digits
            case "D": return all.subtracting(digits)
            case "w": return word
            case "W": return all.subtracting(word)
            case "s": return space
            case "S": return all.subtracting(space)
            case "n": return [0x0A]
            case "t": return [0x09]
            case "r": return [0x0D]
            default:
                guard c.isASCII, c.properties.isPatternSyntax || c == "-" || c == "/" else {
                    throw failure(
                        "unknown escape '\\\(c)'; escapes are \\d \\w \\s \\D \\W \\S \\n \\t \\r and \\ before punctuation", at: index - 2)
                }
                return [UInt8(c.value)]
            }
        }

        mutating func characterClass(_ start: Int) throws(Failure) -> Set<UInt8> {
            var negated = false
            if index < scalars.count, scalars[index] == "^" {
                negated = true
                index += 1
            }
            var set = Set<UInt8>()
            var first = true
            while true {
                guard index < scalars.count else { throw failure("'[' is not closed; add ']'", at: start) }
                let c = scalars[index]
                if c == "]", !first {
                    index += 1
                    break
                }
                first = false
                if c == "\\" {
                    index += 1
                    set.formUnion(try escape())
                    continue
                }
                guard c.isASCII else {
                    throw failure("a class holds ASCII characters only; write other characters outside [...]", at: index)
                }
                index += 1
                if index + 1 < scalars.count, scalars[index] == "-", scalars[index + 1] != "]" {
                    let end = scalars[index + 1]
                    guard end.isASCII, end.value >= c.value else {
                        throw failure("the range \(c)-\(end) is empty or not ASCII", at: index - 1)
                    }
                    index += 2
                    set.formUnion(UInt8(c.value)...UInt8(end.value))
                } else {
                    set.insert(UInt8(c.value))
                }
            }
            return negated ? Set(0...255).subtracting(set) : set
        }
    }

    // MARK: Automata

    /// Thompson's construction: byte-set edges and empty edges.
    private struct NFA {
        var edges: [[(Set<UInt8>, Int)]] = []
        var empty: [[Int]] = []

        mutating func state() -> Int {
            edges.append([])
            empty.append([])
            return edges.count - 1
        }

        /// A fragment from a new start state to a new end state; counts its states against `limit`.
        mutating func build(_ node: Node, _ limit: Int) throws(Failure) -> (Int, Int) {
            guard edges.count < limit else { throw Failure(message: "the pattern is too large", offset: -1) }
            switch node {
            case .bytes(let set):
                let (a, b) = (state(), state())
                edges[a].append((set, b))
                return (a, b)
            case .sequence(let items):
                let start = state()
                var end = start
                for item in items {
                    let (a, b) = try build(item, limit)
                    empty[end].append(a)
                    end = b
                }
                return (start, end)
            case .alternation(let branches):
                let (start, end) = (state(), state())
                for branch in branches {
                    let (a, b) = try build(branch, limit)
                    empty[start].append(a)
                    empty[b].append(end)
                }
                return (start, end)
            case .repeating(let inner, let low, let high):
                let start = state()
                var end = start
                for _ in 0..<low {
                    let (a, b) = try build(inner, limit)
                    empty[end].append(a)
                    end = b
                }
                if let high {
                    let finish = state()
                    empty[end].append(finish)
                    for _ in low..<high {
                        let (a, b) = try build(inner, limit)
                        empty[end].append(a)
                        empty[b].append(finish)
                        end = b
                    }
                    return (start, finish)
                }
                let (a, b) = try build(inner, limit)
                let finish = state()
                empty[end].append(a)
                empty[end].append(finish)
                empty[b].append(a)
                empty[b].append(finish)
                return (start, finish)
            }
        }

        func closure(_ states: Set<Int>) -> Set<Int> {
            var result = states
            var stack = Array(states)
            while let s = stack.popLast() {
                for t in empty[s] where result.insert(t).inserted { stack.append(t) }
            }
            return result
        }
    }

    /// Compiles `pattern`.
    static func compile(_ pattern: String) -> Result<RegexAutomaton, Failure> {
        do throws(Failure) {
            var scalars = Array(pattern.unicodeScalars)
            let anchoredStart = scalars.first == "^"
            if anchoredStart { scalars.removeFirst() }
            var anchoredEnd = false
            if scalars.last == "$", !(scalars.count >= 2 && scalars[scalars.count - 2] == "\\") {
                anchoredEnd = true
                scalars.removeLast()
            }
            var parser = Parser(scalars: scalars)
            let shift = anchoredStart ? 1 : 0
            let tree: Node
            do throws(Failure) {
                tree = try parser.alternation()
            } catch {
                throw Failure(message: error.message, offset: error.offset + shift)
            }
            if parser.index < scalars.count {
                throw Failure(message: "unmatched ')'; write \\) for the character", offset: parser.index + shift)
            }
            var nfa = NFA()
            let (start, end) = try nfa.build(tree, 20_000)
            if !anchoredStart { nfa.edges[start].append((Set(0...255), start)) }  // a match may start anywhere
            return .success(try determinize(nfa, start: start, end: end, anchoredEnd: anchoredEnd))
        } catch {
            return .failure(error)
        }
    }

    private static func determinize(_ nfa: NFA, start: Int, end: Int, anchoredEnd: Bool) throws(Failure) -> RegexAutomaton {
        // Byte classes: bytes that every edge treats alike.
        var signature = [[Int]](repeating: [], count: 256)
        var edgeIndex = 0
        for edges in nfa.edges {
            for (set, _) in edges {
                for byte in set { signature[Int(byte)].append(edgeIndex) }
                edgeIndex += 1
            }
        }
        var classIDs: [[Int]: UInt8] = [:]
        var classOf = [UInt8](repeating: 0, count: 256)
        var representative: [UInt8] = []
        for byte in 0..<256 {
            if let id = classIDs[signature[byte]] {
                classOf[byte] = id
            } else {
                let id = UInt8(classIDs.count)
                classIDs[signature[byte]] = id
                classOf[byte] = id
                representative.append(UInt8(byte))
            }
        }
        let classCount = representative.count
        var states: [Set<Int>] = [nfa.closure([start])]
        var index: [Set<Int>: Int] = [states[0]: 0]
        var next: [UInt8] = []
        var cursor = 0
        while cursor < states.count {
            let current = states[cursor]
            for byte in representative {
                var target = Set<Int>()
                for s in current {
                    for (set, t) in nfa.edges[s] where set.contains(byte) { target.insert(t) }
                }
                let closed = nfa.closure(target)
                if let id = index[closed] {
                    next.append(UInt8(id))
                } else {
                    guard states.count < maxStates else {
                        throw Failure(message: "the pattern needs more than \(maxStates) automaton states", offset: -1)
                    }
                    index[closed] = states.count
                    next.append(UInt8(states.count))
                    states.append(closed)
                }
            }
            cursor += 1
        }
        let accept = states.map { set -> UInt8 in
            guard set.contains(end) else { return 0 }
            return anchoredEnd ? 1 : 3
        }
        return RegexAutomaton(classOf: classOf, classCount: classCount, accept: accept, next: next)
    }

    /// Whether the automaton accepts `bytes` (as the evaluator runs it).
    func matches(_ bytes: some Sequence<UInt8>) -> Bool {
        var state = 0
        if accept[0] & 2 != 0 { return true }
        for byte in bytes {
            state = Int(next[state * classCount + Int(classOf[Int(byte)])])
            if accept[state] & 2 != 0 { return true }
        }
        return accept[state] & 1 != 0
    }

    /// The `regexMatch` operands after the head: class map, accept flags, transitions.
    var encoded: [UInt8] { classOf + accept + next }
}
