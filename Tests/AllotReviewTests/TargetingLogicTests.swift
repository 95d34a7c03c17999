import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotReview

/// The prover behind `allot lint`'s "can never match" and `allot diff`'s "targeting only
/// widened": hand-picked cases it must decide, and random expressions where every claim it
/// makes is checked against the real evaluator.
struct TargetingLogicTests {
    static let attributes = """
        kind: Attributes
        attributes:
          country: string
          age: number
          beta: bool
          app_version: semver
          tags: list
          ip: ip
          signup: datetime
        """

    static let environment: TargetingEnvironment = {
        let types: [(String, AttributeType)] = [
            ("age", .number), ("app_version", .semver), ("beta", .bool), ("country", .string), ("tags", .stringList), ("ip", .ip),
            ("signup", .datetime),
        ]
        var attributes: [String: TargetingEnvironment.Attribute] = [:]
        for (index, (name, type)) in types.enumerated() { attributes[name] = .init(index: index, type: type) }
        return TargetingEnvironment(
            attributes: attributes, unitTypes: ["user_id"], segments: ["empty": .init(index: 0), "other": .init(index: 1)])
    }()

    static let logic = TargetingLogic(
        attributeTypes: [
            "country": .string, "age": .number, "beta": .bool, "app_version": .semver, "tags": .stringList, "ip": .ip, "signup": .datetime,
        ],
        emptySegments: ["empty"])

    static func parse(_ source: String) throws -> TargetingExpression {
        switch TargetingCompiler.check(source, environment: environment, locate: { SourceLocation(file: "t", line: 1, column: $0 + 1) }) {
        case .success(let expression): return expression
        case .failure(let failure): throw FixtureError(message: "\(source): \(failure.diagnostics)")
        }
    }

    @Test(arguments: [
        #"country == "US" && country == "CA""#,
        "age < 1 && age > 2",
        "age >= 18 && age < 18",
        "age > 1 && age <= 1",
        #"country in ["US"] && country in ["CA", "DE"]"#,
        #"country == "US" && !has(country)"#,
        #"country == "US" && country != "US""#,
        #"country in ["US", "CA"] && country not in ["US", "CA"]"#,
        "beta && beta == false",
        #"tags contains "vip" && !(tags contains "vip")"#,
        #"country startsWith "a" && country startsWith "b""#,
        #"country endsWith "x" && country endsWith "y""#,
        #"country startsWith "ab" && !(country startsWith "a")"#,
        #"country contains "abc" && !(country contains "b")"#,
        #"country < """#,
        #"country == "US" && country startsWith "C""#,
        #"country startsWith "m" && country < "a""#,
        #"app_version >= semver("5.0.0") && app_version < semver("4.0.0")"#,
        #"app_version == semver("5.2.0") && app_version > semver("5.2.0")"#,
        #"(country == "US" || country == "CA") && country == "DE""#,
        #"(age < 10 || age > 20) && age >= 12 && age <= 15"#,
        "false",
        #"in segment("empty")"#,
        #"has(age) && !has(age)"#,
        #"app_version in semver("^4.1") && app_version in semver("~5")"#,
        #"app_version in semver("^0.2.3") && app_version >= semver("0.3.0-0")"#,
        #"lower(country) == "us" && !(lower(country) == "us")"#,
        #"ip in cidr("10.0.0.0/8") && ip not in cidr("10.0.0.0/8")"#,
        #"signup >= "2026-12-01" && signup < "2026-12-01T01:00:00+02:00""#,
        #"now() > "2026-12-01" && !(now() > "2026-12-01")"#,
        #"country matches "^U" && !(country matches "^U")"#,
    ])
    func provesContradictions(_ source: String) throws {
        let expression = try Self.parse(source)
        #expect(Self.logic.contradiction(in: expression) != nil, "\(expression)")
    }

    @Test(arguments: [
        #"country == "US" || country == "CA""#,
        #"!(country == "US") && !(country == "CA")"#,
        "age > 1 && age < 2",
        #"!has(country) && !(country == "US")"#,
        #"country != "US" && country != "CA""#,
        "beta || beta == false",
        #"country startsWith "ab" && country startsWith "a""#,
        #"country startsWith "a" && country < "b""#,
        #"tags contains "a" && !(tags contains "b")"#,
        #"app_version >= semver("5.0.0") && app_version < semver("5.0.1")"#,
        #"in segment("other")"#,
        #"app_version in semver("^5.2") && app_version not in semver("~5.2")"#,
        // `lower(x)` predicates are opaque: satisfiable combinations are never claimed empty.
        #"lower(country) == "us" && country != "US" && country != "us""#,
        #"lower(country) in ["us"] && !(lower(country) == "ca") && !has(age)"#,
        #"ip in cidr("10.0.0.0/8") && ip not in cidr("10.1.0.0/16")"#,
        #"ip not in cidr("10.0.0.0/8") && !has(ip)"#,
        "true",
        "!beta && beta == false",
    ])
    func doesNotClaimSatisfiableOnesNeverMatch(_ source: String) throws {
        #expect(Self.logic.contradiction(in: try Self.parse(source)) == nil)
    }

