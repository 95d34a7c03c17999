import AllotCore
import AllotTestSupport
import Testing

@testable import AllotCompiler

/// `version in semver("^1.2.3")` and `semver("~1.2")`: the bounds of `docs/targeting.md`
/// ("Version ranges"), the canonical form they lower to, and evaluation through the real compiler
/// and evaluator against an independent definition.
@Suite("Semver ranges")
struct SemverRangeTests {
    /// Range, lower bound, exclusive upper major.minor.patch: checked by hand against the caret and
    /// tilde rules npm and Cargo document (including the 0.x caret rules).
    static let bounds: [(String, String, (UInt64, UInt64, UInt64))] = [
        ("^1.2.3", "1.2.3", (2, 0, 0)),
        ("^1.2", "1.2.0", (2, 0, 0)),
        ("^1", "1.0.0", (2, 0, 0)),
        ("^0.2.3", "0.2.3", (0, 3, 0)),
        ("^0.2", "0.2.0", (0, 3, 0)),
        ("^0.0.3", "0.0.3", (0, 0, 4)),
        ("^0.0", "0.0.0", (0, 1, 0)),
        ("^0", "0.0.0", (1, 0, 0)),
        ("^0.0.0", "0.0.0", (0, 0, 1)),
        ("^1.2.3-beta.2", "1.2.3-beta.2", (2, 0, 0)),
        ("^v5.2", "5.2.0", (6, 0, 0)),
        ("^1.2.3+build.7", "1.2.3", (2, 0, 0)),
        ("~1.2.3", "1.2.3", (1, 3, 0)),
        ("~1.2", "1.2.0", (1, 3, 0)),
        ("~1", "1.0.0", (2, 0, 0)),
        ("~0.2.3", "0.2.3", (0, 3, 0)),
        ("~0.0.3", "0.0.3", (0, 1, 0)),
        ("~0", "0.0.0", (1, 0, 0)),
        ("~1.2.3-rc.1", "1.2.3-rc.1", (1, 3, 0)),
    ]

    @Test("caret and tilde bounds, including 0.x", arguments: bounds)
    func rangeBounds(_ text: String, _ lower: String, _ upper: (UInt64, UInt64, UInt64)) throws {
        let range = try SemverRange.parse(text).get()
        #expect(range.lower == Semver(lower)!, "\(text)")
        #expect(range.upper == upper, "\(text)")
    }

    @Test(
        "texts that are not ranges are refused",
        arguments: [
            ("1.2.3", SemverRange.Failure.notARange), ("", .notARange), ("=1.2", .notARange), ("^", .badVersion), ("^x", .badVersion),
            ("^1.2-beta", .badVersion), ("^ 1.2", .badVersion), ("~1.2.3.4", .badVersion), ("^1.x", .badVersion),
            ("^18446744073709551615", .tooLarge), ("~1.18446744073709551615", .tooLarge), ("^0.0.18446744073709551615", .tooLarge),
        ])
    func notRanges(_ text: String, _ failure: SemverRange.Failure) {
        #expect(SemverRange.parse(text) == .failure(failure), "\(text)")
    }

    @Test("a range lowers to its two bounds, in canonical form, and prints back")
    func canonicalForm() throws {
        let expression = try Targeting.check(#"app_version in semver("^1.2")"#).get()
        #expect(expression.description == #"app_version >= semver("1.2.0") && app_version < semver("2.0.0-0")"#)
        #expect(try Targeting.check(expression.description).get() == expression)
        let negated = try Targeting.check(#"is_beta && app_version not in semver("~0.2.3")"#).get()
        #expect(negated.description == #"is_beta && !(app_version >= semver("0.2.3") && app_version < semver("0.3.0-0"))"#)
        // Inside an `&&` chain the bounds join the chain (chains are flat).
        let chained = try Targeting.check(#"has(age) && app_version in semver("^0.0.3")"#).get()
        #expect(
            chained
                == .and([
                    .has(attribute: "age"), .comparison(attribute: "app_version", .greaterOrEqual, .semver(Semver("0.0.3")!)),
                    .comparison(attribute: "app_version", .less, .semver(Semver("0.0.4-0")!)),
                ]))
    }

    /// Whether `version` is in `range`, from the rule as npm states it rather than from bounds: the
    /// components up to the first non-zero written one (for `^`; the last written one when all are
    /// zero) or the major and any written minor (for `~`) are equal, and the version is at least
    /// the written one.
    static func independentlyContains(_ range: String, _ version: Semver) -> Bool {
        let kind = range.first!
        var body = String(range.dropFirst())
        if body.hasPrefix("v") { body.removeFirst() }
        let core = body.split(separator: "-", maxSplits: 1)[0].split(separator: "+")[0]
        let written = core.split(separator: ".").map { UInt64($0)! }
        let lower = Semver(body)!
        let fixed: Int
        if kind == "^" {
            fixed = written.firstIndex { $0 != 0 } ?? (written.count - 1)
        } else {
            fixed = min(written.count, 2) - 1
        }
        let components = [version.major, version.minor, version.patch]
        for i in 0...fixed where components[i] != written[i] { return false }
        return Semver.compare(version, lower) >= 0
    }

    @Test("ranges through the compiler and evaluator agree with the independent rule on many versions")
    func agreesWithIndependentRule() throws {
        var random = SeededRandom(seed: 2026)
        func component() -> UInt64 { [0, 0, 1, 1, 2, 3, 10][Int(random.next() % 7)] }
        func prerelease() -> String { ["", "", "", "0", "alpha", "beta.2", "rc.1"][Int(random.next() % 7)] }
        var ranges = Self.bounds.map(\.0).filter { !$0.contains("+") && !$0.contains("v") }
        while ranges.count < 40 {
            let count = 1 + Int(random.next() % 3)
            var text = (random.next() % 2 == 0 ? "^" : "~") + (0..<count).map { _ in String(component()) }.joined(separator: ".")
            let pre = prerelease()
            if count == 3, !pre.isEmpty { text += "-" + pre }
            ranges.append(text)
        }
        var versions: [Semver] = []
        for major in [0, 1, 2, 3] as [UInt64] {
            for minor in [0, 1, 2, 3, 4] as [UInt64] {
                for patch in [0, 1, 2, 3, 4, 10] as [UInt64] {
                    for pre in ["", "0", "alpha", "beta.2", "rc.1"] {
                        versions.append(Semver(major: major, minor: minor, patch: patch, prerelease: pre))
                    }
                }
            }
        }
        var counts = [0, 0]
        for range in ranges {
            let harness = try EvaluatorHarness(source: "app_version in semver(\(JSONString.quoted(range)))")
            for version in versions {
                let expected = Self.independentlyContains(range, version)
                counts[expected ? 1 : 0] += 1
                let actual = harness.matches(
                    TestRequest(userID: "u2", deviceID: nil, values: ["app_version": .semver(version.description)]))
                #expect(actual == expected, "\(version) in \(range)")
            }
            // A missing attribute is outside every range, so `not in` holds.
            #expect(!harness.matches(TestRequest(userID: "u2", deviceID: nil, values: [:])))
        }
        #expect(counts.min()! > 500, "\(counts)")
    }
}
