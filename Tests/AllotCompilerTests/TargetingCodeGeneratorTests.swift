import AllotCore
import Testing

@testable import AllotCompiler

private func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
private func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
private func le64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }
private func f64(_ value: Double) -> [UInt8] { le64(value.bitPattern) }
private func ref(_ offset: UInt32, _ length: UInt32) -> [UInt8] { le32(offset) + le32(length) }

/// Attribute indices in `TargetingFixtures`.
private let age: UInt16 = 0
private let appVersion: UInt16 = 1
private let country: UInt16 = 2
private let email: UInt16 = 3
private let isBeta: UInt16 = 4
private let isEmployee: UInt16 = 5
private let tags: UInt16 = 9

private func jump(_ op: TargetingOpcode, _ target: UInt32) -> [UInt8] { [op.rawValue, 0, 0, 0] + le32(target) }
private func flag(_ attribute: UInt16, _ value: UInt8 = 1) -> [UInt8] { [0x05, value] + le16(attribute) }

@Suite("Targeting code generation")
struct TargetingCodeGeneratorTests {
    /// Source → exact bytecode, with a fresh string pool (so the first string is at offset 0).
    static let golden: [(String, [UInt8])] = [
        (#"country == "US""#, [0x01, 0x00] + le16(country) + ref(0, 2)),
        (#"email startsWith "x""#, [0x01, 0x06] + le16(email) + ref(0, 1)),
        (#"email contains """#, [0x01, 0x08] + le16(email) + ref(0, 0)),
        ("age > 18", [0x03, 0x04] + le16(age) + f64(18)),
        ("age <= -2.5", [0x03, 0x03] + le16(age) + f64(-2.5)),
        ("age > -0", [0x03, 0x04] + le16(age) + f64(0)),
        ("age in [1, 2.5]", [0x04, 0x00] + le16(age) + le32(2) + f64(1) + f64(2.5)),
        (#"country not in ["US", "CA"]"#, [0x02, 0x00] + le16(country) + le32(2) + ref(0, 2) + ref(2, 2) + [0x0A]),
        ("is_beta", flag(isBeta)),
        ("is_beta == false", flag(isBeta, 0)),
        ("is_beta != true", flag(isBeta, 0)),
        (#"app_version >= semver("5.2.0-beta.1")"#, [0x06, 0x05] + le16(appVersion) + le64(5) + le64(2) + le64(0) + ref(0, 6)),
        (#"app_version < "10""#, [0x06, 0x02] + le16(appVersion) + le64(10) + le64(0) + le64(0) + ref(0, 0)),
        (
            #"app_version in ["1.0.0", "2.0.0"]"#,
            [0x06, 0x00] + le16(appVersion) + le64(1) + le64(0) + le64(0) + ref(0, 0) + jump(.jumpIfTrue, 80)
                + [0x06, 0x00] + le16(appVersion) + le64(2) + le64(0) + le64(0) + ref(0, 0)
        ),
        (#"tags contains "beta""#, [0x07, 0x00] + le16(tags) + ref(0, 4)),
        (#""beta" in tags"#, [0x07, 0x00] + le16(tags) + ref(0, 4)),
        ("has(tags)", [0x08, 0x00] + le16(tags)),
        (#"in segment("devices")"#, [0x09, 0, 0, 0] + le32(2)),
        (#"user_id in segment("staff")"#, [0x09, 0, 0, 0] + le32(0)),
        (#"not in segment("beta_rule")"#, [0x09, 0, 0, 0] + le32(1) + [0x0A]),
        ("true", [0x0D, 1]),
        ("!false", [0x0D, 0, 0x0A]),
        // && chains jump to the end on the first false.
        ("is_beta && age > 18", flag(isBeta) + jump(.jumpIfFalse, 24) + [0x03, 0x04] + le16(age) + f64(18)),
        (
            "is_beta && is_employee && has(age)",
            flag(isBeta) + jump(.jumpIfFalse, 28) + flag(isEmployee) + jump(.jumpIfFalse, 28) + [0x08, 0] + le16(age)
        ),
        (
            "is_beta || is_employee || has(age)",
            flag(isBeta) + jump(.jumpIfTrue, 28) + flag(isEmployee) + jump(.jumpIfTrue, 28) + [0x08, 0] + le16(age)
        ),
        // Threaded: a true `is_beta` skips the `jumpIfFalse` at 16 (which it would fall through) straight to `has(age)`.
        (
            "(is_beta || is_employee) && has(age)",
            flag(isBeta) + jump(.jumpIfTrue, 24) + flag(isEmployee) + jump(.jumpIfFalse, 28) + [0x08, 0] + le16(age)
        ),
        // Threaded: a false `is_beta` skips the `jumpIfTrue` at 16 straight to `has(age)`.
        (
            "is_beta && is_employee || has(age)",
            flag(isBeta) + jump(.jumpIfFalse, 24) + flag(isEmployee) + jump(.jumpIfTrue, 28) + [0x08, 0] + le16(age)
        ),
        // Threaded twice: a false `is_beta` goes straight to `has(age)`; a true `is_employee` skips
        // the outer `jumpIfFalse` straight to `has(score)`.
        (
            "((is_beta && is_employee) || has(age)) && has(score)",
            flag(isBeta) + jump(.jumpIfFalse, 24) + flag(isEmployee) + jump(.jumpIfTrue, 36) + [0x08, 0] + le16(age)
                + jump(.jumpIfFalse, 40) + [0x08, 0] + le16(8)
        ),
        // `not` is not a jump: nothing to thread.
        (
            "!(is_beta && is_employee) || has(age)",
            flag(isBeta) + jump(.jumpIfFalse, 16) + flag(isEmployee) + [0x0A] + jump(.jumpIfTrue, 29) + [0x08, 0] + le16(age)
        ),
    ]

    @Test("expressions compile to exactly this bytecode", arguments: golden)
    func bytes(_ source: String, _ expected: [UInt8]) throws {
        let compiled = try Targeting.compile(source).get()
        #expect(compiled.code == expected, "\(compiled.code)")
        #expect(TargetingCodeGenerator.size(of: compiled.expression, environment: TargetingFixtures.environment) == expected.count)
    }

    @Test("strings are interned left to right, and the empty string not at all")
    func internOrder() throws {
        var pool = TestStringPool()
        let compiled = try Targeting.compile(
            #"email == "z" || email in ["y", "", "x"] || tags contains "z" || app_version > "1.0.0-rc.1" || email == """#, pool: &pool
        ).get()
        #expect(pool.internCalls == ["z", "y", "x", "z", "rc.1"])
        #expect(compiled.code.count == TargetingCodeGenerator.size(of: compiled.expression, environment: TargetingFixtures.environment))
    }

    @Test("indices the bytecode cannot encode fail compilation instead of trapping")
    func badIndices() {
        let attributes = TargetingEnvironment(attributes: ["wide": .init(index: 70_000, type: .bool)], unitTypes: [])
        guard case .failure(let failure) = Targeting.compile("wide", environment: attributes) else {
            Issue.record("expected failure")
            return
        }
        #expect(failure.diagnostics.first?.message.contains("16-bit") == true)
        #expect(failure.diagnostics.first?.location?.length == 4)
        let segments = TargetingEnvironment(attributes: [:], unitTypes: [], segments: ["s": .init(index: -1)])
        guard case .failure(let failure) = Targeting.compile(#"in segment("s")"#, environment: segments) else {
            Issue.record("expected failure")
            return
        }
        #expect(failure.diagnostics.first?.message.contains("segment 's'") == true)
    }

    // MARK: Limits

    private static func numbers(_ count: Int) -> String {
        "[" + (0..<count).map(String.init).joined(separator: ", ") + "]"
    }

    @Test("a list may hold 4096 values, not 4097")
    func listLimit() throws {
        let largest = try Targeting.compile("age in \(Self.numbers(4096))").get()
        #expect(largest.code.count == 8 + 4096 * 8)
        let diagnostics = Targeting.diagnostics("age in \(Self.numbers(4097))")
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.message == "list has 4097 values; at most 4096 are allowed")
        #expect(diagnostics.first?.location?.column == 8)
    }

    @Test("a program may be 65536 bytes, not more")
    func programLimit() throws {
        // 8 + 4096 * 8 + 8 (jump) + 8 + 4093 * 8 = 65536.
        let exact = "age in \(Self.numbers(4096)) || score in \(Self.numbers(4093))"
        #expect(try Targeting.compile(exact).get().code.count == TargetingLimits.maxProgramLength)
        let over = "age in \(Self.numbers(4096)) || score in \(Self.numbers(4094))"
        let diagnostics = Targeting.diagnostics(over)
        #expect(diagnostics.map(\.message) == ["targeting compiles to 65544 bytes of bytecode; at most 65536 are allowed"])
        #expect(diagnostics.first?.location?.column == 1)
        #expect(diagnostics.first?.location?.length == over.unicodeScalars.count)
        if case .success = Targeting.check(over) { Issue.record("check must agree with compile") }
    }

    /// Nesting built three ways, at the limit and one past it; the error names where it crosses.
    static let depthCases: [(String, String, Int?)] = [
        ("parentheses at 32", String(repeating: "(", count: 31) + "is_beta" + String(repeating: ")", count: 31), nil),
        ("parentheses at 33", String(repeating: "(", count: 32) + "is_beta" + String(repeating: ")", count: 32), 1),
        ("parentheses past the parser's bound", String(repeating: "(", count: 200) + "is_beta" + String(repeating: ")", count: 200), 33),
        ("negations at 32", String(repeating: "!", count: 31) + "is_beta", nil),
        ("negations at 33", String(repeating: "!", count: 32) + "is_beta", 1),
        ("negations past the parser's bound", String(repeating: "!", count: 5000) + "is_beta", 33),
        ("chains at 32", alternating(32), nil),
        ("chains at 33", alternating(33), 10),
    ]

    /// `has(age) || (has(age) && (... (is_beta)))` nested to exactly `depth`: the predicate is 1, and
    /// each `has(age) op (inner)` adds 2 (a chain and parentheses), or 1 without the parentheses.
    static func alternating(_ depth: Int) -> String {
        var text = "is_beta"
        var current = 1
        var level = 0
        while current < depth {
            let op = level % 2 == 0 ? "&&" : "||"
            if current + 2 <= depth {
                text = "has(age) \(op) (\(text))"
                current += 2
            } else {
                text = "has(age) \(op) \(text)"
                current += 1
            }
            level += 1
        }
        return text
    }

    @Test("nesting is limited to 32 levels", arguments: depthCases)
    func depthLimit(_ name: String, _ source: String, _ errorColumn: Int?) {
        let diagnostics = Targeting.diagnostics(source)
        if let errorColumn {
            #expect(diagnostics.count == 1, "\(diagnostics)")
            #expect(diagnostics.first?.message == "expression nests deeper than 32 levels")
            #expect(diagnostics.first?.location?.column == errorColumn)
        } else {
            #expect(diagnostics.isEmpty, "\(diagnostics)")
        }
    }
}
