import AllotCompiler
import AllotTestSupport
import Foundation
import Testing

@testable import AllotCore

/// The optimized evaluator (evaluation plan, inline salts and runs, inline string compares, the
/// pointer-based answer writer) against `ReferenceEvaluator`, the straightforward one it replaced.
struct EvaluationPlanTests {
    /// A project that exercises every path: two unit types, holdouts, overrides, paused, concluded
    /// and scheduled experiments, targeting over every attribute type, segments with ids and rules,
    /// salts of every length class (up to 255 bytes, so both inline and payload salts), experiments
    /// with 1 to 12 variants and, in the second generation, re-weighted (fragmented) variant runs.
    static func project(generation: Int) -> String {
        let longSalt = String(repeating: "s", count: 255)
        var text = """
            kind: Attributes
            attributes:
              country: { type: string, values: [US, CA, DE, GB] }
              app_version: semver
              age: number
              beta: bool
              tags: list
              email: string
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
            salt: search-layer-salt-that-is-longer-than-thirty-two-bytes
            params:
              ranking: { type: string, default: bm25 }
            ---
            kind: Layer
            name: devices
            unit: device_id
            salt: \(longSalt)
            params:
              dark_mode: { type: bool, default: false }
            ---
            kind: Layer
            name: quiet
            unit: user_id
            ---
            kind: Layer
            name: splits
            unit: user_id
            salt: s
            params:
              arm: { type: number, default: 0 }
            ---
            kind: Holdout
            name: ten
            unit: user_id
            traffic: 10%
            layers: [checkout]
            ---
            kind: Holdout
            name: devices-five
            unit: device_id
            traffic: 5%
            ---
            kind: Segment
            name: staff
            unit: user_id
            ids: [u1, u2, u3, user-staff-with-a-rather-long-identifier-0001]
            ---
            kind: Segment
            name: insiders
            rule: beta || email endsWith "@example.com"

            """
        func experiment(_ name: String, layer: String, status: String = "running", traffic: String, extra: String = "", variants: String) {
            text +=
                "---\nkind: Experiment\nname: \(name)\nlayer: \(layer)\nowner: o@example.com\nstatus: \(status)\ntraffic: \(traffic)\n\(extra)\(variants)\n"
        }
        func weighted(_ weights: [Int], params: (Int) -> String = { _ in "" }) -> String {
            "variants:\n"
                + weights.enumerated().map { index, weight in
                    let percent = "\(weight / 100).\(weight % 100 < 10 ? "0" : "")\(weight % 100)%"
                    return "  - { name: v\(index), weight: \(percent)\(params(index)) }"
                }.joined(separator: "\n")
        }
        let threeWay = generation == 0 ? [3400, 3300, 3300] : [2000, 5000, 3000]
        experiment(
            "targeted", layer: "checkout", traffic: "20%",
            extra: "targeting: country in [\"US\", \"CA\"] && app_version >= \"5.0.0\" || tags contains \"vip\"\n",
            variants: weighted(threeWay) { $0 == 1 ? ", params: { color: red }" : "" })
        experiment("on-hold", layer: "checkout", status: "paused", traffic: "10%", variants: weighted([10000]))
        experiment(
            "windowed", layer: "checkout", traffic: "15%", extra: "start: 2026-12-01T00:00:00Z\nstop: 2026-12-31T00:00:00Z\n",
            variants: weighted([5000, 5000]) { $0 == 1 ? ", params: { size: 12 }" : "" })
        experiment(
            "segmented", layer: "checkout", traffic: "20%", extra: "segments: [staff, insiders]\n", variants: weighted([5000, 5000]))
        let many = generation == 0 ? [Int](repeating: 1000, count: 10) : [1500, 500, 1000, 1000, 1000, 500, 1500, 1000, 1000, 1000]
        experiment(
            "many-arms", layer: "checkout", traffic: "10%", extra: "overrides:\n  v7: [qa-1, u2]\n", variants: weighted(many))
        experiment(
            "ending", layer: "checkout", status: generation == 0 ? "running" : "concluded", traffic: "5%", variants: weighted([5000, 5000]))
        experiment(
            "search-a", layer: "search", traffic: "50%",
            extra: "salt: \(String(repeating: "x", count: 33))\ntargeting: age > 30 || !has(age)\n",
            variants: weighted([2500, 2500, 2500, 2500]) { ", params: { ranking: r\($0) }" })
        experiment(
            "search-b", layer: "search", traffic: "50%",
            extra:
                "targeting: email == \"a-very-long-address-over-sixteen-bytes@example.com\" || email in [\"\", \"a\", \"ab\", \"abcd\", \"abcdefgh\", \"abcdefghijklmnop\", \"abcdefghijklmnopq\"] || email startsWith \"z\"\n",
            variants: weighted([5000, 5000]))
        experiment(
            "dark", layer: "devices", traffic: "100%", extra: "targeting: has(beta)\n",
            variants: weighted([5000, 5000]) { $0 == 1 ? ", params: { dark_mode: true }" : "" })
        for arms in 1...12 {
            let base = 10000 / arms
            var weights = [Int](repeating: base, count: arms)
            weights[0] += 10000 - base * arms
            if generation == 1, arms >= 3 {  // move some weight, so runs fragment
                weights[0] -= 100
                weights[arms - 1] += 100
            }
            // Salts of 16, 31 and 32 bytes for the last three: the edges of the inline salt.
            let salt = arms >= 10 ? "salt: \(String(repeating: "k", count: [16, 31, 32][arms - 10]))\n" : ""
            experiment(
                "arms-\(arms)", layer: "splits", traffic: "8%", extra: salt, variants: weighted(weights) { ", params: { arm: \($0) }" })
        }
        return text
    }

