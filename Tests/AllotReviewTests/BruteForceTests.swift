import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotReview

/// The diff's exact shares against the real evaluator: 200,000 random units assigned with both
/// bundles, every reported share within five standard errors of the measured one, and shares
/// reported as exactly zero measured as exactly zero.
struct BruteForceTests {
    static let base = """
        kind: Attributes
        attributes:
          country: { type: string, values: [US, CA, DE] }
          age: number
        ---
        kind: Layer
        name: checkout
        unit: user_id
        params:
          color: { type: string, default: blue }
          size: { type: number, default: 10 }
        ---
        kind: Layer
        name: search
        unit: user_id
        params:
          ranking: { type: string, default: bm25 }
        """

    static func experiment(
        _ name: String, layer: String = "checkout", status: String = "running", traffic: String = "20%", extra: String = "",
        variants: String = "  - { name: control, weight: 50% }\n  - { name: treatment, weight: 50%, params: { color: red } }\n"
    ) -> String {
        "\n---\nkind: Experiment\nname: \(name)\nlayer: \(layer)\nowner: o@example.com\nstatus: \(status)\n"
            + (traffic.isEmpty ? "" : "traffic: \(traffic)\n") + extra + "variants:\n" + variants
    }

    static let searchExperiment = experiment(
        "ranker", layer: "search", traffic: "40%",
        variants: "  - { name: bm25, weight: 30% }\n  - { name: neural, weight: 70%, params: { ranking: neural } }\n")

    struct Scenario: CustomTestStringConvertible, Sendable {
        var name: String
        var old: String
        var new: String
        var now: Int64 = 1_800_000_000
        var attributes: [String: String] = ["country": "US", "age": "30"]
        /// A fact about the report that makes the scenario what it claims to be.
        var expectation: @Sendable (DiffReport) -> Bool
        var testDescription: String { name }
    }

    static func impact(_ report: DiffReport, _ name: String) -> DiffReport.Impact? {
        report.experiments.first { $0.name == name }?.impact
    }

