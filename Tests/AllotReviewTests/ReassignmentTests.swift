import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotReview

/// `--fail-on-reassign`: which changes move or un-enroll enrolled units, and which
/// acknowledgements let them through.
struct ReassignmentTests {
    static let base =
        BruteForceTests.base + """

            ---
            kind: Segment
            name: beta
            unit: user_id
            ids: [u1, u2, u3]
            """

    static func experiment(
        _ name: String, status: String = "running", traffic: String = "30%", extra: String = "", layer: String = "checkout",
        variants: String = "  - { name: control, weight: 50% }\n  - { name: treatment, weight: 50%, params: { color: red } }\n"
    ) -> String {
        BruteForceTests.experiment(name, layer: layer, status: status, traffic: traffic, extra: extra, variants: variants)
    }

    static let reweighted = "  - { name: control, weight: 40% }\n  - { name: treatment, weight: 60%, params: { color: red } }\n"
    static let acknowledge = "acknowledge: [reassignment]\n"

    static func diff(_ old: String, _ new: String, at: Int64 = 1_800_000_000) throws -> DiffReport {
        let (a, b) = try Fixture.change(Self.base + old, Self.base + new)
        return BundleDiff.compare(old: a.snapshot, new: b.snapshot, at: at)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var old: String
        var new: String
        /// Experiments expected to reassign, and whether each is acknowledged.
        var expected: [String: Bool]
        var reason: String? = nil
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "ramp up", old: experiment("a"), new: experiment("a", traffic: "50%"), expected: [:]),
        Case(
            name: "ramp down", old: experiment("a"), new: experiment("a", traffic: "10%"), expected: ["a": false], reason: "un-enrolls 20%"),
        Case(
            name: "ramp down, acknowledged", old: experiment("a"), new: experiment("a", traffic: "10%", extra: acknowledge),
            expected: ["a": true]),
        Case(
            name: "reweight", old: experiment("a"), new: experiment("a", variants: reweighted), expected: ["a": false], reason: "moves 3%"),
        Case(
            name: "reweight, acknowledged", old: experiment("a"), new: experiment("a", extra: acknowledge, variants: reweighted),
            expected: ["a": true]),
        Case(name: "conclude", old: experiment("a"), new: experiment("a", status: "concluded", traffic: ""), expected: ["a": false]),
        Case(name: "pause", old: experiment("a"), new: experiment("a", status: "paused"), expected: ["a": false]),
        Case(name: "resume", old: experiment("a", status: "paused"), new: experiment("a"), expected: [:]),
        Case(
            name: "reweight while paused", old: experiment("a", status: "paused"),
            new: experiment("a", status: "paused", variants: reweighted), expected: [:]),
        Case(
            name: "remove a running experiment", old: experiment("a") + experiment("b", traffic: "10%"),
            new: experiment("b", traffic: "10%"),
            expected: ["a": false], reason: "removed while it enrolls 30%"),
        Case(
            name: "remove a concluded experiment", old: experiment("a", status: "concluded", traffic: "") + experiment("b"),
            new: experiment("b"),
            expected: [:]),
        Case(name: "restart", old: experiment("a"), new: experiment("a", extra: "restart: 1\n"), expected: ["a": false]),
        Case(
            name: "stop date passed", old: experiment("a"), new: experiment("a", extra: "stop: 2025-01-01T00:00:00Z\n"),
            expected: ["a": false]),
        Case(name: "stop date ahead", old: experiment("a"), new: experiment("a", extra: "stop: 2030-01-01T00:00:00Z\n"), expected: [:]),
        Case(
            name: "targeting widened", old: experiment("a", extra: "targeting: country == \"US\"\n"),
            new: experiment("a", extra: "targeting: country in [\"US\", \"CA\"]\n"), expected: [:]),
        Case(
            name: "targeting removed", old: experiment("a", extra: "targeting: country == \"US\"\n"), new: experiment("a"), expected: [:]),
        Case(
            name: "targeting narrowed", old: experiment("a", extra: "targeting: country in [\"US\", \"CA\"]\n"),
            new: experiment("a", extra: "targeting: country == \"US\"\n"), expected: ["a": false], reason: "targeting changed"),
        Case(name: "targeting added", old: experiment("a"), new: experiment("a", extra: "targeting: age >= 18\n"), expected: ["a": false]),
        Case(name: "segments added", old: experiment("a"), new: experiment("a", extra: "segments: [beta]\n"), expected: ["a": false]),
        Case(
            name: "holdout grows over running experiments",
            old: experiment("a")
                + experiment("r", layer: "search", variants: "  - { name: x, weight: 100%, params: { ranking: neural } }\n")
                + "---\nkind: Holdout\nname: h\nunit: user_id\ntraffic: 5%\n",
            new: experiment("a", extra: acknowledge)
                + experiment("r", layer: "search", variants: "  - { name: x, weight: 100%, params: { ranking: neural } }\n")
                + "---\nkind: Holdout\nname: h\nunit: user_id\ntraffic: 10%\n",
            expected: ["a": true, "r": false]),
        Case(
            name: "holdout grows, acknowledged on the holdout",
            old: experiment("a")
                + experiment("r", layer: "search", variants: "  - { name: x, weight: 100%, params: { ranking: neural } }\n")
                + "---\nkind: Holdout\nname: h\nunit: user_id\ntraffic: 5%\n",
            new: experiment("a")
                + experiment("r", layer: "search", variants: "  - { name: x, weight: 100%, params: { ranking: neural } }\n")
                + "---\nkind: Holdout\nname: h\nunit: user_id\ntraffic: 10%\n" + acknowledge,
            expected: ["a": true, "r": true], reason: "because of holdout 'h' (share 5% → 10%)"),
        Case(
            name: "holdout grows and the experiment changes: the experiment acknowledges",
            old: experiment("a") + "---\nkind: Holdout\nname: h\nunit: user_id\ntraffic: 5%\n",
            new: experiment("a", traffic: "20%") + "---\nkind: Holdout\nname: h\nunit: user_id\ntraffic: 10%\n" + acknowledge,
            expected: ["a": false]),
        Case(
            name: "layer re-salted, acknowledged on the layer",
            old: experiment("a"), new: experiment("a"), expected: ["a": true], reason: "because of layer 'checkout'"),
        Case(
            name: "draft edits", old: experiment("d", status: "draft", traffic: ""),
            new: experiment("d", status: "draft", traffic: "", variants: reweighted), expected: [:]),
    ]

    @Test(arguments: cases)
    func reassignments(_ c: Case) throws {
        let report =
            c.name.hasPrefix("layer re-salted")
            ? try Self.resalted(c.old, c.new) : try Self.diff(c.old, c.new)
        let found = Dictionary(uniqueKeysWithValues: report.reassignments.map { ($0.experiment, $0.acknowledged) })
        #expect(found == c.expected, "\(TextReport.render(report))")
        #expect(report.hasUnacknowledgedReassignment == c.expected.values.contains(false))
        if let reason = c.reason {
            #expect(report.reassignments.contains { $0.reasons.contains { $0.contains(reason) } }, "\(report.reassignments.map(\.reasons))")
        }
        for e in report.experiments { #expect(e.reassigns == (c.expected[e.name] != nil)) }
    }

    /// The checkout layer gets a new salt (and acknowledges it) on the new side.
    static func resalted(_ old: String, _ new: String) throws -> DiffReport {
        let layer = "name: checkout\nunit: user_id\n"
        let base = Self.base.replacingOccurrences(of: layer, with: layer + "salt: checkout-2\n" + Self.acknowledge)
        let before = try Fixture.compile(Self.base + old)
        let after = try Fixture.compile(base + new, lock: before.output.lock, version: 2, label: "new")
        return BundleDiff.compare(old: before.snapshot, new: after.snapshot, at: 1_800_000_000)
    }

    /// A holdout that grows over six experiments names itself as the cause in each, and one
    /// acknowledgement on the holdout covers them all; without it, the place to put it is the
    /// holdout, not the experiments.
    @Test func holdoutGrowthNamesTheHoldoutAndIsAcknowledgedOnIt() throws {
        let experiments = (1...6).map { Self.experiment("e\($0)", traffic: "10%") }.joined()
        let holdout = { (traffic: String, extra: String) in "---\nkind: Holdout\nname: global\nunit: user_id\ntraffic: \(traffic)\n\(extra)"
        }
        let unacknowledged = try Self.diff(experiments + holdout("2%", ""), experiments + holdout("4%", ""))
        #expect(unacknowledged.reassignments.count == 6)
        for r in unacknowledged.reassignments {
            #expect(r.acknowledgeOn == ["holdout 'global'"])
            #expect(r.causes.map(\.description) == ["holdout 'global' (share 2% → 4%)"])
            #expect(!r.acknowledged)
        }
        for e in unacknowledged.experiments {
            #expect(e.change == "affected")
            #expect(e.causes.map(\.owner) == ["holdout 'global'"])
        }
        let text = TextReport.render(unacknowledged)
        #expect(text.contains("unchanged declaration; units move because of holdout global (share 2% → 4%)"), "\(text)")
        #expect(text.contains("not acknowledged: add `acknowledge: [reassignment]` to holdout 'global'"), "\(text)")
        #expect(!text.contains("because of other changes"))

        let acknowledged = try Self.diff(experiments + holdout("2%", ""), experiments + holdout("4%", Self.acknowledge))
        #expect(!acknowledged.hasUnacknowledgedReassignment)
        #expect(acknowledged.reassignments.allSatisfy { $0.acknowledged && $0.causes.allSatisfy(\.acknowledged) })
        #expect(TextReport.render(acknowledged).contains("acknowledged on holdout 'global'"))
        #expect(MarkdownReport.render(acknowledged).contains("every change that moves them acknowledges it"))
    }

    @Test func segmentThatLosesMembersReassignsItsUsersOnly() throws {
        let fewer = Self.base.replacingOccurrences(of: "ids: [u1, u2, u3]", with: "ids: [u1, u2]")
        let more = Self.base.replacingOccurrences(of: "ids: [u1, u2, u3]", with: "ids: [u1, u2, u3, u4]")
        let old = Self.base + Self.experiment("a", extra: "segments: [beta]\n") + Self.experiment("b", traffic: "10%")
        let new = Self.experiment("a", extra: "segments: [beta]\n") + Self.experiment("b", traffic: "10%")
        let shrunk = BundleDiff.compare(
            old: try Fixture.compile(old).snapshot,
            new: try Fixture.compile(fewer + new, lock: try Fixture.compile(old).output.lock).snapshot, at: 0)
        #expect(shrunk.reassignments.map(\.experiment) == ["a"])
        #expect(shrunk.reassignments.first?.reasons.first?.contains("segment 'beta' lost members") == true)
        #expect(shrunk.reassignments.first?.acknowledgeOn == ["segment 'beta'"])
        let acknowledgedFewer = fewer.replacingOccurrences(of: "ids: [u1, u2]", with: "ids: [u1, u2]\n" + Self.acknowledge)
        let acknowledged = BundleDiff.compare(
            old: try Fixture.compile(old).snapshot,
            new: try Fixture.compile(acknowledgedFewer + new, lock: try Fixture.compile(old).output.lock).snapshot, at: 0)
        #expect(acknowledged.reassignments.map(\.acknowledged) == [true])
        #expect(shrunk.segments.map { [$0.name, "\($0.idsAdded)", "\($0.idsRemoved)"] } == [["beta", "0", "1"]])
        let grown = BundleDiff.compare(
            old: try Fixture.compile(old).snapshot,
            new: try Fixture.compile(more + new, lock: try Fixture.compile(old).output.lock).snapshot, at: 0)
        #expect(grown.reassignments.isEmpty)
        #expect(grown.segments.first?.usedBy == ["a"])
    }

    @Test func overridesAreListedAndNeverReassign() throws {
        let before = Self.experiment("a", extra: "overrides:\n  control: [qa-1, qa-2]\n  treatment: [qa-3]\n")
        let after = Self.experiment("a", extra: "overrides:\n  control: [qa-1]\n  treatment: [qa-2, qa-4]\n")
        let report = try Self.diff(before, after)
        let a = try #require(report.experiments.first)
        #expect(a.overrides.added == ["qa-4"] && a.overrides.removed == ["qa-3"] && a.overrides.changed == ["qa-2"])
        #expect(a.impact.moved == 0 && a.impact.unenrolled == 0 && report.reassignments.isEmpty)
        #expect(TextReport.render(report).contains("overrides +1 −1 ~1"))
    }

    @Test func bundlesCarryNoAcknowledgement() throws {
        let (old, new) = try Fixture.change(
            Self.base + Self.experiment("a"), Self.base + Self.experiment("a", traffic: "10%", extra: Self.acknowledge))
        let fromFiles = BundleDiff.compare(old: old.snapshot, new: new.snapshot, at: 0)
        #expect(fromFiles.reassignments.map(\.acknowledged) == [true])
        let fromBundles = BundleDiff.compare(
            old: ReviewSnapshot(origin: .bundle(path: "1.bundle"), bundle: old.bundle),
            new: ReviewSnapshot(origin: .bundle(path: "2.bundle"), bundle: new.bundle),
            at: 0)
        #expect(fromBundles.reassignments.map(\.acknowledged) == [false])
        #expect(fromBundles.reassignments.map(\.canAcknowledge) == [false])
        #expect(fromBundles.hasUnacknowledgedReassignment)
        // Same numbers either way.
        #expect(JSONReport.render(fromFiles).contains("\"unenrolled\" : 0.2"))
        #expect(fromBundles.reassignments.first?.unenrolled == fromFiles.reassignments.first?.unenrolled)
    }
}

/// Caveats the report must carry.
struct NotesTests {
    @Test func aCleanComparisonHasNoNotesAndAnnotationsAreEscaped() throws {
        // (A salt shared between roles is a compile error since the diff work found it; the
        // diff still notes one in bundles from other producers, which the compiler cannot make.)
        let (old, _) = try Fixture.change(
            BruteForceTests.base + BruteForceTests.experiment("other", traffic: "10%"),
            BruteForceTests.base + BruteForceTests.experiment("other", traffic: "10%"))
        let clean = BundleDiff.compare(old: old.snapshot, new: old.snapshot, at: 0)
        #expect(clean.notes.isEmpty && clean.experiments.isEmpty && clean.parameters.isEmpty && clean.summary.experimentsUnchanged == 1)
    }
}
