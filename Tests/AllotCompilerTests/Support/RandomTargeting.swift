import AllotCore
import AllotTestSupport

@testable import AllotCompiler

/// Values the random expressions and requests draw from: near each other on purpose (prefixes,
/// case, canonically equivalent but byte-different strings, semver pre-releases) so that
/// comparisons go both ways.
enum TargetingPools {
    static let strings = [
        "", "US", "CA", "a", "ab", "abc", "b", "B", "Ab", "é", "e\u{301}", "日本", "a\"b", "back\\slash", "tab\tline\nbreak",
        "\u{1}", "😀", "@example.com", "x@example.com", "zz",
    ]
    static let numbers: [Double] = [-1.5, 0, 1, 2.5, 18, 21, 65, 1e21, 0.1, 1e-7, -1e300, 123_456.789]
    static let versions = [
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
        "2.0.0", "5.2.0", "5.2.1", "5.10.0", "10.0.0", "5.2.0-1",
    ]
    static let requestNumbers = numbers + [-0.0, .nan, .infinity, -.infinity, 17.999]
    static let requestVersions = versions + ["v5.2", "5.2.0+build.7", "5.2.0-01", "5"]
    static let requestCountries = ["CA", "DE", "FR", "GB", "US", "us", "ZZ", ""]
}

/// Generates well-typed expressions in canonical form over `TargetingFixtures`.
struct ExpressionGenerator {
    var random: SeededRandom

    enum Composite { case not, and, or }

    mutating func expression(depth: Int, excluding excluded: Composite? = nil) -> TargetingExpression {
        if depth <= 0 || random.chance(0.3) { return leaf() }
        let kinds: [Composite] = [.not, .and, .or].filter { $0 != excluded }
        switch random.pick(kinds) {
        case .not:
            return .not(expression(depth: depth - 1))
        case .and:
            return .and((0..<Int.random(in: 2...4, using: &random)).map { _ in expression(depth: depth - 1, excluding: .and) })
        case .or:
            return .or((0..<Int.random(in: 2...4, using: &random)).map { _ in expression(depth: depth - 1, excluding: .or) })
        }
    }

    mutating func leaf() -> TargetingExpression {
        switch Int.random(in: 0..<13, using: &random) {
        case 0:
            return .constant(random.chance(0.5))
        case 1:
            return .flag(attribute: random.pick(["is_beta", "is_employee"]))
        case 2:
            return .comparison(attribute: random.pick(["is_beta", "is_employee"]), .equal, .bool(false))
        case 3:
            let attribute = random.pick(["country", "email"])
            let op = random.pick(TargetingOperator.allCases)
            let useAllowed = attribute == "country" && (op == .equal || op == .notEqual)
            return .comparison(attribute: attribute, op, .string(random.pick(useAllowed ? allowed("country") : TargetingPools.strings)))
        case 4:
            let op = random.pick(TargetingOperator.allCases.filter(\.isOrdering))
            return .comparison(attribute: random.pick(["age", "score"]), op, .number(random.pick(TargetingPools.numbers)))
        case 5:
            let op = random.pick(TargetingOperator.allCases.filter(\.isOrdering))
            return .comparison(
                attribute: random.pick(["app_version", "os_version"]), op, .semver(Semver(random.pick(TargetingPools.versions))!))
        case 6:
            let attribute = random.pick(["tags", "roles"])
            return .comparison(
                attribute: attribute, .contains, .string(random.pick(attribute == "roles" ? allowed("roles") : TargetingPools.strings)))
        case 7:
            let attribute = random.pick(["country", "email"])
            let pool = attribute == "country" ? allowed("country") : TargetingPools.strings
            let values = random.distinct(pool, count: Int.random(in: 1...4, using: &random)) { $0.utf8.elementsEqual($1.utf8) }
            return maybeNegated(.membership(attribute: attribute, values.map { .string($0) }))
        case 8:
            let values = random.distinct(TargetingPools.numbers, count: Int.random(in: 1...4, using: &random)) { $0 == $1 }
            return maybeNegated(.membership(attribute: random.pick(["age", "score"]), values.map { .number($0) }))
        case 9:
            let versions = TargetingPools.versions.map { Semver($0)! }
            let values = random.distinct(versions, count: Int.random(in: 1...3, using: &random)) { Semver.compare($0, $1) == 0 }
            return maybeNegated(.membership(attribute: random.pick(["app_version", "os_version"]), values.map { .semver($0) }))
        case 10:
            return .has(attribute: random.pick(TargetingFixtures.attributes.map(\.name)))
        default:
            let segment = random.pick(TargetingFixtures.segments)
            let units: [String?] = segment.unitType.map { [nil, $0] } ?? [nil, "user_id", "device_id"]
            return maybeNegated(.segment(name: segment.name, unitType: random.pick(units)))
        }
    }