    @Test func explainsTheConflictingConditions() throws {
        let contradiction = try #require(Self.logic.contradiction(in: try Self.parse(#"age > 3 && country == "US" && country == "CA""#)))
        #expect(contradiction.conditions == [#"country == "US""#, #"country == "CA""#])
        #expect(contradiction.description == #"`country == "US"` and `country == "CA"` cannot both hold"#)
    }

    @Test(arguments: [
        (#"country in ["US"]"#, #"country in ["US", "CA"]"#, true),
        ("age >= 21", "age >= 18", true),
        (#"app_version >= semver("5.2.0")"#, #"app_version >= semver("5.0.0")"#, true),
        (#"country == "US" && beta"#, #"country == "US""#, true),
        (#"country == "US""#, #"country == "US" || beta"#, true),
        (#"in segment("other")"#, #"in segment("other") || beta"#, true),
        ("beta", "true", true),
        (#"country in ["US", "CA"]"#, #"country == "US""#, false),
        ("age >= 18", "age >= 21", false),
        ("true", "beta", false),
        (#"!(country == "US")"#, #"country != "US""#, false),
        // Version ranges are their bounds, which the prover reads like any other comparison.
        (#"app_version in semver("~5.2.1")"#, #"app_version in semver("^5.2")"#, true),
        (#"app_version in semver("^5.2")"#, #"app_version in semver("~5.2")"#, false),
        (#"app_version in semver("^0.2.3")"#, #"app_version in semver("^0.2")"#, true),
        (#"app_version in semver("^0.2")"#, #"app_version in semver("^0")"#, true),
        (#"app_version in semver("^0")"#, #"app_version in semver("^0.2")"#, false),
        (#"app_version in semver("^5.2")"#, #"app_version >= semver("5.0.0")"#, true),
        (#"app_version not in semver("^5")"#, #"app_version not in semver("~5.2")"#, true),
        (#"app_version not in semver("~5.2")"#, #"app_version not in semver("^5")"#, false),
        // Opaque `lower(x)` atoms: only what follows from the atom itself is claimed.
        (#"lower(country) == "us""#, #"lower(country) == "us" || beta"#, true),
        (#"lower(country) == "us" && beta"#, "beta", true),
        (#"lower(country) == "us""#, #"country == "US""#, false),
        (#"lower(country) in ["us"]"#, #"lower(country) == "us""#, false),
        (#"country == "US""#, #"lower(country) == "us""#, false),
        // `cidr(...)` atoms are opaque too: a narrower block is not claimed to imply a wider one,
        // and blocks that overlap are never claimed to exclude each other.
        (#"ip in cidr("10.0.0.0/8")"#, #"ip in cidr("10.0.0.0/8") || beta"#, true),
        (#"ip in cidr("10.1.0.0/16")"#, #"ip in cidr("10.0.0.0/8")"#, false),
        (#"ip in cidr("10.0.0.0/8")"#, #"ip in cidr("10.1.0.0/16")"#, false),
        (#"ip in cidr("10.0.0.0/8")"#, "has(ip)", false),
        // Datetime attributes are ordered like numbers; `now()` atoms are opaque.
        (#"signup > "2026-12-01T09:00:00Z""#, #"signup >= "2026-12-01T10:00:00+01:00""#, true),
        (#"signup >= "2026-12-01T09:00:00Z""#, #"signup > "2026-12-01T09:00:00Z""#, false),
        (#"now() > "2027-01-01""#, #"now() > "2027-01-01" || beta"#, true),
        (#"now() > "2027-01-01""#, #"now() > "2026-01-01""#, false),
        // So are regular expressions.
        (#"country matches "^US$""#, #"country matches "^US$" || beta"#, true),
        (#"country matches "^US$""#, #"country == "US""#, false),
        (#"country matches "^US""#, #"country matches "^U""#, false),
    ])
    func provesImplications(_ a: String, _ b: String, _ expected: Bool) throws {
        #expect(Self.logic.implies(try Self.parse(a), try Self.parse(b)) == expected)
    }

    // MARK: Soundness against the evaluator

    static let countries = [#""US""#, #""CA""#, #""""#, #""U""#]
    static let ages = ["0", "17", "18", "30.5"]
    static let versions = [#"semver("4.9.0")"#, #"semver("5.2.0-beta")"#, #"semver("5.2.0")"#, #"semver("6.0.0")"#]

    static func randomAtom(_ random: inout SeededRandom) -> String {
        func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
        switch random.next() % 14 {
        case 0: return "country \(pick(["==", "!=", "<", ">=", "startsWith", "endsWith", "contains"])) \(pick(countries))"
        case 1: return "country in [\(Set([pick(countries), pick(countries)]).sorted().joined(separator: ", "))]"
        case 2: return "age \(pick(["==", "!=", "<", "<=", ">", ">="])) \(pick(ages))"
        case 3: return "age in [\(Set([pick(ages), pick(ages)]).sorted().joined(separator: ", "))]"
        case 4: return pick(["beta", "beta == false", "!beta"])
        case 5: return "app_version \(pick(["==", "!=", "<", "<=", ">", ">="])) \(pick(versions))"
        case 6: return "tags contains \(pick([#""a""#, #""b""#]))"
        case 7: return "has(\(pick(["country", "age", "beta", "app_version", "tags"])))"
        case 8: return "!(\(randomAtom(&random)))"
        case 9: return pick(["true", "false"])
        case 12:
            return pick([
                #"signup > "2026-12-01T09:00:00Z""#, #"signup <= "2026-12-01T10:00:00+01:00""#, #"now() >= "1970-01-01T00:00:01Z""#,
                #"now() < "1970-01-01T00:00:01Z""#, #"signup == "2026-12-01""#,
            ])
        case 11:
            return pick([
                #"lower(country) == "us""#, #"lower(country) != "us""#, #"lower(country) startsWith "u""#,
                #"lower(country) in ["us", "ca"]"#,
            ])
        case 10:
            return "app_version \(pick(["in", "not in"])) semver(\(pick([#""^5""#, #""~5.2""#, #""^5.2.0-beta""#, #""^4""#, #""~6""#])))"
        default: return "country \(pick(["==", "<", ">"])) \(pick(countries))"
        }
    }

    static func randomExpression(_ random: inout SeededRandom, depth: Int = 0) -> String {
        guard depth < 2, random.next() % 3 != 0 else { return randomAtom(&random) }
        let count = 2 + Int(random.next() % 2)
        let parts = (0..<count).map { _ in "(" + randomExpression(&random, depth: depth + 1) + ")" }
        let op = random.next() % 2 == 0 ? " && " : " || "
        return (random.next() % 5 == 0 ? "!" : "") + "(" + parts.joined(separator: op) + ")"
    }

    /// Request attributes covering present and missing values of every attribute.
    static func valuations() -> [[String: String]] {
        var result: [[String: String]] = [[:]]
        func extend(_ name: String, _ values: [String?]) {
            result = result.flatMap { base in
                values.map { value in
                    var copy = base
                    copy[name] = value
                    return copy
                }
            }
        }
        extend("country", [nil, "US", "CA", "", "U", "UZ", "B", "us", "Us"])
        extend("age", [nil, "0", "17", "18", "25", "30.5", "40"])
        extend("beta", [nil, "true", "false"])
        extend("app_version", [nil, "4.9.0", "5.2.0-beta", "5.2.0", "5.5.0", "6.0.0"])
        extend("tags", [nil, "a", "a,b", ""])
        extend("signup", [nil, "2026-12-01T00:00:00Z", "2026-12-01T09:00:00Z", "2026-12-01T09:00:01Z"])
        return result
    }

    /// Which valuations the real evaluator enrolls, for each expression.
    static func matches(_ expressions: [String], _ valuations: [[String: String]]) throws -> [[Bool]] {
        var yaml = attributes + "\n---\nkind: Layer\nname: l\nunit: user_id\nparams:\n  p: { type: bool, default: false }\n"
        for (i, expression) in expressions.enumerated() {
            yaml +=
                "---\nkind: Layer\nname: l\(i)\nunit: user_id\n---\nkind: Experiment\nname: t\(i)\nlayer: l\(i)\nowner: o\nstatus: running\n"
            yaml +=
                "traffic: 100%\ntargeting: '\(expression.replacingOccurrences(of: "'", with: "''"))'\nvariants:\n  - { name: on, weight: 100% }\n"
        }
        let bundle = try Fixture.compile(yaml).bundle
        var result = [[Bool]](repeating: [], count: expressions.count)
        for valuation in valuations {
            let assignments = try bundle.assignments(units: ["user_id": "u1"], attributes: valuation, now: 0)
            let enrolled = Set(assignments.filter { $0.reason == .split }.map(\.experiment))
            for i in expressions.indices { result[i].append(enrolled.contains("t\(i)")) }
        }
        return result
    }

    @Test func everyClaimHoldsOnTheEvaluator() throws {
        var random = SeededRandom(seed: 99)
        let sources = (0..<240).map { _ in Self.randomExpression(&random) }
        let expressions = try sources.map(Self.parse)
        let valuations = Self.valuations()
        let sample = (0..<300).map { _ in valuations[Int(random.next() % UInt64(valuations.count))] }
        let matched = try Self.matches(expressions.map(\.description), sample)
        var contradictions = 0
        var implications = 0
        for (i, expression) in expressions.enumerated() {
            if Self.logic.contradiction(in: expression) != nil {
                contradictions += 1
                #expect(!matched[i].contains(true), "claimed never to match, but matches: \(expression)")
            }
            let j = (i + 1) % expressions.count
            if Self.logic.implies(expression, expressions[j]) {
                implications += 1
                for k in sample.indices where matched[i][k] {
                    #expect(matched[j][k], "claimed \(expression) implies \(expressions[j]), but \(sample[k]) matches only the first")
                }
            }
        }
        // The random corpus exercises both kinds of claim.
        #expect(contradictions >= 10 && implications >= 10, "\(contradictions) contradictions, \(implications) implications")
    }
}
