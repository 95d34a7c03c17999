import AllotCompiler
import AllotTestSupport
import Foundation
import Testing

@testable import AllotCore

/// The evaluation plan's two shortcuts: a layer's owner runs (found by a halving search instead
/// of a load from its 20 KB bucket table) and the per-request memo of targeting programs that
/// several experiments share. Each is checked against what it replaces: the payload's bucket
/// table, and `ReferenceEvaluator`, which runs every program every time.
struct PlanLookupTests {
    /// Layers with 0, 1, 30, 31, 32, 40 and 48 experiments on contiguous traffic, so their
    /// bucket tables have from 1 to 49 runs (the edge: 32 runs fit, 33 do not); the second
    /// generation reweights traffic under the first's lock, which fragments the runs.
    static func runsProject(generation: Int) -> String {
        var text = ""
        for (layer, experiments) in [0, 1, 30, 31, 32, 40, 48].enumerated() {
            text += "---\nkind: Layer\nname: l\(layer)\nunit: user_id\nparams: { p\(layer): { type: number, default: 0 } }\n"
            let share = experiments == 0 ? 0 : min(100 / experiments, 3)
            for experiment in 0..<experiments {
                // Generation 1: every third experiment ends (its buckets are freed), every fifth
                // one grows by 1 %, taking free buckets wherever the lock finds them.
                let status = generation == 1 && experiment % 3 == 2 ? "concluded" : "running"
                let traffic = share == 0 ? 1 : share + (generation == 1 && experiment % 5 == 0 ? 1 : 0)
                text +=
                    "---\nkind: Experiment\nname: e\(layer)-\(experiment)\nlayer: l\(layer)\nowner: o@example.com\nstatus: \(status)\n"
                    + "traffic: \(traffic)%\nvariants:\n  - { name: a, weight: 50% }\n  - { name: b, weight: 50%, params: { p\(layer): 1 } }\n"
            }
        }
        return String(text.dropFirst(4))
    }

    @Test(
        "every bucket of every layer has the owner its bucket table gives, through runs or the table", arguments: BucketingScheme.allCases)
    func ownerRuns(scheme: BucketingScheme) throws {
        let first = try Fixture.compile(Self.runsProject(generation: 0), lock: AllocationLock(bucketingScheme: scheme))
        let second = try Fixture.compile(Self.runsProject(generation: 1), lock: first.output.lock)
        var runCounts: [Int: Bool] = [:]
        for bundle in [first.bundle, second.bundle] {
            let p = bundle.payload
            for layer in 0..<p.layerCount {
                var runs = 0
                var previous = -1
                for bucket in 0..<Bucketing.bucketCount {
                    let owner = Int(p.u16(p.bucketTables + (layer * Bucketing.bucketCount + bucket) * 2))
                    if owner != previous { runs += 1 }
                    previous = owner
                    guard bundle.planOwner(layer: layer, bucket: bucket) == owner else {
                        Issue.record("layer \(layer), bucket \(bucket): \(bundle.planOwner(layer: layer, bucket: bucket)), table \(owner)")
                        return
                    }
                }
                #expect(bundle.planUsesOwnerRuns(layer: layer) == (runs <= EvaluationPlan.ownerRunCapacity), "layer \(layer): \(runs) runs")
                runCounts[runs] = bundle.planUsesOwnerRuns(layer: layer)
            }
        }
        // The edges and both paths were exercised: a single run, exactly 32 (the last that fits),
        // 33 (the first that does not), and fragmented tables beyond.
        #expect(runCounts[1] == true && runCounts[32] == true && runCounts[33] == false, "\(runCounts.keys.sorted())")
        #expect(runCounts.keys.contains { $0 > 40 })
    }

    /// Programs that experiments share (in targeted mode, and in checked mode with a schedule or
    /// segments), programs over `now()` and segments of another unit type, programs used once,
    /// and more shared programs than the memo has slots. `age` decides the numbered programs, so
    /// two programs given the same slot by mistake disagree on about half the requests.
    static func memoProject(generation: Int) -> String {
        var text = """
            kind: Attributes
            attributes:
              country: { type: string, values: [US, CA, DE, GB] }
              app_version: semver
              age: number
            ---
            kind: Segment
            name: staff
            unit: device_id
            ids: [d1, d2, d3]
            ---
            kind: Segment
            name: adults
            rule: age >= 18

            """
        let shared = [
            #"country in ["US", "CA", "GB"] && app_version >= "5.0.0""#,
            #"now() >= "2026-12-10T00:00:00Z" && country != "DE""#,
            #"in segment("staff") || age > 60"#,
            #"country == "DE""#,
        ]
        var layer = -1
        var inLayer = 20
        func add(_ name: String, targeting: String?, extra: String = "", status: String = "running") {
            if inLayer == 20 {
                layer += 1
                inLayer = 0
                let unit = layer % 3 == 2 ? "device_id" : "user_id"
                text += "---\nkind: Layer\nname: l\(layer)\nunit: \(unit)\nparams: { p\(layer): { type: number, default: 0 } }\n"
            }
            inLayer += 1
            text += "---\nkind: Experiment\nname: \(name)\nlayer: l\(layer)\nowner: o@example.com\nstatus: \(status)\ntraffic: 5%\n"
            if let targeting { text += "targeting: '\(targeting)'\n" }
            text += extra + "variants:\n  - { name: a, weight: 50% }\n  - { name: b, weight: 50%, params: { p\(layer): 1 } }\n"
        }
        let window = generation == 0 ? "start: 2026-12-05T00:00:00Z\n" : "start: 2026-12-05T00:00:00Z\nstop: 2026-12-20T00:00:00Z\n"
        for (index, program) in shared.enumerated() {
            for copy in 0..<(6 - index) {  // shared by 6, 5, 4 and 3 experiments
                let extra = copy == 1 ? window : copy == 2 ? "segments: [adults]\n" : ""
                add("shared-\(index)-\(copy)", targeting: program, extra: extra)
            }
            add("paused-\(index)", targeting: program, status: "paused")
        }
        // 70 numbered programs, each shared by two experiments: 66 more than the slots left.
        for number in 0..<70 {
            add("numbered-\(number)-a", targeting: "age > \(number)")
            add("numbered-\(number)-b", targeting: "age > \(number)", extra: number % 4 == 0 ? window : "")
        }
        for number in 0..<5 {
            add("single-\(number)", targeting: "age < \(number * 7)")
        }
        add("untargeted", targeting: nil)
        return text
    }