    private mutating func maybeNegated(_ expression: TargetingExpression) -> TargetingExpression {
        random.chance(0.3) ? .not(expression) : expression
    }

    private func allowed(_ attribute: String) -> [String] {
        TargetingFixtures.attributes.first { $0.name == attribute }!.allowed!
    }
}

/// A request's attribute value, as a client sends it.
enum RequestValue: CustomStringConvertible {
    case string(String)
    case number(Double)
    case bool(Bool)
    /// Version text, parsed by the evaluator's input.
    case semver(String)
    case list([String])

    var description: String {
        switch self {
        case .string(let text): return TargetingText.quoted(text)
        case .number(let value): return "\(value)"
        case .bool(let value): return "\(value)"
        case .semver(let text): return "v'\(text)'"
        case .list(let items): return "[" + items.map(TargetingText.quoted).joined(separator: ", ") + "]"
        }
    }
}

struct TestRequest: CustomStringConvertible {
    var userID: String
    var deviceID: String?
    var values: [String: RequestValue]

    var description: String {
        "user=\(userID) device=\(deviceID ?? "-") "
            + values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    static func random(using random: inout SeededRandom) -> TestRequest {
        var values: [String: RequestValue] = [:]
        for attribute in TargetingFixtures.attributes where random.chance(0.75) {
            switch attribute.type {
            case .ip, .datetime:
                break  // the fixtures have no ip or datetime attribute
            case .string:
                values[attribute.name] = .string(
                    random.pick(attribute.name == "country" ? TargetingPools.requestCountries : TargetingPools.strings))
            case .number:
                values[attribute.name] = .number(random.pick(TargetingPools.requestNumbers))
            case .bool:
                values[attribute.name] = .bool(random.chance(0.5))
            case .semver:
                values[attribute.name] = .semver(random.pick(TargetingPools.requestVersions))
            case .stringList:
                let pool = attribute.allowed ?? TargetingPools.strings
                values[attribute.name] = .list((0..<Int.random(in: 0...3, using: &random)).map { _ in random.pick(pool) })
            }
        }
        return TestRequest(
            userID: random.pick(["u1", "u2", "u3", "u4"]), deviceID: random.pick([nil, "d1", "d2"]), values: values)
    }
}

/// The language's semantics (docs/targeting.md), written as directly as possible and
/// independently of the compiler and the evaluator.
enum ReferenceInterpreter {
    /// The request time `EvaluatorHarness` evaluates at, for `now()`.
    static let evaluationTime: Int64 = 0

