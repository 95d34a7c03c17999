import AllotCore
import Testing

@testable import AllotCompiler

/// One malformed expression and the diagnostic it must produce.
struct DiagnosticCase: CustomTestStringConvertible, Sendable {
    var source: String
    var message: String
    var column: Int
    var length: Int
    var hint: String? = nil

    var testDescription: String { source.isEmpty ? "(empty)" : source }
}

@Suite("Targeting diagnostics")
struct TargetingDiagnosticsTests {
    static let cases: [DiagnosticCase] = [
        // Lexical mistakes: reported, then read as what was meant.
        .init(source: #"country = "US""#, message: "'=' is not an operator", column: 9, length: 1, hint: "write '==' to compare"),
        .init(source: "is_beta & has(age)", message: "'&' is not an operator", column: 9, length: 1, hint: "write '&&'"),
        .init(source: "is_beta | has(age)", message: "'|' is not an operator", column: 9, length: 1, hint: "write '||'"),
        .init(source: "country == 'US'", message: "strings are written in double quotes", column: 12, length: 4, hint: #"write "US""#),
        .init(source: #"country == "US"#, message: "unterminated string", column: 12, length: 3),
        .init(source: #"email == "a\qb""#, message: #"invalid escape '\q' in a string"#, column: 12, length: 2),
        .init(source: #"email == "\u12""#, message: #"'\u' needs four hex digits"#, column: 11, length: 4),
        .init(source: #"email == "\uD800x""#, message: "unpaired surrogate escape", column: 11, length: 6),
        .init(source: "country == \"U\tS\"", message: "control character in a string", column: 14, length: 1, hint: "\\u0009"),
        .init(source: #"country == "US" @"#, message: "unexpected character '@'", column: 17, length: 1),
        .init(source: "age > - 5", message: "unexpected character '-'", column: 7, length: 1, hint: "without a space"),
        .init(source: "age > 007", message: "numbers cannot have leading zeros", column: 7, length: 3),
        .init(source: "age > 1.", message: "expected a digit after '.' in a number", column: 7, length: 2),
        .init(source: "age > .5", message: "a number needs a digit before its '.'", column: 7, length: 1, hint: "0.5"),
        .init(source: "age > 2e", message: "expected a digit in the exponent", column: 7, length: 2),
        .init(source: "age > 1e999", message: "number 1e999 is out of range", column: 7, length: 5),
        .init(source: "app_version >= 5.2.0", message: "version 5.2.0 must be quoted", column: 16, length: 5, hint: #"write "5.2.0""#),
        .init(source: "`` == \"x\"", message: "empty quoted name", column: 1, length: 2),
        .init(source: "`tags == \"x\"", message: "unterminated quoted name", column: 1, length: 12),

        // Syntax.
        .init(source: "", message: "empty targeting expression", column: 1, length: 1),
        .init(source: "country == ", message: "expected a value after '==', found the end of the expression", column: 12, length: 1),
        .init(source: #"(country == "US""#, message: "expected ')' at the end of the expression", column: 17, length: 1, hint: "column 1"),
        .init(source: #"country == "US")"#, message: "unexpected ')'", column: 16, length: 1, hint: "no '(' is open"),
        .init(source: #"country in ["US" "CA"]"#, message: "expected ',' or ']' in the list", column: 18, length: 4),
        .init(
            source: #"country in ["US""#, message: "expected ',' or ']' in the list, found the end", column: 17, length: 1,
            hint: "column 12"),
        .init(source: #"country in ["US",]"#, message: "trailing ',' in the list", column: 17, length: 1),
        .init(
            source: "country in [US]", message: "expected a value in the list, found the name 'US'", column: 13, length: 2, hint: #""US""#),
        .init(source: "country in US", message: "unknown attribute 'US' on the right of 'in'", column: 12, length: 2, hint: #"["US"]"#),
        .init(
            source: "country == US", message: "unknown attribute 'US' on the right of '=='", column: 12, length: 2,
            hint: #"quote text values: "US""#),
        .init(source: "hass(age)", message: "unknown function 'hass'", column: 1, length: 4, hint: "did you mean 'has'?"),
        .init(source: #"has("age")"#, message: "has(...) takes an attribute name without quotes", column: 5, length: 5, hint: "has(age)"),
        .init(source: "has(5)", message: "expected an attribute name in has(...)", column: 5, length: 1),
        .init(
            source: #"email startswith "a""#, message: "expected an operator after 'email', found 'startswith'", column: 7, length: 10,
            hint: "did you mean 'startsWith'?"),
        .init(source: "is_beta and has(age)", message: "'and' is not an operator", column: 9, length: 3, hint: "write '&&'"),
        .init(source: "is_beta OR has(age)", message: "'OR' is not an operator", column: 9, length: 2, hint: "write '||'"),
        .init(source: "not is_beta", message: "'not' only appears in 'not in'", column: 1, length: 3, hint: "write '!'"),
        .init(
            source: #"!country == "US""#, message: "'!' applies to a single operand", column: 1, length: 1,
            hint: #"write !(country == "US")"#),
        .init(source: #""US""#, message: "a value alone is not a condition", column: 1, length: 4),
        .init(source: #"country == "US" country == "CA""#, message: "expected '&&' or '||', found 'country'", column: 17, length: 7),
        .init(source: "age > 5 == 6", message: "unexpected '==' after a complete comparison", column: 9, length: 2, hint: "do not chain"),
        .init(source: "&& is_beta", message: "expected a condition, found '&&'", column: 1, length: 2),
        .init(source: "is_beta &&", message: "expected a condition, found the end of the expression", column: 11, length: 1),
        .init(source: "()", message: "expected a condition, found ')'", column: 2, length: 1),
        .init(
            source: "semver(5.2) < app_version", message: "semver(...) takes a version in double quotes, found '5.2'", column: 8, length: 3,
            hint: #"semver("5.2")"#),
        .init(
            source: "in segment(staff)", message: "segment(...) takes the segment's name in double quotes", column: 12, length: 5,
            hint: #"segment("staff")"#),
        .init(source: #"segment("staff")"#, message: "segment(...) is used with 'in'", column: 1, length: 7),
        .init(source: #"in ["US"]"#, message: "'in' needs a value on its left", column: 1, length: 2),
        .init(source: #"country not ["US"]"#, message: "expected 'in' after 'not'", column: 13, length: 1),
        .init(source: #""US" in segment("staff")"#, message: "the left of 'in segment(...)' must be a unit type", column: 1, length: 4),

        // Names.
        .init(source: #"contry == "US""#, message: "unknown attribute 'contry'", column: 1, length: 6, hint: "did you mean 'country'?"),
        .init(source: "True", message: "unknown attribute 'True'", column: 1, length: 4, hint: "write true in lowercase"),
        .init(source: "age == null", message: "unknown attribute 'null' on the right of '=='", column: 8, length: 4),
        .init(source: "`5g` == true", message: "unknown attribute '5g'", column: 1, length: 4),
        .init(source: #"in segment("staf")"#, message: "unknown segment 'staf'", column: 12, length: 6, hint: "did you mean 'staff'?"),
        .init(
            source: #"userid in segment("staff")"#, message: "unknown unit type 'userid'", column: 1, length: 6,
            hint: "did you mean 'user_id'?"),
        .init(
            source: #"device_id in segment("staff")"#, message: "segment 'staff' holds user_id units, not device_id", column: 1, length: 9),
        .init(source: #"user_id == "u1""#, message: "'user_id' is a unit type, not an attribute", column: 1, length: 7, hint: "segment"),
        .init(source: #"country in segment("staff")"#, message: "'country' is an attribute, not a unit type", column: 1, length: 7),

        // Types.
        .init(
            source: "country > 5", message: "cannot compare string attribute 'country' with number 5", column: 11, length: 1,
            hint: #"quote the value: "5""#),
        .init(
            source: #"is_beta == "yes""#, message: #"cannot compare bool attribute 'is_beta' with string "yes""#, column: 12, length: 5,
            hint: "compare with true or false"),
        .init(
            source: #"is_beta == "true""#, message: "cannot compare bool attribute 'is_beta' with string", column: 12, length: 6,
            hint: "remove the quotes: true"),
        .init(
            source: #"age == "30""#, message: #"cannot compare number attribute 'age' with string "30""#, column: 8, length: 4,
            hint: "remove the quotes: 30"),
        .init(
            source: "app_version >= 5.2", message: "cannot compare semver attribute 'app_version' with number 5.2", column: 16, length: 3,
            hint: #"quote versions: "5.2""#),
        .init(source: "is_beta < true", message: "operator '<' does not apply to bool attribute 'is_beta'", column: 9, length: 1),
        .init(
            source: #"age startsWith "1""#, message: "operator 'startsWith' does not apply to number attribute 'age'", column: 5, length: 10
        ),
        .init(
            source: #"tags == "beta""#, message: "operator '==' does not apply to list attribute 'tags'", column: 6, length: 2,
            hint: "tags contains"),
        .init(source: "tags contains 5", message: "cannot compare list attribute 'tags' with number 5", column: 15, length: 1),
        .init(source: #"country in ["US", 5]"#, message: "list mixes string and number values", column: 19, length: 1),
        .init(source: "country in []", message: "empty list", column: 12, length: 2),
        .init(
            source: "country in [1, 2]", message: "cannot compare string attribute 'country' with a list of number values", column: 12,
            length: 6),
        .init(source: #"country in ["US", "US"]"#, message: #""US" appears twice in the list"#, column: 19, length: 4),
        .init(source: #"app_version in ["5.2", "5.2.0"]"#, message: #""5.2.0" appears twice in the list"#, column: 24, length: 7),
        .init(source: "is_beta in [true]", message: "'in [...]' does not apply to bool attribute 'is_beta'", column: 9, length: 2),
        .init(
            source: #"tags not in ["a"]"#, message: "'not in [...]' does not apply to list attribute 'tags'", column: 6, length: 6,
            hint: "one value at a time"),
        .init(
            source: #"country == "XX""#, message: #""XX" is not an allowed value of 'country'"#, column: 12, length: 4,
            hint: #"allowed values: "CA", "DE""#),
        .init(
            source: #"country == "us""#, message: #""us" is not an allowed value of 'country'"#, column: 12, length: 4,
            hint: #"did you mean "US"?"#),
        .init(source: #"roles contains "root""#, message: #""root" is not an allowed value of 'roles'"#, column: 16, length: 6),
        .init(
            source: #""admn" in roles"#, message: #""admn" is not an allowed value of 'roles'"#, column: 1, length: 6,
            hint: #"did you mean "admin"?"#),
        .init(
            source: #"country == email"#, message: "comparing two attributes ('country' and 'email') is not supported", column: 1,
            length: 16),
        .init(source: #""US" == "CA""#, message: "this compares two values; one side must be an attribute", column: 1, length: 12),
        .init(source: #""US" in ["US"]"#, message: "'in [...]' needs an attribute on its left", column: 1, length: 4),
        .init(source: #"app_version >= "5.x""#, message: #""5.x" is not a semantic version"#, column: 16, length: 5),
        .init(source: #"app_version < semver("next")"#, message: #""next" is not a semantic version"#, column: 22, length: 6),
        .init(
            source: #"country == semver("1.0.0")"#, message: "cannot compare string attribute 'country' with semver", column: 12, length: 15
        ),
        .init(
            source: #""beta" in country"#, message: "needs a list attribute on the right; 'country' is a string attribute", column: 11,
            length: 7, hint: "contains"),
        .init(source: "country", message: "'country' is a string attribute, not a condition", column: 1, length: 7, hint: "has(country)"),
        .init(
            source: #""abc" startsWith email"#, message: "'startsWith' needs the attribute on its left", column: 7, length: 10,
            hint: #"write email startsWith "abc""#),
        .init(
            source: #"country == ["US"]"#, message: "'==' cannot compare with a list", column: 9, length: 2,
            hint: #"write country in ["US"]"#),
        .init(
            source: #"country != ["US"]"#, message: "'!=' cannot compare with a list", column: 9, length: 2,
            hint: #"write country not in ["US"]"#),
        // Version ranges.
        .init(
            source: #"app_version in semver("1.2.3")"#, message: #""1.2.3" is one version, not a range"#, column: 23, length: 7,
            hint: #"write app_version == semver("1.2.3")"#),
        .init(
            source: #"app_version in semver(">=1.2")"#, message: #"">=1.2" is not a version range"#, column: 23, length: 7,
            hint: #""^5.2""#),
        .init(
            source: #"app_version in semver("^1.2-beta")"#, message: #""^1.2-beta" is not a version range"#, column: 23, length: 11,
            hint: "a pre-release needs all three"),
        .init(
            source: #"app_version not in semver("~1.x")"#, message: #""~1.x" is not a version range"#, column: 27, length: 6),
        .init(
            source: #"app_version in semver("^18446744073709551615")"#, message: "has no upper bound that fits 64 bits", column: 23,
            length: 23),
        .init(
            source: #"country in semver("^1.2")"#,
            message: "'in semver(...)' applies to semver attributes; 'country' is a string attribute", column: 9, length: 17,
            hint: "declare 'country' as a semver attribute"),
        .init(
            source: #"app_version >= semver("^1.2")"#, message: #""^1.2" is not a semantic version"#, column: 23, length: 6,
            hint: #"a range is tested with 'in', e.g. app_version in semver("^1.2")"#),
        .init(
            source: #""1.2.3" in semver("^1")"#, message: "'in semver(...)' needs a semver attribute on its left", column: 1, length: 7),
        // Case-insensitive comparison.
        .init(
            source: #"lower(email) == "Bob@x.io""#, message: #""Bob@x.io" has capital letters, which lower(email) never has"#,
            column: 17, length: 10, hint: #"write it in lowercase: "bob@x.io""#),
        .init(
            source: #"lower(email) in ["a", "B"]"#, message: #""B" has capital letters"#, column: 23, length: 3, hint: #""b""#),
        .init(
            source: #"lower(email) < "m""#, message: "operator '<' does not apply to lower(...)", column: 14, length: 1,
            hint: "order compares bytes"),
        .init(
            source: #"lower(age) == "5""#, message: "lower(...) applies to string attributes; 'age' is a number attribute", column: 7,
            length: 3, hint: "age > 0"),
        .init(source: "lower(email) == 5", message: "cannot compare lower(email) with number 5", column: 17, length: 1, hint: #""5""#),
        .init(
            source: "lower(email)", message: "lower(...) alone is not a condition", column: 1, length: 12, hint: #"lower(email) == "...""#),
        .init(source: #"lower("email") == "a""#, message: "lower(...) takes an attribute name without quotes", column: 7, length: 7),
        .init(source: #"lower(emial) == "a""#, message: "unknown attribute 'emial'", column: 7, length: 5, hint: "did you mean 'email'?"),
        .init(source: #"lower(email) in ["a", "a"]"#, message: #""a" appears twice in the list"#, column: 23, length: 3),
        .init(source: #"lowr(email) == "a""#, message: "unknown function 'lowr'", column: 1, length: 4, hint: "did you mean 'lower'?"),
        .init(
            source: #"lower(email) in tags"#, message: "'lower(email) in' needs a list of lowercase strings", column: 1, length: 20),
    ]

    @Test("each malformed expression reports the right message at the right place", arguments: cases)
    func reports(_ test: DiagnosticCase) throws {
        let diagnostics = Targeting.diagnostics(test.source)
        let match = diagnostics.first { $0.message.contains(test.message) }
        let found = try #require(match, "no diagnostic containing \(test.message); got \(diagnostics.map(\.description))")
        #expect(found.severity == .error)
        #expect(found.location?.file == "test.yaml")
        #expect(found.location?.line == 1)
        #expect(found.location?.column == test.column, "column")
        #expect(found.location?.length == test.length, "length")
        if let hint = test.hint {
            #expect(found.hint?.contains(hint) == true, "hint \(found.hint ?? "nil") lacks \(hint)")
        }
    }

    @Test("every diagnostic comes with a hint", arguments: cases)
    func hints(_ test: DiagnosticCase) {
        for diagnostic in Targeting.diagnostics(test.source) {
            #expect(diagnostic.hint?.isEmpty == false, "\(diagnostic)")
        }
    }

    @Test("the cases are distinct expressions", arguments: [cases])
    func distinct(_ cases: [DiagnosticCase]) {
        #expect(Set(cases.map(\.source)).count == cases.count)
        #expect(cases.count >= 25)
    }

    @Test("every error of an expression is reported, in source order")
    func allErrors() {
        let diagnostics = Targeting.diagnostics(#"contry == "US" && age > "x" && is_beta == 1 && in segment("nope")"#)
        #expect(
            diagnostics.map(\.message) == [
                "unknown attribute 'contry'",
                #"cannot compare number attribute 'age' with string "x""#,
                "cannot compare bool attribute 'is_beta' with number 1",
                "unknown segment 'nope'",
            ])
        #expect(diagnostics.map { $0.location!.column } == [1, 25, 43, 59])
    }

    @Test("lexical, syntax and type errors are all found in one run")
    func mixedErrors() {
        let diagnostics = Targeting.diagnostics(#"country = "XX" & agee > 5 || (has(tags) && tags == "a""#)
        #expect(
            diagnostics.map(\.message) == [
                "'=' is not an operator",
                #""XX" is not an allowed value of 'country'"#,
                "'&' is not an operator",
                "unknown attribute 'agee'",
                "operator '==' does not apply to list attribute 'tags'",
                "expected ')' at the end of the expression",
            ])
        #expect(diagnostics.map { $0.location!.column } == [9, 11, 16, 18, 49, 55])
    }

    @Test("a syntax error in one operand does not hide type errors in the others")
    func recovery() {
        let diagnostics = Targeting.diagnostics(#"(age > ) && is_beta == "no" || country in [US, CA]"#)
        #expect(
            diagnostics.map(\.message) == [
                "expected a value after '>', found ')'",
                #"cannot compare bool attribute 'is_beta' with string "no""#,
                "expected a value in the list, found the name 'US'",
                "expected a value in the list, found the name 'CA'",
            ])
    }

    @Test("locations come from the caller's locate, so multi-line YAML scalars point at the right line")
    func locate() {
        let source = "is_beta &&\n  contry == \"US\""
        // The scalar started at line 4, column 12; continuation lines are indented by 2 in the file.
        let result = TargetingCompiler.check(source, environment: TargetingFixtures.environment) { offset in
            let before = source.unicodeScalars.prefix(offset)
            let line = before.filter { $0 == "\n" }.count
            let column = before.count - (before.lastIndex(of: "\n").map { before.distance(from: before.startIndex, to: $0) + 1 } ?? 0)
            return SourceLocation(file: "x.yaml", line: 4 + line, column: (line == 0 ? 12 : 1) + column)
        }
        guard case .failure(let failure) = result else {
            Issue.record("expected a failure")
            return
        }
        #expect(failure.diagnostics.count == 1)
        #expect(failure.diagnostics.first?.location == SourceLocation(file: "x.yaml", line: 5, column: 3, length: 6))
    }

    @Test("the renderer puts the caret under the offending token")
    func rendered() {
        let source = #"country == "US" && age > "18""#
        let diagnostics = Targeting.diagnostics(source)
        let text = DiagnosticRenderer(sources: ["test.yaml": source]).render(diagnostics)
        #expect(
            text == """
                test.yaml:1:26: error: cannot compare number attribute 'age' with string "18"
                 1 | country == "US" && age > "18"
                   |                          ^~~~
                  hint: remove the quotes: 18
                """)
    }
}