    /// Generations 0 and 1 under bucketing scheme 1, then the same under scheme 2 (2 and 3).
    static let bundles: [LoadedBundle] = BucketingScheme.allCases.flatMap { scheme in
        let first = try! Fixture.compile(project(generation: 0), lock: AllocationLock(bucketingScheme: scheme))
        let second = try! Fixture.compile(project(generation: 1), lock: first.output.lock)
        precondition(second.bundle.payload.bucketingScheme == scheme)
        return [first.bundle, second.bundle]
    }

    /// A request drawn from pools that hit every branch (including absent units and attributes).
    static func request(_ random: inout SeededRandom, bundle: LoadedBundle) throws -> EvaluationInput {
        func pick<T>(_ values: [T]) -> T { values[Int(random.next() % UInt64(values.count))] }
        var units: [String: String] = [:]
        if random.next() % 8 != 0 {
            units["user_id"] = pick([
                "u1", "u2", "u3", "qa-1", "user-staff-with-a-rather-long-identifier-0001", "user-\(random.next() % 100_000)", "x",
                String(repeating: "y", count: 512),
            ])
        }
        if random.next() % 2 == 0 { units["device_id"] = "device-\(random.next() % 10_000)" }
        var attributes: [String: String] = [:]
        let pools: [(String, [String])] = [
            ("country", ["US", "CA", "DE", "GB", ""]),
            ("app_version", ["4.9.0", "5.0.0", "5.0.0-rc.1", "6.1", "10.0.0"]),
            ("age", ["10", "30", "31", "45.5", "-1"]),
            ("beta", ["true", "false"]),
            ("tags", ["", "vip", "a,vip", "a,b", "viper"]),
            (
                "email",
                [
                    "", "a", "ab", "abc", "abcd", "abcdefgh", "abcdefghijklmnop", "abcdefghijklmnopq", "abcdefghijklmnopr", "z",
                    "zed@example.com",
                    "a-very-long-address-over-sixteen-bytes@example.com", "a-very-long-address-over-sixteen-bytes@example.org",
                    "b@example.com",
                ]
            ),
        ]
        for (name, values) in pools where random.next() % 4 != 0 { attributes[name] = pick(values) }
        var input = EvaluationInput(for: bundle)
        try input.set(units: units, attributes: attributes, bundle: bundle)
        return input
    }

