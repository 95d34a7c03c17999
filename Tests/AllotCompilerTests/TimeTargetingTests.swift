import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotCompiler

/// `now() >= "2026-12-01T09:00:00Z"` and datetime attributes (`docs/targeting.md`, "Time"):
/// boundaries, offsets, whole seconds, the request time the evaluator is given, and misuse.
@Suite("Time targeting")
struct TimeTargetingTests {
    /// 2026-12-01T09:00:00Z.
    static let nine: Int64 = 1_796_115_600

    static let yaml = """
        kind: Attributes
        attributes:
          signup: datetime
        ---
        kind: Layer
        name: checkout
        unit: user_id
        params:
          color: { type: string, default: blue }
        """

    /// Whether a request with `signup` (JSON text, or none) at request time `now` passes `targeting`.
    static func matches(_ targeting: String, now: Int64, signup: String? = nil) throws -> (matched: Bool, ignored: Int) {
        let source =
            yaml
            + "\n---\nkind: Experiment\nname: t\nlayer: checkout\nowner: o\nstatus: running\ntraffic: 100%\n"
            + "targeting: '\(targeting)'\nvariants:\n  - { name: on, weight: 100% }\n"
        let bundle = try Fixture.compile(source).bundle
        var input = EvaluationInput(for: bundle)
        let attributes = signup.map { #""signup":"# + $0 } ?? ""
        let request = #"{"units":{"user_id":"u1"},"attributes":{"# + attributes + "}}"
        try Array(request.utf8).withUnsafeBytes { try input.setJSON($0, bundle: bundle) }
        var outcomes: [Outcome] = []
        bundle.evaluate(input, now: now, into: &outcomes)
        return (outcomes.first?.reason == .split, input.ignoredAttributes.count)
    }

    /// (targeting, request time, signup as JSON or nil, expected).
    static let cases: [(String, Int64, String?, Bool)] = [
        // `>` and `<` are exclusive (Unleash's DATE_AFTER and DATE_BEFORE), `>=` and `<=` inclusive.
        (#"now() > "2026-12-01T09:00:00Z""#, nine, nil, false),
        (#"now() > "2026-12-01T09:00:00Z""#, nine + 1, nil, true),
        (#"now() >= "2026-12-01T09:00:00Z""#, nine, nil, true),
        (#"now() >= "2026-12-01T09:00:00Z""#, nine - 1, nil, false),
        (#"now() < "2026-12-01T09:00:00Z""#, nine, nil, false),
        (#"now() < "2026-12-01T09:00:00Z""#, nine - 1, nil, true),
        (#"now() <= "2026-12-01T09:00:00Z""#, nine, nil, true),
        // Offsets name the same instant; a plain date is midnight UTC; fractions are dropped.
        (#"now() >= "2026-12-01T10:00:00+01:00""#, nine, nil, true),
        (#"now() >= "2026-12-01T04:00:00-05:00""#, nine - 1, nil, false),
        (#"now() >= "2026-12-01""#, nine - 9 * 3600, nil, true),
        (#"now() >= "2026-12-01""#, nine - 9 * 3600 - 1, nil, false),
        (#"now() > "2026-12-01T09:00:00.999Z""#, nine, nil, false),
        (#"now() >= "2026-12-01T09:00:00.999Z""#, nine, nil, true),
        // Datetime attributes, with offsets.
        (#"signup < "2026-12-01T09:00:00Z""#, 0, #""2026-12-01T09:59:59+01:00""#, true),
        (#"signup == "2026-12-01T09:00:00Z""#, 0, #""2026-12-01T10:00:00+01:00""#, true),
        (#"signup >= "2026-12-01""#, 0, #""2026-11-30T23:59:59Z""#, false),
        (#"signup != "2026-12-01T09:00:00Z""#, 0, #""2026-12-01T09:00:00.5Z""#, false),
        (#"signup > "2026-12-01T09:00:00Z" && now() < "2027-01-01""#, nine, #""2026-12-02""#, true),
        // Missing or unusable: false, and the negation true.
        (#"signup < "2030-01-01""#, 0, nil, false),
        (#"signup < "2030-01-01""#, 0, #""yesterday""#, false),
        (#"signup < "2030-01-01""#, 0, "1796115600", false),
        (#"!(signup < "2030-01-01")"#, 0, #""2026-13-01T00:00:00Z""#, true),
    ]

    @Test("boundaries, offsets and whole seconds, at the request time the evaluator is given", arguments: cases)
    func semantics(_ targeting: String, _ now: Int64, _ signup: String?, _ expected: Bool) throws {
        let (matched, ignored) = try Self.matches(targeting, now: now, signup: signup)
        #expect(matched == expected)
        let parses = signup.map { RFC3339.parse(String($0.dropFirst().dropLast())) != nil && $0.hasPrefix("\"") } ?? true
        #expect(ignored == (parses ? 0 : 1))
    }

    @Test("canonical form and bytecode")
    func canonicalForm() throws {
        let environment = TargetingEnvironment(attributes: ["signup": .init(index: 0, type: .datetime)], unitTypes: [], segments: [:])
        let checked = try Targeting.check(#"now()>="2026-12-01T10:00:00+01:00" && signup < "2026-12-01""#, environment: environment).get()
        #expect(checked.description == #"now() >= "2026-12-01T09:00:00Z" && signup < "2026-12-01T00:00:00Z""#)
        #expect(try Targeting.check(checked.description, environment: environment).get() == checked)
        let compiled = try Targeting.compile(#"now() > "1970-01-01T00:00:01Z""#, environment: environment).get()
        #expect(compiled.code == [TargetingOpcode.nowCompare.rawValue, TargetingComparison.greater.rawValue, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
        let attribute = try Targeting.compile(#"signup <= "1969-12-31T23:59:59Z""#, environment: environment).get()
        #expect(
            attribute.code == [TargetingOpcode.timeCompare.rawValue, TargetingComparison.lessOrEqual.rawValue, 0, 0]
                + [UInt8](repeating: 0xFF, count: 8))
        // `now` is not a keyword: an attribute may be called `now`.
        let named = TargetingEnvironment(attributes: ["now": .init(index: 0, type: .bool)], unitTypes: [], segments: [:])
        #expect(
            try Targeting.check("now && now() > \"2026-01-01\"", environment: named).get().description
                == #"now && now() > "2026-01-01T00:00:00Z""#)
    }

    @Test("the validator refuses nowCompare with == or !=, and a number comparison on a datetime attribute")
    func validator() throws {
        let source =
            Self.yaml
            + "\n---\nkind: Experiment\nname: t\nlayer: checkout\nowner: o\nstatus: running\ntraffic: 100%\n"
            + "targeting: 'now() > \"1970-01-01T00:00:01Z\"'\nvariants:\n  - { name: on, weight: 100% }\n"
        let payload = try Fixture.compile(source).output.payload
        let head: [UInt8] = [TargetingOpcode.nowCompare.rawValue, TargetingComparison.greater.rawValue, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
        let at = try #require((0...(payload.count - head.count)).first { payload[$0..<($0 + head.count)].elementsEqual(head) })
        #expect(payload.withUnsafeBytes { (try? Payload.validate($0)) != nil })
        for (offset, byte, message) in [
            (1, TargetingComparison.equal.rawValue, "equality"), (1, TargetingComparison.notEqual.rawValue, "equality"),
            (1, TargetingComparison.startsWith.rawValue, "string-only"), (2, 1, "reserved byte"),
            (0, TargetingOpcode.numberCompare.rawValue, "applies a number operation to a datetime attribute"),
        ] as [(Int, UInt8, String)] {
            var bytes = payload
            bytes[at + offset] = byte
            do {
                _ = try bytes.withUnsafeBytes { try Payload.validate($0) }
                Issue.record("accepted \(byte) at \(offset)")
            } catch let error as BundleError {
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
    }

    static let environment = TargetingEnvironment(
        attributes: ["signup": .init(index: 0, type: .datetime), "age": .init(index: 1, type: .number)], unitTypes: [], segments: [:])

    static let misuse: [DiagnosticCase] = [
        .init(
            source: #"now() >= "2026-12-01 09:00""#, message: #""2026-12-01 09:00" is not an RFC 3339 time"#, column: 10, length: 18,
            hint: #""2026-12-01T09:00:00Z""#),
        .init(source: #"signup < "2026-02-30""#, message: #""2026-02-30" is not an RFC 3339 time"#, column: 10, length: 12),
        .init(
            source: #"now() == "2026-12-01T09:00:00Z""#, message: "operator '==' does not apply to now()", column: 7, length: 2,
            hint: #"now() >= "2026-12-01" && now() < "2026-12-02""#),
        .init(source: "now() > 1796115600", message: "cannot compare now() with number 1796115600", column: 9, length: 10),
        .init(source: "now()", message: "now() alone is not a condition", column: 1, length: 5),
        .init(source: #"now(1) > "2026-01-01""#, message: "now() takes no arguments, found '1'", column: 5, length: 1),
        .init(source: "now() > age", message: "now() is compared with a time constant, not an attribute", column: 9, length: 3),
        .init(
            source: #"signup in ["2026-01-01"]"#, message: "'in [...]' does not apply to datetime attribute 'signup'", column: 8, length: 2),
        .init(
            source: #"signup startsWith "2026""#, message: "operator 'startsWith' does not apply to datetime attribute 'signup'",
            column: 8, length: 10),
        .init(
            source: "signup > 5", message: "cannot compare datetime attribute 'signup' with number 5", column: 10, length: 1,
            hint: "RFC 3339"),
    ]

    @Test("each misuse reports the right message at the right place, with a hint", arguments: misuse)
    func diagnostics(_ test: DiagnosticCase) throws {
        let diagnostics = Targeting.diagnostics(test.source, environment: Self.environment)
        let found = try #require(
            diagnostics.first { $0.message.contains(test.message) }, "no \(test.message); got \(diagnostics.map(\.description))")
        #expect(found.location?.column == test.column, "column")
        #expect(found.location?.length == test.length, "length")
        if let hint = test.hint { #expect(found.hint?.contains(hint) == true, "hint \(found.hint ?? "nil") lacks \(hint)") }
        #expect(diagnostics.allSatisfy { $0.hint?.isEmpty == false }, "\(diagnostics)")
    }
}
