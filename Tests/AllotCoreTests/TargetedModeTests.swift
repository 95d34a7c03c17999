import AllotCompiler
import AllotTestSupport
import Testing

@testable import AllotCore

/// The plan's `targeted` mode (targeting-only running experiments under scheme 2 check their
/// program without the payload record) against `ReferenceEvaluator`, with experiments that mix
/// targeting with the checks that must keep them in `checked`: segments, a start, a stop; and with
/// a paused status, a holdout and an override. Under both schemes, full and single-layer evaluation.
@Suite("Plan modes of targeted experiments")
struct TargetedModeTests {
    static let project = """
        kind: Attributes
        attributes:
          country: { type: string, values: [US, CA, DE] }
          beta: bool
        ---
        kind: Segment
        name: staff
        unit: user_id
        ids: [user-1, user-2, user-3, user-4, user-5, user-6, user-7, user-8, user-9, user-10]
        rule: beta
        ---
        kind: Holdout
        name: h
        unit: user_id
        traffic: 10%
        layers: [l1]
        """
        + (0..<6).map { layer in
            "\n---\nkind: Layer\nname: l\(layer)\nunit: user_id\nparams: { p\(layer): { type: number, default: 0 } }\n"
        }.joined()
        + [
            ("l0", "running", "targeting: country in [\"US\", \"CA\"]\nsegments: [staff]\n"),  // targeting + segments
            ("l1", "running", "targeting: country == \"US\"\n"),  // targeting only, with a holdout
            ("l2", "running", "targeting: country == \"US\"\nstart: 2027-01-15T00:00:00Z\n"),  // targeting + start
            ("l3", "running", "targeting: country == \"US\"\nstop: 2027-01-15T00:00:00Z\n"),  // targeting + stop
            ("l4", "paused", "targeting: country == \"US\"\n"),  // paused with targeting
            ("l5", "running", "targeting: country != \"DE\"\noverrides:\n  v1: [user-20]\n"),  // targeting + override
        ].enumerated().map { index, e in
            "---\nkind: Experiment\nname: e\(index)\nlayer: \(e.0)\nowner: o@example.com\nstatus: \(e.1)\ntraffic: 100%\n\(e.2)"
                + "variants:\n  - { name: v0, weight: 50%, params: { p\(index): 1 } }\n  - { name: v1, weight: 50%, params: { p\(index): 2 } }\n"
        }.joined()

    @Test(
        "targeting mixed with segments, schedules, status, holdouts and overrides: the plan's modes, and outcomes equal to the reference",
        arguments: BucketingScheme.allCases)
    func mixedChecksAgreeWithReference(scheme: BucketingScheme) throws {
        let bundle = try Fixture.compile(Self.project, lock: AllocationLock(bucketingScheme: scheme)).bundle
        #expect(bundle.payload.bucketingScheme == scheme)
        let modes = (0..<bundle.payload.experimentCount).map {
            bundle.payload.plan.experiments.load(fromByteOffset: $0 * 64 + EvaluationPlan.Experiment.mode, as: UInt8.self)
        }
        // checked = 1, paused = 2, targeted = 4: only e1 (targeting and a holdout) and e5
        // (targeting and an override) are targeting-only; scheme 1 has no room for the program.
        let expectedModes: [UInt8] = scheme == .unitDigest ? [1, 4, 1, 1, 2, 4] : [1, 1, 1, 1, 2, 1]
        #expect(modes == expectedModes)
        let reference = ReferenceEvaluator(bundle: bundle)
        var outcomes: [Outcome] = []
        var mismatches = 0
        var reasons: Set<Reason> = []
        let times: [Int64] = [1_798_761_600, 1_800_000_000, 1_800_100_000]  // 2027-01-01, 2027-01-15T08:00, after
        for round in 0..<3_000 {
            var input = EvaluationInput(for: bundle)
            var attributes: [String: String] = [:]
            if round % 4 != 0 { attributes["country"] = ["US", "CA", "DE"][round % 3] }
            if round % 5 == 0 { attributes["beta"] = "true" }
            try input.set(units: ["user_id": "user-\(round % 60)"], attributes: attributes, bundle: bundle)
            let now = times[(round / 7) % times.count]
            bundle.evaluate(input, now: now, into: &outcomes)
            let expected = reference.evaluate(input, now: now)
            reasons.formUnion(expected.map(\.reason))
            if outcomes != expected {
                mismatches += 1
                if mismatches <= 3 { Issue.record("round \(round) now \(now): \(outcomes) vs \(expected)") }
            }
            for layer in 0..<bundle.payload.layerCount {
                #expect(bundle.evaluate(input, now: now, layer: layer) == reference.evaluate(input, now: now, layer: layer))
            }
        }
        #expect(mismatches == 0)
        // Every check had its say: the cases above are reached, not just compiled.
        #expect(reasons.isSuperset(of: [.split, .targetingMiss, .scheduled, .paused, .holdout, .override]), "\(reasons)")
    }
}