    @Test(
        "outcomes and answers equal the reference evaluator's, for every path and both bucketing schemes",
        arguments: [0, 1], BucketingScheme.allCases)
    func differential(generation: Int, scheme: BucketingScheme) throws {
        let bundle = Self.bundles[(scheme.rawValue - 1) * 2 + generation]
        let reference = ReferenceEvaluator(bundle: bundle)
        var random = SeededRandom(seed: UInt64(41 + generation))
        var outcomes: [Outcome] = []
        var answer: [UInt8] = []
        var reasons: Set<Reason> = []
        let times: [Int64] = [1_796_083_199, 1_796_083_200, 1_798_675_199, 1_798_675_200]
        for round in 0..<4_000 {
            let input = try Self.request(&random, bundle: bundle)
            let now = times[round % times.count]
            bundle.evaluate(input, now: now, into: &outcomes)
            let expected = reference.evaluate(input, now: now)
            #expect(outcomes == expected, "round \(round)")
            for layer in -1...bundle.payload.layerCount {
                #expect(bundle.evaluate(input, now: now, layer: layer) == reference.evaluate(input, now: now, layer: layer))
            }
            answer.removeAll(keepingCapacity: true)
            bundle.writeAnswer(outcomes, into: &answer)
            #expect(answer == reference.answer(outcomes), "round \(round)")
            reasons.formUnion(outcomes.map(\.reason))
            if outcomes != expected { return }
        }
        let expectedReasons: Set<Reason> =
            generation == 0
            ? [.split, .override, .targetingMiss, .holdout, .paused, .scheduled]
            : [.split, .override, .targetingMiss, .holdout, .paused, .scheduled, .concluded]
        #expect(reasons == expectedReasons)
    }

    @Test("more layers than one block, alternating unit types, agree with the reference evaluator", arguments: BucketingScheme.allCases)
    func manyLayers(scheme: BucketingScheme) throws {
        // 150 layers (blocks of 64 and a partial one), unit types alternating in runs of 1 and 3
        // so the id in the key buffer changes between the owner and decision passes.
        var text = "kind: Attributes\nattributes:\n  country: { type: string, values: [US, CA] }\n"
        for layer in 0..<150 {
            let unit = (layer % 4 == 0 || layer % 7 == 3) ? "device_id" : "user_id"
            text += "---\nkind: Layer\nname: l\(layer)\nunit: \(unit)\nparams: { p\(layer): { type: number, default: 0 } }\n"
            for experiment in 0..<(layer % 3) {
                text +=
                    "---\nkind: Experiment\nname: e\(layer)-\(experiment)\nlayer: l\(layer)\nowner: o@example.com\nstatus: running\ntraffic: 40%\n"
                if experiment == 1 { text += "targeting: country == \"US\"\n" }
                if layer % 10 == 2, experiment == 0 { text += "overrides: { v1: [u1, d1] }\n" }
                text +=
                    "variants:\n  - { name: v0, weight: 50% }\n  - { name: v1, weight: 50%, params: { p\(layer): \(experiment + 1) } }\n"
            }
        }
        let bundle = try Fixture.compile(text, lock: AllocationLock(bucketingScheme: scheme)).bundle
        #expect(bundle.payload.bucketingScheme == scheme)
        let reference = ReferenceEvaluator(bundle: bundle)
        var outcomes: [Outcome] = []
        var answer: [UInt8] = []
        for round in 0..<600 {
            var units: [String: String] = [:]
            if round % 5 != 0 { units["user_id"] = round % 11 == 0 ? "u1" : "user-\(round)" }
            if round % 3 != 0 { units["device_id"] = round % 13 == 0 ? "d1" : "device-\(round)" }
            var input = EvaluationInput(for: bundle)
            try input.set(units: units, attributes: round % 2 == 0 ? ["country": "US"] : [:], bundle: bundle)
            bundle.evaluate(input, now: 0, into: &outcomes)
            #expect(outcomes == reference.evaluate(input, now: 0), "round \(round)")
            answer.removeAll(keepingCapacity: true)
            bundle.writeAnswer(outcomes, into: &answer)
            #expect(answer == reference.answer(outcomes))
        }
    }