    static let scenarios: [Scenario] = [
        Scenario(
            name: "ramp up",
            old: base + experiment("a", traffic: "20%") + experiment("b", traffic: "30%") + searchExperiment,
            new: base + experiment("a", traffic: "50%") + experiment("b", traffic: "30%") + searchExperiment,
            expectation: { r in impact(r, "a").map { $0.newlyEnrolled > 0.29 && $0.moved == 0 && $0.unenrolled == 0 } ?? false }),
        Scenario(
            name: "ramp down",
            old: base + experiment("a", traffic: "60%") + searchExperiment,
            new: base + experiment("a", traffic: "15%") + searchExperiment,
            expectation: { r in impact(r, "a").map { $0.unenrolled > 0.44 && $0.newlyEnrolled == 0 } ?? false }),
        Scenario(
            name: "reweight",
            old: base + experiment("a", traffic: "50%"),
            new: base
                + experiment(
                    "a", traffic: "50%",
                    variants: "  - { name: control, weight: 20% }\n  - { name: treatment, weight: 80%, params: { color: red } }\n"),
            expectation: { r in impact(r, "a").map { $0.moved > 0.14 && $0.moves.count == 1 } ?? false }),
        Scenario(
            name: "reweight with a new variant and new values",
            old: base + experiment("a", traffic: "50%"),
            new: base
                + experiment(
                    "a", traffic: "50%",
                    variants: "  - { name: control, weight: 40% }\n  - { name: treatment, weight: 30%, params: { color: red, size: 12 } }\n"
                        + "  - { name: big, weight: 30%, params: { size: 20 } }\n"),
            expectation: { r in impact(r, "a").map { $0.moves.count == 2 } ?? false }),
        Scenario(
            name: "new experiments",
            old: base + experiment("a", traffic: "30%"),
            new: base + experiment("a", traffic: "30%") + experiment("c", traffic: "25%") + searchExperiment,
            expectation: { r in r.summary.experimentsAdded == 2 && impact(r, "a") == nil }),
        Scenario(
            name: "concluded experiment",
            old: base + experiment("a", traffic: "30%") + experiment("b", traffic: "20%"),
            new: base + experiment("a", status: "concluded", traffic: "") + experiment("b", traffic: "20%"),
            expectation: { r in impact(r, "a").map { $0.unenrolled > 0.29 } ?? false }),
        Scenario(
            name: "concluded experiment's buckets reused by a new one",
            old: base + experiment("a", status: "concluded", traffic: "") + experiment("b", traffic: "20%"),
            new: base + experiment("a", status: "concluded", traffic: "") + experiment("b", traffic: "20%")
                + experiment("c", traffic: "80%"),
            expectation: { r in impact(r, "c").map { $0.newlyEnrolled > 0.79 } ?? false }),
        Scenario(
            name: "salt restart",
            old: base + experiment("a", traffic: "40%"),
            new: base + experiment("a", traffic: "40%", extra: "restart: 1\n"),
            expectation: { r in impact(r, "a").map { $0.moved > 0.19 && $0.moved < 0.21 } ?? false }),
        Scenario(
            name: "salt restart with a ramp and a reweight",
            old: base + experiment("a", traffic: "40%"),
            new: base
                + experiment(
                    "a", traffic: "60%", extra: "salt: fresh-a\n",
                    variants: "  - { name: control, weight: 10% }\n  - { name: treatment, weight: 90%, params: { color: red } }\n"),
            expectation: { r in impact(r, "a").map { $0.moved > 0 && $0.newlyEnrolled > 0.19 } ?? false }),
        Scenario(
            name: "holdout added",
            old: base + experiment("a", traffic: "50%") + searchExperiment,
            new: base + experiment("a", traffic: "50%") + searchExperiment
                + "\n---\nkind: Holdout\nname: global\nunit: user_id\ntraffic: 10%\n",
            expectation: { r in impact(r, "a").map { $0.unenrolled > 0.049 && $0.unenrolled < 0.051 } ?? false }),
        Scenario(
            name: "holdout grows and narrows to one layer",
            old: base + experiment("a", traffic: "50%") + searchExperiment
                + "\n---\nkind: Holdout\nname: global\nunit: user_id\ntraffic: 10%\n",
            new: base + experiment("a", traffic: "50%") + searchExperiment
                + "\n---\nkind: Holdout\nname: global\nunit: user_id\ntraffic: 25%\nlayers: [checkout]\n",
            expectation: { r in impact(r, "ranker").map { $0.newlyEnrolled > 0.03 } ?? false }),
        Scenario(
            name: "holdout salt change and a second holdout",
            old: base + experiment("a", traffic: "50%") + searchExperiment
                + "\n---\nkind: Holdout\nname: global\nunit: user_id\ntraffic: 10%\n",
            new: base + experiment("a", traffic: "50%") + searchExperiment
                + "\n---\nkind: Holdout\nname: global\nunit: user_id\ntraffic: 10%\nsalt: global-2\n"
                + "\n---\nkind: Holdout\nname: search-only\nunit: user_id\ntraffic: 20%\nlayers: [search]\n",
            expectation: { r in impact(r, "a").map { $0.unenrolled > 0 && $0.newlyEnrolled > 0 } ?? false }),
        Scenario(
            name: "layer reshuffle",
            old: base + experiment("a", traffic: "50%") + experiment("b", traffic: "30%"),
            new: base.replacingOccurrences(of: "name: checkout\nunit: user_id", with: "name: checkout\nunit: user_id\nsalt: checkout-2")
                + experiment("a", traffic: "50%") + experiment("b", traffic: "30%"),
            expectation: { r in impact(r, "a").map { $0.unenrolled > 0.2 && $0.moved == 0 } ?? false }),
        Scenario(
            name: "pause and default change",
            old: base + experiment("a", traffic: "50%")
                + experiment("b", traffic: "30%", variants: "  - { name: big, weight: 100%, params: { size: 14 } }\n"),
            new: base.replacingOccurrences(of: "default: blue", with: "default: navy") + experiment("a", status: "paused", traffic: "50%")
                + experiment("b", traffic: "30%", variants: "  - { name: big, weight: 100%, params: { size: 14 } }\n"),
            expectation: { r in r.parameters.first { $0.name == "color" }?.answerChanged == 1 }),
        Scenario(
            name: "stop date passes and a start date is set",
            old: base + experiment("a", traffic: "50%") + experiment("b", traffic: "30%"),
            new: base + experiment("a", traffic: "50%", extra: "stop: 2025-01-01T00:00:00Z\n")
                + experiment("b", traffic: "30%", extra: "start: 2020-01-01T00:00:00Z\n"),
            expectation: { r in
                impact(r, "a").map { $0.unenrolled > 0.49 } ?? false && impact(r, "b").map { $0.stayed == 0.3 && $0.moved == 0 } ?? false
            }),
        Scenario(
            name: "experiment moves to another layer",
            old: base
                + experiment("a", traffic: "40%", variants: "  - { name: control, weight: 50% }\n  - { name: treatment, weight: 50% }\n")
                + searchExperiment,
            new: base
                + experiment(
                    "a", layer: "search", traffic: "30%",
                    variants: "  - { name: control, weight: 50% }\n  - { name: treatment, weight: 50% }\n")
                + searchExperiment,
            expectation: { r in
                // Independent layer buckets: 40% × 70% leave, 30% × 60% arrive.
                r.experiments.first { $0.name == "a" }?.layer.changed == true && impact(r, "a")?.unenrolled == 0.28
                    && impact(r, "a")?.newlyEnrolled == 0.18
            }),
        Scenario(
            name: "parameter moves to another layer",
            old: base + experiment("a", traffic: "40%") + searchExperiment,
            new: base.replacingOccurrences(of: "  color: { type: string, default: blue }\n", with: "")
                .replacingOccurrences(
                    of: "  ranking: { type: string, default: bm25 }",
                    with: "  ranking: { type: string, default: bm25 }\n  color: { type: string, default: blue }")
                + experiment(
                    "a", traffic: "40%",
                    variants: "  - { name: control, weight: 50% }\n  - { name: treatment, weight: 50%, params: { size: 11 } }\n")
                + experiment("c", layer: "search", traffic: "20%", variants: "  - { name: red, weight: 100%, params: { color: red } }\n")
                + searchExperiment,
            expectation: { r in r.parameters.first { $0.name == "color" }?.layer.changed == true }),
        Scenario(
            name: "targeted experiment, among matching units",
            old: base + experiment("a", traffic: "40%", extra: "targeting: country == \"US\"\n"),
            new: base
                + experiment(
                    "a", traffic: "70%", extra: "targeting: country in [\"US\", \"CA\"]\n",
                    variants: "  - { name: control, weight: 30% }\n  - { name: treatment, weight: 70%, params: { color: red } }\n"),
            expectation: { r in r.experiments.first { $0.name == "a" }?.conditional == true }),
    ]

