import AllotCore
import AllotTestSupport
import Testing

@testable import AllotCompiler

/// `lower(x)`: case-insensitive string comparison by ASCII folding (`docs/targeting.md`,
/// "Case-insensitive comparison"), through the real compiler and evaluator.
@Suite("Case-insensitive comparison")
struct CaseInsensitiveTests {
    static func request(_ email: String?) -> TestRequest {
        TestRequest(userID: "u2", deviceID: nil, values: email.map { ["email": .string($0)] } ?? [:])
    }

    /// (source, email, expected).
    static let cases: [(String, String?, Bool)] = [
        (#"lower(email) == "bob@example.com""#, "BOB@Example.COM", true),
        (#"lower(email) == "bob@example.com""#, "bob@example.com", true),
        (#"lower(email) == "bob@example.com""#, "bob@example.co", false),
        (#"lower(email) != "bob@example.com""#, "Bob@Example.com", false),
        (#"lower(email) != "bob@example.com""#, "alice@example.com", true),
        (#"lower(email) endsWith "@example.com""#, "X@EXAMPLE.COM", true),
        (#"lower(email) endsWith "@example.com""#, "x@example.org", false),
        (#"lower(email) startsWith "qa-""#, "QA-tester", true),
        (#"lower(email) contains "admin""#, "SysAdmin@x", true),
        (#"lower(email) contains """#, "", true),
        (#"lower(email) in ["root", "admin"]"#, "ADMIN", true),
        (#"lower(email) in ["root", "admin"]"#, "admins", false),
        (#"lower(email) not in ["root", "admin"]"#, "Root", false),
        // Only ASCII A-Z fold: other letters, and their capitals, are bytes like any other.
        (#"lower(email) == "élan""#, "ÉLAN", false),
        (#"lower(email) == "Élan""#, "ÉLAN", true),
        (#"lower(email) == "élan""#, "éLAN", true),
        (#"lower(email) == "straße""#, "STRASSE", false),
        (#"lower(email) == "k""#, "\u{212A}", false),  // KELVIN SIGN is not K
        (#"lower(email) == "i""#, "\u{130}", false),  // LATIN CAPITAL I WITH DOT ABOVE
        (#"lower(email) == "[@]""#, "[@]", true),  // `@` (0x40) and `[` (0x5B) border A-Z
        // Missing: every predicate is false, negations true.
        (#"lower(email) == "a""#, nil, false),
        (#"lower(email) != "a""#, nil, false),
        (#"lower(email) not in ["a"]"#, nil, true),
    ]

    @Test("documented semantics, through the real evaluator and the reference interpreter", arguments: cases)
    func documented(_ source: String, _ email: String?, _ expected: Bool) throws {
        let harness = try EvaluatorHarness(source: source)
        #expect(harness.matches(Self.request(email)) == expected, "\(email ?? "missing")")
        let expression = try Targeting.check(source).get()
        #expect(ReferenceInterpreter.evaluate(expression, Self.request(email)) == expected, "reference interpreter")
    }

    @Test("canonical form, bytecode and size")
    func canonicalFormAndBytecode() throws {
        let expression = try Targeting.check(#"lower( email )endsWith"@x.io" && lower(`email`) not in [ "a","b" ]"#).get()
        #expect(expression.description == #"lower(email) endsWith "@x.io" && lower(email) not in ["a", "b"]"#)
        #expect(try Targeting.check(expression.description).get() == expression)
        var pool = TestStringPool()
        let compiled = try Targeting.compile(#"lower(email) == "a""#, pool: &pool).get()
        let email = UInt8(TargetingFixtures.index(of: "email"))
        #expect(compiled.code == [0x01, 0x80, email, 0, 0, 0, 0, 0, 1, 0, 0, 0])
        let list = try Targeting.compile(#"lower(email) in ["a", "bc"]"#, pool: &pool).get()
        #expect(Array(list.code.prefix(8)) == [0x02, 1, email, 0, 2, 0, 0, 0])
        #expect(list.code.count == TargetingCodeGenerator.size(of: list.expression, environment: TargetingFixtures.environment))
        // An attribute may still be called `lower`; only `lower(` is the function.
        let environment = TargetingEnvironment(attributes: ["lower": .init(index: 0, type: .string)], unitTypes: [], segments: [:])
        #expect(
            try Targeting.check(#"lower == "x" && lower(lower) == "x""#, environment: environment).get().description
                == #"lower == "x" && lower(lower) == "x""#)
    }

    @Test("random strings and constants agree with the reference interpreter")
    func randomAgreement() throws {
        var random = SeededRandom(seed: 316)
        let alphabet = ["a", "A", "b", "B", "z", "Z", "@", "[", "`", "{", "é", "É", "ß", "\u{212A}", "k", "K"]
        func word(_ maxLength: Int) -> String {
            (0..<Int(random.next() % UInt64(maxLength + 1))).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }.joined()
        }
        var outcomes = [0, 0]
        for _ in 0..<24 {
            let constant = ReferenceInterpreter.asciiLowercased(word(3))
            let op = ["==", "!=", "startsWith", "endsWith", "contains"][Int(random.next() % 5)]
            let source =
                random.next() % 4 == 0
                ? "lower(email) in [\(TargetingText.quoted(constant)), \(TargetingText.quoted(constant + "x"))]"
                : "lower(email) \(op) \(TargetingText.quoted(constant))"
            let harness = try EvaluatorHarness(source: source)
            let expression = try Targeting.check(source).get()
            for _ in 0..<80 {
                // Values built from the constant with random case and affixes, so matches are common.
                var value = String(constant.map { $0.isASCII && $0.isLetter && random.next() % 2 == 0 ? Character($0.uppercased()) : $0 })
                if random.next() % 2 == 0 { value = word(2) + value }
                if random.next() % 2 == 0 { value += word(2) }
                if random.next() % 5 == 0 { value = word(4) }
                let request = Self.request(value)
                let expected = ReferenceInterpreter.evaluate(expression, request)
                outcomes[expected ? 1 : 0] += 1
                #expect(harness.matches(request) == expected, "\(source) on \(value)")
            }
        }
        #expect(outcomes.min()! > 300, "\(outcomes)")
    }
}