    @Test("one input reused for JSON requests (its string scratch kept) evaluates like fresh inputs")
    func reusedJSONInput() throws {
        let bundle = Self.bundles[1]
        let requests = [
            #"{"units":{"user_id":"u1"},"attributes":{"country":"US","app_version":"5.0.0","email":"zed@example.com"}}"#,
            #"{"units":{"user_id":"user-\u00e9-a-long-escaped-id-\n-\"quoted\""},"attributes":{"tags":["vip","a\tb"],"age":31}}"#,
            #"{"units":{"user_id":"x"},"attributes":{"email":"a-very-long-address-over-sixteen-bytes@example.com","beta":"true"}}"#,
            #"{"units":{"user_id":5}}"#,
            #"{"units":{"user_id":"u2","device_id":"d1"},"attributes":{"country":null}}"#,
        ]
        var reused = EvaluationInput(for: bundle)
        var outcomes: [Outcome] = []
        var expected: [Outcome] = []
        for _ in 0..<3 {
            for request in requests {
                var fresh = EvaluationInput(for: bundle)
                let freshError = Array(request.utf8).withUnsafeBytes { bytes in
                    Result { () throws(RequestError) in try fresh.setJSON(bytes, bundle: bundle) }
                }
                let reusedError = Array(request.utf8).withUnsafeBytes { bytes in
                    Result { () throws(RequestError) in try reused.setJSON(bytes, bundle: bundle) }
                }
                switch (freshError, reusedError) {
                case (.success, .success):
                    bundle.evaluate(fresh, now: 0, into: &expected)
                    bundle.evaluate(reused, now: 0, into: &outcomes)
                    #expect(outcomes == expected, "\(request)")
                case (.failure(let a), .failure(let b)):
                    #expect(a == b)
                default:
                    Issue.record("\(request): \(freshError) vs \(reusedError)")
                }
            }
        }
    }

    @Test("outcomes arrays are cleared, reused and shared correctly")
    func outcomeArrays() throws {
        let bundle = Self.bundles[1]
        let reference = ReferenceEvaluator(bundle: bundle)
        var random = SeededRandom(seed: 9)
        let input = try Self.request(&random, bundle: bundle)
        let expected = reference.evaluate(input, now: 0)
        // Longer than needed, shared with another variable, empty: the result is the same.
        var outcomes = [Outcome](repeating: Outcome(layer: 9, experiment: 9, variant: 9, reason: .paused), count: 100)
        let shared = outcomes
        bundle.evaluate(input, now: 0, into: &outcomes)
        #expect(outcomes == expected)
        #expect(shared.count == 100 && shared.allSatisfy { $0.layer == 9 })
        var empty: [Outcome] = []
        bundle.evaluate(input, now: 0, into: &empty)
        #expect(empty == expected)
    }

    @Test("answers for any outcomes, in any order, equal the reference writer's, through every entry point")
    func answers() throws {
        let bundle = Self.bundles[1]
        let reference = ReferenceEvaluator(bundle: bundle)
        var random = SeededRandom(seed: 5)
        var outcomes: [Outcome] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        for round in 0..<500 {
            bundle.evaluate(try Self.request(&random, bundle: bundle), now: 1_796_083_200, into: &outcomes)
            if round % 3 == 1 { outcomes.shuffle(using: &random) }
            if round % 3 == 2 { outcomes += outcomes.prefix(2) }
            let expected = reference.answer(outcomes)
            // Appended after existing bytes, which stay.
            var output = Array("prefix".utf8)
            bundle.writeAnswer(outcomes, into: &output)
            #expect(output == Array("prefix".utf8) + expected, "round \(round)")
            #expect(bundle.answerLength(outcomes) == expected.count)
            var params = Array("p".utf8)
            bundle.writeParams(outcomes, into: &params)
            #expect(params == Array("p".utf8) + reference.params(outcomes))
            #expect(bundle.paramsLength(outcomes) == reference.params(outcomes).count)
            // Into a caller's buffer: with room to spare (written without measuring), exactly long
            // enough, and one byte short (nothing written).
            let roomy = buffer.withUnsafeMutableBytes { bundle.writeAnswer(outcomes, to: $0) }
            #expect(roomy == expected.count && Array(buffer[..<expected.count]) == expected)
            let written = buffer.withUnsafeMutableBytes {
                bundle.writeAnswer(outcomes, to: UnsafeMutableRawBufferPointer(rebasing: $0[..<expected.count]))
            }
            #expect(written == expected.count && Array(buffer[..<expected.count]) == expected)
            buffer[0] = 0
            let short = buffer.withUnsafeMutableBytes {
                bundle.writeAnswer(outcomes, to: UnsafeMutableRawBufferPointer(rebasing: $0[..<(expected.count - 1)]))
            }
            #expect(short == nil && buffer[0] == 0)
        }
    }