    static func evaluate(_ expression: TargetingExpression, _ request: TestRequest) -> Bool {
        switch expression {
        case .constant(let value):
            return value
        case .flag(let attribute):
            if case .bool(true)? = request.values[attribute] { return true }
            return false
        case .comparison(let attribute, let op, let constant):
            guard let value = request.values[attribute] else { return false }
            return compare(value, op, constant)
        case .membership(let attribute, let constants):
            guard let value = request.values[attribute] else { return false }
            return constants.contains { compare(value, .equal, $0) }
        case .regex(let attribute, let pattern):
            // Checked against Python's `re` in RegexTests; here the automaton stands in.
            guard case .string(let text)? = request.values[attribute], case .success(let automaton) = RegexAutomaton.compile(pattern) else {
                return false
            }
            return automaton.matches(text.utf8)
        case .now(let op, let seconds):
            // `EvaluatorHarness` evaluates at `evaluationTime`.
            return holds(op, evaluationTime < seconds ? -1 : (evaluationTime > seconds ? 1 : 0))
        case .cidr(let attribute, let networks):
            // The fixtures have no ip attribute; an address would come as its text.
            guard case .string(let text)? = request.values[attribute], let address = IPAddress(text) else { return false }
            return networks.contains { $0.contains(address) }
        case .foldedComparison(let attribute, let op, let constant):
            guard case .string(let text)? = request.values[attribute] else { return false }
            return compare(.string(asciiLowercased(text)), op, .string(constant))
        case .foldedMembership(let attribute, let constants):
            guard case .string(let text)? = request.values[attribute] else { return false }
            let lowered = asciiLowercased(text)
            return constants.contains { $0.utf8.elementsEqual(lowered.utf8) }
        case .has(let attribute):
            return request.values[attribute] != nil
        case .segment(let name, _):
            switch name {
            case "staff": return TargetingFixtures.staffIDs.contains(request.userID)
            case "devices": return request.deviceID.map(TargetingFixtures.deviceIDs.contains) ?? false
            default: return evaluate(.flag(attribute: "is_beta"), request)
            }
        case .not(let inner):
            return !evaluate(inner, request)
        case .and(let operands):
            return operands.allSatisfy { evaluate($0, request) }
        case .or(let operands):
            return operands.contains { evaluate($0, request) }
        }
    }

    private static func compare(_ value: RequestValue, _ op: TargetingOperator, _ constant: TargetingValue) -> Bool {
        switch (value, constant) {
        case (.string(let text), .string(let constant)):
            let a = Array(text.utf8)
            let b = Array(constant.utf8)
            switch op {
            case .startsWith: return a.starts(with: b)
            case .endsWith: return a.reversed().starts(with: b.reversed())
            case .contains:
                return b.isEmpty || (0...max(0, a.count - b.count)).contains { a.count >= b.count && Array(a[$0..<($0 + b.count)]) == b }
            default: return holds(op, order(a, b))
            }
        case (.number(let number), .number(let constant)):
            guard !number.isNaN else { return false }
            return holds(op, number < constant ? -1 : (number > constant ? 1 : 0))
        case (.bool(let flag), .bool(let constant)):
            return op == .equal ? flag == constant : flag != constant
        case (.semver(let text), .semver(let constant)):
            return holds(op, semverOrder(Semver(text)!, constant))
        case (.list(let items), .string(let constant)):
            return op == .contains && items.contains { $0.utf8.elementsEqual(constant.utf8) }
        default:
            return false
        }
    }

