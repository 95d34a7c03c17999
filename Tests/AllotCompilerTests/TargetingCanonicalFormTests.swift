import AllotCore
import Testing

@testable import AllotCompiler

@Suite("Targeting canonical form")
struct TargetingCanonicalFormTests {
    /// Source as written → canonical description.
    static let normalisations: [(String, String)] = [
        (#"country=="US""#, #"country == "US""#),
        (#""US" == country"#, #"country == "US""#),
        ("18 <= age", "age >= 18"),
        ("5 < age", "age > 5"),
        ("5 != age", "age != 5"),
        (#""beta" in tags"#, #"tags contains "beta""#),
        (#""beta" not in tags"#, #"!(tags contains "beta")"#),
        ("is_beta == true", "is_beta"),
        ("is_beta != false", "is_beta"),
        ("true == is_beta", "is_beta"),
        ("is_beta != true", "is_beta == false"),
        ("false == is_beta", "is_beta == false"),
        (#"!(country in ["US","CA"])"#, #"country not in ["US", "CA"]"#),
        (#"app_version >= "5.2""#, #"app_version >= semver("5.2.0")"#),
        (#"app_version in ["v5.2", semver("6.0.0-beta.1+build.5")]"#, #"app_version in [semver("5.2.0"), semver("6.0.0-beta.1")]"#),
        ("(is_beta && is_employee) && has(age)", "is_beta && is_employee && has(age)"),
        ("is_beta && (is_employee && has(age))", "is_beta && is_employee && has(age)"),
        ("(is_beta || is_employee) && has(age)", "(is_beta || is_employee) && has(age)"),
        ("is_beta || (is_employee && has(age))", "is_beta || is_employee && has(age)"),
        ("(is_beta || is_employee) || (has(age) || has(score))", "is_beta || is_employee || has(age) || has(score)"),
        ("((((is_beta))))", "is_beta"),
        ("!(!is_beta)", "!!is_beta"),
        ("!(is_beta && has(age))", "!(is_beta && has(age))"),
        ("!(age > 5)", "!(age > 5)"),
        ("age > -0", "age > 0"),
        ("age > 1.50", "age > 1.5"),
        ("age > 1E3", "age > 1000"),
        ("score < 1e21", "score < 1e+21"),
        ("score < 0.0000001", "score < 1e-07"),
        ("score >= -12.25e1", "score >= -122.5"),
        (#"email == "\u00e9\/\u0041""#, #"email == "é/A""#),
        (#"email == "a\u0001\t""#, #"email == "a\u0001\t""#),
        (#"email endsWith"@example.com""#, #"email endsWith "@example.com""#),
        (#"user_id  in  segment( "staff" )"#, #"user_id in segment("staff")"#),
        (#"!(in segment("staff"))"#, #"not in segment("staff")"#),
        (#"!(device_id in segment("devices"))"#, #"device_id not in segment("devices")"#),
        ("`is_beta`", "is_beta"),
        ("true", "true"),
        ("!false", "!false"),
        ("has ( age )", "has(age)"),
        ("is_beta\n  && has(age)\n", "is_beta && has(age)"),
        ("is_beta || is_employee && has(age) || has(score)", "is_beta || is_employee && has(age) || has(score)"),
        (#"!(country not in ["US"])"#, #"!(country not in ["US"])"#),
        (#"!has(age) && !!(tags contains "x")"#, #"!has(age) && !!(tags contains "x")"#),
    ]

    @Test("sources normalise to their canonical text", arguments: normalisations)
    func canonical(_ source: String, _ expected: String) {
        #expect(Targeting.canonical(source) == expected)
    }

    @Test("canonical text is a fixed point", arguments: normalisations.map(\.1))
    func fixedPoint(_ canonical: String) throws {
        let first = try Targeting.check(canonical).get()
        let second = try Targeting.check(first.description).get()
        #expect(first == second)
        #expect(second.description == canonical)
    }

    /// Pairs that differ in formatting or in equivalent spelling must give identical code and text.
    static let equivalent: [(String, String)] = [
        (#"country in ["US", "CA"] && app_version >= semver("5.2.0")"#, "country in [\"US\",\"CA\"]\n&&\tapp_version>=\"5.2\""),
        (#"(is_beta) || ((is_employee))"#, "is_beta||is_employee"),
        (#""x" in tags"#, #"tags contains "x""#),
        ("is_beta == true && 18 <= age", "is_beta && age >= 18"),
        (#"!(email in ["a", "b"])"#, #"email not in ["a", "b"]"#),
        (#"email == "\u00e9""#, #"email == "é""#),
        ("is_beta && has(age) && has(score)", "(is_beta && has(age)) && has(score)"),
        ("age > 18", "age > 1.8e1"),
        (#"user_id not in segment("staff")"#, #"!(user_id in segment("staff"))"#),
    ]

    @Test("formatting does not change code or canonical text", arguments: equivalent)
    func formatting(_ a: String, _ b: String) throws {
        let first = try Targeting.compile(a).get()
        let second = try Targeting.compile(b).get()
        #expect(first.code == second.code)
        #expect(first.expression == second.expression)
        #expect(first.expression.description == second.expression.description)
    }

    @Test("strings equal to Swift but not byte-for-byte stay distinct")
    func canonicalEquivalence() throws {
        let composed = try Targeting.compile(#"email == "é""#).get()
        let decomposed = try Targeting.compile(#"email == "e\u0301""#).get()
        #expect(composed.expression != decomposed.expression)
        #expect(
            try Targeting.check(#"email in ["é", "e\u0301"]"#).get()
                == .membership(attribute: "email", [.string("é"), .string("e\u{301}")]))
    }

    @Test("names that are keywords or not identifiers print in backticks and round-trip")
    func quotedNames() throws {
        let environment = TargetingEnvironment(
            attributes: [
                "5g-capable": .init(index: 0, type: .bool), "in": .init(index: 1, type: .string),
                "geo:country": .init(index: 2, type: .string),
                "app.build": .init(index: 3, type: .number),
            ],
            unitTypes: ["user_id"])
        let expression = try Targeting.check(
            #"`5g-capable` && `in` == "x" && geo:country != "y" && app.build > 3"#, environment: environment
        ).get()
        #expect(expression.description == #"`5g-capable` && `in` == "x" && geo:country != "y" && app.build > 3"#)
        #expect(try Targeting.check(expression.description, environment: environment).get() == expression)
        #expect(TargetingCompiler.spelling(of: "in") == "`in`")
        #expect(TargetingCompiler.spelling(of: "geo:country") == "geo:country")
        #expect(TargetingCompiler.canReference("5g-capable"))
        #expect(!TargetingCompiler.canReference("a`b"))
    }

    @Test("referenced attributes and segments are sorted and unique")
    func references() throws {
        let compiled = try Targeting.compile(
            #"(has(tags) || in segment("staff")) && tags contains "a" && user_id in segment("staff") && age > 1 && not in segment("beta_rule")"#
        ).get()
        #expect(compiled.referencedAttributes == ["age", "tags"])
        #expect(compiled.referencedSegments == ["beta_rule", "staff"])
    }
}