    @Test("each reason's pre-rendered entry ending is its JSON name and the entry's closing quote and brace")
    func reasonEndings() {
        for reason in Reason.allCases {
            #expect(reason.jsonNameClosingEntry.description == reason.name + "\"}")
        }
    }

    @Test("decimal digits", arguments: [0, 7, 9, 10, 99, 100, 12_345, UInt64(Int64.max), UInt64.max] as [UInt64])
    func decimals(value: UInt64) {
        var output = Array("x".utf8)
        appendDecimal(value, to: &output)
        #expect(output == Array("x\(value)".utf8))
        #expect(decimalLength(value) == String(value).count)
    }

    @Test("inline byte copies move exactly the bytes asked for")
    func shortCopies() {
        for count in 0...80 {
            let source = (0..<count).map { UInt8(truncatingIfNeeded: $0 &+ 1) }
            var destination = [UInt8](repeating: 0xEE, count: count + 2)
            source.withUnsafeBytes { s in
                destination.withUnsafeMutableBytes { d in
                    if count > 0 { copyBytes(to: d.baseAddress! + 1, from: s.baseAddress!, count: count) }
                }
            }
            #expect(destination == [0xEE] + source + [0xEE], "count \(count)")
        }
    }

    @Test("inline variant runs pick the same variant as the run search, for every bucket")
    func inlineRuns() {
        var inlineSeen = 0
        var searchedSeen = 0
        for bundle in Self.bundles {
            let p = bundle.payload
            for experiment in 0..<p.experimentCount {
                let record = p.experimentRecord(experiment)
                let firstRun = p.int(record + PayloadFormat.ExperimentRecord.firstVariantRun)
                let runCount = p.int(record + PayloadFormat.ExperimentRecord.variantRunCount)
                if runCount <= EvaluationPlan.inlineRunCapacity { inlineSeen += 1 } else { searchedSeen += 1 }
                for bucket in 0..<Bucketing.bucketCount {
                    let expected = bundle.variantForBucket(bucket, firstRun: firstRun, runCount: runCount)
                    guard bundle.planVariant(experiment: experiment, bucket: bucket) == expected else {
                        Issue.record("experiment \(experiment) (\(runCount) runs), bucket \(bucket)")
                        return
                    }
                }
            }
        }
        #expect(inlineSeen > 10 && searchedSeen > 2, "\(inlineSeen) inline, \(searchedSeen) searched")
    }

    @Test("the comparison table agrees with the decoded comparisons")
    func comparisonTable() {
        for comparison in TargetingComparison.allCases {
            for ordering in -1...1 {
                #expect(
                    TargetingComparison.holds(comparison.rawValue, ordering: ordering) == comparison.holds(ordering: ordering),
                    "\(comparison) \(ordering)")
            }
        }
    }

    @Test("inline byte comparisons agree with memcmp for every length and differing position")
    func shortCompares() {
        #expect(bytesEqual(UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0)))
        for count in 1...40 {
            let a = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let copy = a
            a.withUnsafeBytes { x in
                copy.withUnsafeBytes { y in #expect(sameBytes(x.baseAddress!, y.baseAddress!, count)) }
            }
            for position in 0..<count {
                var b = a
                b[position] ^= 0x20
                a.withUnsafeBytes { x in
                    b.withUnsafeBytes { y in
                        #expect(!sameBytes(x.baseAddress!, y.baseAddress!, count), "length \(count), position \(position)")
                        #expect(bytesEqual(x, y) == false)
                    }
                }
            }
        }
    }
}