    /// `lower(x)`: ASCII `A`-`Z` to `a`-`z`, nothing else (so `É` stays `É`).
    static func asciiLowercased(_ text: String) -> String {
        String(decoding: text.utf8.map { (65...90).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    private static func holds(_ op: TargetingOperator, _ order: Int) -> Bool {
        switch op {
        case .equal: return order == 0
        case .notEqual: return order != 0
        case .less: return order < 0
        case .lessOrEqual: return order <= 0
        case .greater: return order > 0
        case .greaterOrEqual: return order >= 0
        default: return false
        }
    }

    private static func order<T: Comparable>(_ a: [T], _ b: [T]) -> Int {
        a == b ? 0 : (a.lexicographicallyPrecedes(b) ? -1 : 1)
    }

    /// semver.org 2.0 §11 precedence.
    static func semverOrder(_ a: Semver, _ b: Semver) -> Int {
        let core = order([a.major, a.minor, a.patch], [b.major, b.minor, b.patch])
        if core != 0 { return core }
        switch (a.prerelease.isEmpty, b.prerelease.isEmpty) {
        case (true, true): return 0
        case (true, false): return 1
        case (false, true): return -1
        case (false, false): break
        }
        let x = a.prerelease.split(separator: ".", omittingEmptySubsequences: false)
        let y = b.prerelease.split(separator: ".", omittingEmptySubsequences: false)
        for (p, q) in zip(x, y) {
            let pNumeric = p.allSatisfy(\.isASCII) && p.allSatisfy(\.isNumber)
            let qNumeric = q.allSatisfy(\.isASCII) && q.allSatisfy(\.isNumber)
            switch (pNumeric, qNumeric) {
            case (true, true):
                let pDigits = Array(p.drop { $0 == "0" }.utf8)
                let qDigits = Array(q.drop { $0 == "0" }.utf8)
                let result = pDigits.count != qDigits.count ? (pDigits.count < qDigits.count ? -1 : 1) : order(pDigits, qDigits)
                if result != 0 { return result }
            case (true, false): return -1
            case (false, true): return 1
            case (false, false):
                let result = order(Array(p.utf8), Array(q.utf8))
                if result != 0 { return result }
            }
        }
        return order([x.count], [y.count])
    }
}

/// Runs targeting through the whole pipeline: the expression goes into an experiment file with the
/// fixture attributes and segments, the real compiler builds a signed bundle, and the real
/// evaluator answers.
struct EvaluatorHarness {
    let bundle: LoadedBundle

    init(source: String) throws {
        bundle = try Fixture.compile(Self.yaml(targeting: source)).bundle
    }

    /// The fixture project: every fixture attribute, a layer per unit type, the fixture segments,
    /// and one experiment over all of the user layer's traffic, targeted by `targeting`.
    static func yaml(targeting: String) -> String {
        var text = "kind: Attributes\nattributes:\n"
        for attribute in TargetingFixtures.attributes {
            text += "  \(attribute.name):\n    type: \(attribute.type.name)\n"
            if let allowed = attribute.allowed {
                text += "    values: [\(allowed.map { JSONString.quoted($0) }.joined(separator: ", "))]\n"
            }
        }
        text += "---\nkind: Layer\nname: probe-layer\nunit: user_id\n---\nkind: Layer\nname: device-layer\nunit: device_id\n"
        text += "---\nkind: Segment\nname: staff\nunit: user_id\nids: [\(TargetingFixtures.staffIDs.joined(separator: ", "))]\n"
        text += "---\nkind: Segment\nname: beta_rule\nrule: is_beta\n"
        text += "---\nkind: Segment\nname: devices\nunit: device_id\nids: [\(TargetingFixtures.deviceIDs.joined(separator: ", "))]\n"
        text += "---\nkind: Experiment\nname: probe\nlayer: probe-layer\nowner: tests\nstatus: running\ntraffic: 100%\n"
        text += "targeting: |-\n  \(targeting)\nvariants: [ { name: in, weight: 100% } ]\n"
        return text
    }

    /// Whether the unit passes targeting (is enrolled rather than a targeting miss).
    func matches(_ request: TestRequest) -> Bool {
        var input = EvaluationInput(for: bundle)
        Array(request.userID.utf8).withUnsafeBytes { _ = input.setUnit(bundle.unitTypeIndex(named: "user_id")!, id: $0) }
        if let device = request.deviceID {
            Array(device.utf8).withUnsafeBytes { _ = input.setUnit(bundle.unitTypeIndex(named: "device_id")!, id: $0) }
        }
        for (name, value) in request.values {
            let index = bundle.attributeIndex(named: name)!
            switch value {
            case .string(let text): Array(text.utf8).withUnsafeBytes { input.setString(index, $0) }
            case .number(let number): input.setNumber(index, number)
            case .bool(let flag): input.setBool(index, flag)
            case .semver(let text): Array(text.utf8).withUnsafeBytes { _ = input.setSemver(index, text: $0) }
            case .list(let items):
                if items.isEmpty { input.setEmptyList(index) }
                for item in items { Array(item.utf8).withUnsafeBytes { input.appendListElement(index, $0) } }
            }
        }
        var outcomes: [Outcome] = []
        bundle.evaluate(input, now: ReferenceInterpreter.evaluationTime, into: &outcomes)
        return outcomes.contains { bundle.assignment(for: $0).experiment == "probe" && $0.reason == .split }
    }
}