    static func memoRequest(_ random: inout SeededRandom, bundle: LoadedBundle) throws -> EvaluationInput {
        func pick<T>(_ values: [T]) -> T { values[Int(random.next() % UInt64(values.count))] }
        var units: [String: String] = [:]
        if random.next() % 8 != 0 { units["user_id"] = "user-\(random.next() % 1_000_000)" }
        if random.next() % 3 != 0 { units["device_id"] = pick(["d1", "d2", "d9", "device-\(random.next() % 1000)"]) }
        var attributes: [String: String] = [:]
        if random.next() % 5 != 0 { attributes["country"] = pick(["US", "CA", "DE", "GB"]) }
        if random.next() % 5 != 0 { attributes["app_version"] = pick(["4.9.0", "5.0.0", "6.1.2"]) }
        if random.next() % 6 != 0 { attributes["age"] = String(random.next() % 80) }
        var input = EvaluationInput(for: bundle)
        try input.set(units: units, attributes: attributes, bundle: bundle)
        return input
    }

    @Test(
        "shared targeting programs, remembered within a request, decide like the reference evaluator",
        arguments: [0, 1], BucketingScheme.allCases)
    func programMemo(generation: Int, scheme: BucketingScheme) throws {
        let first = try Fixture.compile(Self.memoProject(generation: 0), lock: AllocationLock(bucketingScheme: scheme))
        let bundle =
            generation == 0 ? first.bundle : try Fixture.compile(Self.memoProject(generation: 1), lock: first.output.lock).bundle
        let p = bundle.payload

        // Slots: one per shared program, the most shared first, at most `memoSlots`; none for
        // programs used once, paused experiments and experiments without targeting.
        var slotOf: [String: UInt8] = [:]
        for experiment in 0..<p.experimentCount {
            let name = p.string(at: p.experimentRecord(experiment) + PayloadFormat.ExperimentRecord.name)
            slotOf[name] = bundle.planProgramSlot(experiment: experiment)
        }
        for index in 0..<4 {
            let slots = Set((0..<(6 - index)).map { slotOf["shared-\(index)-\($0)"]! })
            #expect(slots == [UInt8(index)], "shared-\(index): \(slots)")
            #expect(slotOf["paused-\(index)"] == EvaluationPlan.noSlot)
        }
        // The numbered programs (two users each) share the 60 slots left, one each, and the 10
        // that do not fit get none; which ones is the payload's experiment order (ties).
        var numberedSlots: [UInt8] = []
        for number in 0..<70 {
            let pair = [slotOf["numbered-\(number)-a"]!, slotOf["numbered-\(number)-b"]!]
            #expect(pair[0] == pair[1], "numbered-\(number): \(pair)")
            numberedSlots.append(pair[0])
        }
        let slotted = numberedSlots.filter { $0 != EvaluationPlan.noSlot }
        #expect(slotted.sorted() == (4..<UInt8(EvaluationPlan.memoSlots)).map { $0 }, "\(numberedSlots)")
        #expect(numberedSlots.count - slotted.count == 70 - (EvaluationPlan.memoSlots - 4))
        for number in 0..<5 { #expect(slotOf["single-\(number)"] == EvaluationPlan.noSlot) }
        #expect(slotOf["untargeted"] == EvaluationPlan.noSlot)

        let reference = ReferenceEvaluator(bundle: bundle)
        var random = SeededRandom(seed: UInt64(77 + generation))
        var outcomes: [Outcome] = []
        var reasons: [Reason: Int] = [:]
        let times: [Int64] = [1_796_428_799, 1_796_860_799, 1_796_860_800, 1_797_724_800]  // 12-05 less 1 s, 12-10 less 1 s, 12-10, 12-20
        for round in 0..<3_000 {
            let input = try Self.memoRequest(&random, bundle: bundle)
            let now = times[round % times.count]
            bundle.evaluate(input, now: now, into: &outcomes)
            let expected = reference.evaluate(input, now: now)
            guard outcomes == expected else {
                Issue.record("round \(round): outcomes differ from the reference evaluator's")
                return
            }
            for outcome in outcomes { reasons[outcome.reason, default: 0] += 1 }
        }
        // Both sides of the programs were seen, in both modes.
        #expect(reasons[.split, default: 0] > 1_000 && reasons[.targetingMiss, default: 0] > 1_000, "\(reasons)")
        #expect(reasons[.scheduled, default: 0] > 0, "\(reasons)")
    }
}
