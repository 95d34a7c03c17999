import AllotCore
import Testing

struct SemverTests {
    /// The precedence chain from semver.org §11, in ascending order.
    static let chain = [
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
        "1.0.1", "1.1.0", "2.0.0", "10.0.0",
    ]

    @Test func precedenceFollowsTheSpecification() {
        for (i, a) in Self.chain.enumerated() {
            for (j, b) in Self.chain.enumerated() {
                let expected = i < j ? -1 : (i > j ? 1 : 0)
                #expect(Semver.compare(Semver(a)!, Semver(b)!) == expected, "\(a) vs \(b)")
            }
        }
    }

    @Test(arguments: [
        ("5", "5.0.0"), ("5.2", "5.2.0"), ("v5.2.1", "5.2.1"), ("1.0.0+build.5", "1.0.0"), ("1.0.0-rc.1+exp.sha", "1.0.0-rc.1"),
    ])
    func lenientForms(_ text: String, _ canonical: String) {
        #expect(Semver(text)?.description == canonical)
    }

    @Test(arguments: ["", "a.b.c", "1..2", "1.2.3-", "1.2.3-+x", "1.2.3-beta..1", "1.2.3+", "1.2.3 ", "-1.0.0", "99999999999999999999.0.0"])
    func rejectsMalformedVersions(_ text: String) {
        #expect(Semver(text) == nil, "\(text)")
    }

    @Test func buildMetadataDoesNotAffectPrecedence() {
        #expect(Semver.compare(Semver("1.0.0+a")!, Semver("1.0.0+b")!) == 0)
    }

    @Test func numericIdentifiersCompareNumericallyWithoutOverflow() {
        #expect(Semver.compare(Semver("1.0.0-99999999999999999999999")!, Semver("1.0.0-100000000000000000000000")!) == -1)
        #expect(Semver.compare(Semver("1.0.0-2")!, Semver("1.0.0-10")!) == -1)
    }
}