    @Test(arguments: scenarios)
    func sharesAgreeWithTheEvaluator(_ scenario: Scenario) throws {
        let (old, new) = try Fixture.change(scenario.old, scenario.new)
        let report = BundleDiff.compare(old: old.snapshot, new: new.snapshot, at: scenario.now)
        #expect(scenario.expectation(report), "\(TextReport.render(report))")
        let measured = try BruteForce.measure(
            old: old.bundle, new: new.bundle, units: 200_000, seed: 7, attributes: scenario.attributes, now: scenario.now)
        let names = Set(old.snapshot.contents.experiments.map(\.name)).union(new.snapshot.contents.experiments.map(\.name)).sorted()
        let parameters = Set(old.snapshot.contents.parameters.map(\.name)).intersection(new.snapshot.contents.parameters.map(\.name))
            .sorted()
        let problems = disagreements(report, measured, experiments: names, parameters: parameters)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))\n\(TextReport.render(report))")
    }
}

extension BruteForceTests {
    /// Targeting: the reported shares are conditional. Among units that match the targeting on
    /// both sides they agree with the evaluator; units that match neither never move.
    @Test func targetedSharesHoldAmongMatchingUnits() throws {
        let (old, new) = try Fixture.change(
            Self.base + Self.experiment("a", traffic: "40%", extra: "targeting: country in [\"US\", \"CA\"]\n"),
            Self.base
                + Self.experiment(
                    "a", traffic: "70%", extra: "targeting: country in [\"US\", \"CA\"]\n",
                    variants: "  - { name: control, weight: 30% }\n  - { name: treatment, weight: 70%, params: { color: red } }\n"))
        let report = BundleDiff.compare(old: old.snapshot, new: new.snapshot, at: 0)
        #expect(report.experiments.first?.conditional == true)
        let countries = ["US", "CA", "DE"]
        func draw(_ random: inout SeededRandom) -> [String: String] { ["country": countries[Int(random.next() % 3)]] }
        let matching = try BruteForce.measure(
            old: old.bundle, new: new.bundle, units: 300_000, seed: 11, now: 0, include: { $0["country"] != "DE" }, attributesFor: draw)
        let problems = disagreements(report, matching, experiments: ["a"], parameters: [])
        #expect(problems.isEmpty, "\(problems)")
        let others = try BruteForce.measure(
            old: old.bundle, new: new.bundle, units: 30_000, seed: 12, now: 0, include: { $0["country"] == "DE" }, attributesFor: draw)
        #expect(others.units > 5_000 && others.enrolledOld.isEmpty && others.enrolledNew.isEmpty && others.moves.isEmpty)
    }
}

