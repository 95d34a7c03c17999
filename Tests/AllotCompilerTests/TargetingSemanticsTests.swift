import AllotCore
import AllotTestSupport
import Testing

@testable import AllotCompiler

@Suite("Targeting semantics")
struct TargetingSemanticsTests {
    /// Compiles `source` (as an experiment's targeting, through the whole compiler) into a bundle.
    static func harness(_ source: String) throws -> EvaluatorHarness {
        try EvaluatorHarness(source: source)
    }

    static func request(_ values: [String: RequestValue], user: String = "u2", device: String? = nil) -> TestRequest {
        TestRequest(userID: user, deviceID: device, values: values)
    }

    /// Hand-picked cases for each documented rule: (source, request, expected).
    static let cases: [(String, TestRequest, Bool)] = [
        // A predicate on a missing attribute is false, whatever its operator...
        (#"country != "US""#, request([:]), false),
        (#"country == "US""#, request([:]), false),
        ("age < 5", request([:]), false),
        ("is_beta == false", request([:]), false),
        (#"tags contains "a""#, request([:]), false),
        // ...so negations of it are true.
        (#"!(country == "US")"#, request([:]), true),
        (#"country not in ["US"]"#, request([:]), true),
        ("!is_beta", request([:]), true),
        ("!has(age)", request([:]), true),
        (#"country != "US""#, request(["country": .string("CA")]), true),
        (#"country not in ["US", "CA"]"#, request(["country": .string("GB")]), true),
        (#"country not in ["US", "CA"]"#, request(["country": .string("CA")]), false),
        // Bool attributes.
        ("is_beta", request(["is_beta": .bool(true)]), true),
        ("is_beta", request(["is_beta": .bool(false)]), false),
        ("is_beta == false", request(["is_beta": .bool(false)]), true),
        ("has(is_beta)", request(["is_beta": .bool(false)]), true),
        // Strings compare UTF-8 bytes: uppercase before lowercase, no Unicode normalisation.
        (#"email < "a""#, request(["email": .string("B")]), true),
        (#"email > "Z""#, request(["email": .string("a")]), true),
        (#"email < "ab""#, request(["email": .string("a")]), true),
        (#"email == "é""#, request(["email": .string("e\u{301}")]), false),
        (#"email in ["é"]"#, request(["email": .string("é")]), true),
        (#"email endsWith "@example.com""#, request(["email": .string("x@example.com")]), true),
        (#"email endsWith "@example.com""#, request(["email": .string("x@EXAMPLE.com")]), false),
        (#"email startsWith "x@""#, request(["email": .string("x@example.com")]), true),
        (#"email contains "ample""#, request(["email": .string("x@example.com")]), true),
        (#"email contains """#, request(["email": .string("")]), true),
        (#"email startsWith "abc""#, request(["email": .string("ab")]), false),
        // Numbers are IEEE doubles; NaN fails every number predicate, even !=.
        ("age >= 18", request(["age": .number(18)]), true),
        ("age > 17.999", request(["age": .number(18)]), true),
        ("age == 0", request(["age": .number(-0.0)]), true),
        ("age != 5", request(["age": .number(.nan)]), false),
        ("age in [1, 2]", request(["age": .number(.nan)]), false),
        ("age > 1e300", request(["age": .number(.infinity)]), true),
        ("age == 0.3", request(["age": .number(0.1 + 0.2)]), false),
        // Semver precedence (semver.org 2.0).
        (#"app_version >= "5.2""#, request(["app_version": .semver("5.2.0")]), true),
        (#"app_version >= "5.2.0""#, request(["app_version": .semver("5.2.0-rc.1")]), false),
        (#"app_version > "5.9.0""#, request(["app_version": .semver("5.10.0")]), true),
        (#"app_version < "1.0.0-beta.11""#, request(["app_version": .semver("1.0.0-beta.2")]), true),
        (#"app_version < "1.0.0-alpha.beta""#, request(["app_version": .semver("1.0.0-alpha.1")]), true),
        (#"app_version == "5.2.0""#, request(["app_version": .semver("v5.2.0+build.9")]), true),
        (#"app_version in ["5.2.0", "6.0.0"]"#, request(["app_version": .semver("6.0.0")]), true),
        (#"app_version not in ["5.2.0", "6.0.0"]"#, request(["app_version": .semver("6.0.1")]), true),
        // Lists.
        (#""beta" in tags"#, request(["tags": .list(["alpha", "beta"])]), true),
        (#"tags contains "beta""#, request(["tags": .list([])]), false),
        (#"has(tags)"#, request(["tags": .list([])]), true),
        (#""beta" not in tags"#, request(["tags": .list(["alpha"])]), true),
        // Segments: ids of the segment's own unit type, or its rule.
        (#"in segment("staff")"#, request([:], user: "u1"), true),
        (#"user_id in segment("staff")"#, request([:], user: "u2"), false),
        (#"in segment("devices")"#, request([:], device: "d1"), true),
        (#"in segment("devices")"#, request([:]), false),
        (#"not in segment("devices")"#, request([:]), true),
        (#"in segment("beta_rule")"#, request(["is_beta": .bool(true)]), true),
        // Short circuits give the same answers as full evaluation.
        (#"is_beta && age > 18 || in segment("staff")"#, request(["is_beta": .bool(false)], user: "u3"), true),
        (#"(is_beta || is_employee) && has(age)"#, request(["is_employee": .bool(true), "age": .number(1)]), true),
        (#"(is_beta || is_employee) && has(age)"#, request(["is_beta": .bool(true)]), false),
        ("true", request([:]), true),
        ("false || !true", request([:]), false),
    ]

    @Test("documented semantics, through the real evaluator", arguments: cases)
    func documented(_ source: String, _ request: TestRequest, _ expected: Bool) throws {
        let harness = try Self.harness(source)
        #expect(harness.matches(request) == expected, "\(request)")
        let expression = try Targeting.check(source).get()
        #expect(ReferenceInterpreter.evaluate(expression, request) == expected, "reference interpreter")
    }

    @Test("random expressions agree with the reference interpreter on random requests", arguments: [11, 12, 13, 14, 15, 16] as [UInt64])
    func randomAgreement(seed: UInt64) throws {
        var generator = ExpressionGenerator(random: SeededRandom(seed: seed))
        var random = SeededRandom(seed: ~seed)
        var outcomes = [0, 0]
        for _ in 0..<60 {
            let expression = generator.expression(depth: 4)
            let harness = try Self.harness(expression.description)
            for _ in 0..<40 {
                let request = TestRequest.random(using: &random)
                let expected = ReferenceInterpreter.evaluate(expression, request)
                outcomes[expected ? 1 : 0] += 1
                let actual = harness.matches(request)
                #expect(actual == expected, "\(expression) on \(request)")
                if actual != expected { return }
            }
        }
        // Both answers must be common, or the comparison proves little.
        #expect(outcomes.min()! > 300, "\(outcomes)")
    }

    @Test("predicates over every attribute type agree on every pooled value")
    func exhaustivePredicates() throws {
        // Each leaf kind against each pooled value of its attribute, present and absent.
        var generator = ExpressionGenerator(random: SeededRandom(seed: 77))
        for _ in 0..<150 {
            let expression = generator.leaf()
            let harness = try Self.harness(expression.description)
            for attribute in expression.referencedAttributes.isEmpty ? ["age"] : expression.referencedAttributes {
                for value in Self.pooledValues(attribute) + [nil] {
                    for user in ["u1", "u2"] {
                        var request = Self.request([:], user: user, device: user == "u1" ? "d1" : nil)
                        request.values[attribute] = value
                        #expect(
                            harness.matches(request) == ReferenceInterpreter.evaluate(expression, request), "\(expression) on \(request)")
                    }
                }
            }
        }
    }

    static func pooledValues(_ attribute: String) -> [RequestValue] {
        switch TargetingFixtures.type(of: attribute) {
        case .string: return (TargetingPools.strings + TargetingPools.requestCountries).map { .string($0) }
        case .number: return TargetingPools.requestNumbers.map { .number($0) }
        case .bool: return [.bool(true), .bool(false)]
        case .semver: return TargetingPools.requestVersions.map { .semver($0) }
        case .ip, .datetime: return []  // the fixtures have no ip or datetime attribute
        case .stringList:
            return [.list([])] + (TargetingPools.strings + ["admin", "dev", "qa"]).map { .list([$0]) } + [.list(["qa", "dev"])]
        }
    }
}