/// Random projects and random changes (ramps, reweights, conclusions, pauses, restarts, added
/// and removed experiments, holdouts, layer salts, defaults, values, stop dates), each diff
/// checked against 40,000 units.
struct RandomChangeTests {
    @Test(arguments: 0..<24)
    func randomChangesAgreeWithTheEvaluator(_ seed: Int) throws {
        var random = SeededRandom(seed: UInt64(1000 + seed))
        var project = RandomProject.random(&random)
        let before = project.yaml
        var changes: [String] = []
        for _ in 0..<Int.random(in: 1...4, using: &random) { changes.append(project.mutate(&random)) }
        let (old, new) = try Fixture.change(before, project.yaml)
        let now: Int64 = 1_800_000_000
        let report = BundleDiff.compare(old: old.snapshot, new: new.snapshot, at: now)
        let measured = try BruteForce.measure(
            old: old.bundle, new: new.bundle, units: 40_000, seed: UInt64(seed), attributes: ["country": "US"], now: now)
        let names = Set(old.snapshot.contents.experiments.map(\.name)).union(new.snapshot.contents.experiments.map(\.name)).sorted()
        let parameters = ["color", "size", "ranking"]
        let problems = disagreements(report, measured, experiments: names, parameters: parameters)
        #expect(problems.isEmpty, "changes: \(changes)\n\(problems.joined(separator: "\n"))\n\(TextReport.render(report))")
    }

    /// Switching the bucketing scheme (with or without other changes) hashes every unit anew: the
    /// diff says so and its shares, which treat the buckets before and after as independent,
    /// agree with the evaluator.
    @Test(arguments: 0..<6)
    func bucketingSchemeSwitchesAgreeWithTheEvaluator(_ seed: Int) throws {
        var random = SeededRandom(seed: UInt64(2000 + seed))
        var project = RandomProject.random(&random)
        let before = project.yaml
        var changes: [String] = []
        if seed % 2 == 1 { changes.append(project.mutate(&random)) }
        let from: BucketingScheme = seed < 3 ? .saltedID : .unitDigest
        let to: BucketingScheme = seed < 3 ? .unitDigest : .saltedID
        let old = try Fixture.compile(before, lock: AllocationLock(bucketingScheme: from), version: 1, label: "old")
        var lock = old.output.lock
        lock.bucketingScheme = to
        let new = try Fixture.compile(project.yaml, lock: lock, version: 2, label: "new")
        #expect(old.bundle.payload.bucketingScheme == from && new.bundle.payload.bucketingScheme == to)
        let now: Int64 = 1_800_000_000
        let report = BundleDiff.compare(old: old.snapshot, new: new.snapshot, at: now)
        #expect(report.notes.contains { $0.hasPrefix("bucketing scheme \(from) → \(to): every") }, "\(report.notes)")
        let measured = try BruteForce.measure(
            old: old.bundle, new: new.bundle, units: 40_000, seed: UInt64(seed), attributes: ["country": "US"], now: now)
        let names = Set(old.snapshot.contents.experiments.map(\.name)).union(new.snapshot.contents.experiments.map(\.name)).sorted()
        let problems = disagreements(report, measured, experiments: names, parameters: ["color", "size", "ranking"])
        #expect(problems.isEmpty, "changes: \(changes)\n\(problems.joined(separator: "\n"))\n\(TextReport.render(report))")
        // Units move: some leave their experiment or change variant wherever anyone was enrolled.
        let enrolledBefore = report.experiments.contains { ($0.impact.enrolled.old ?? 0) > 0 }
        let someMove = report.experiments.contains { $0.impact.moved > 0 || $0.impact.unenrolled > 0 }
        #expect(!enrolledBefore || someMove, "\(TextReport.render(report))")
    }
}
