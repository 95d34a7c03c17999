import AllotCompiler
import AllotTestSupport
import Testing

@testable import AllotCore

/// Property: on random projects (layers of two unit types, random salts of every length class,
/// experiments with random traffic, status, weights, targeting and overrides, holdouts) compiled
/// under either bucketing scheme, and a second random project (the same draws up to a first
/// re-weighting) compiled against the first one's lock, the evaluator and its answers equal
/// `ReferenceEvaluator`'s for random requests.
struct RandomBundleTests {
    static func randomProject(_ random: inout SeededRandom, generation: Int, seed: Int) -> String {
        var text = "kind: Attributes\nattributes:\n  country: { type: string, values: [US, CA, DE] }\n"
        func draw(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
        var salts = 0
        /// A unique salt (salts may not repeat) of 1 to 120 bytes, or none (the default).
        func salt() -> String {
            salts += 1
            let unique = "\(salts)-"
            switch draw(0...3) {
            case 0: return ""  // the default: the name
            case 1: return "salt: \(unique)\(String(repeating: "q", count: draw(0...30)))\n"
            case 2: return "salt: \(unique)\(String(repeating: "w", count: draw(33...120)))\n"
            default: return "salt: salt-\(seed)-\(unique)\(draw(0...1_000_000))\n"
            }
        }
        let layerCount = draw(1...6)
        let units = ["user_id", "device_id"]
        var layerUnits: [String] = []
        for layer in 0..<layerCount {
            layerUnits.append(units[draw(0...1)])
            var overridden = false
            text += "---\nkind: Layer\nname: l\(layer)\nunit: \(layerUnits[layer])\n\(salt())"
            text += "params: { p\(layer): { type: number, default: 0 } }\n"
            var remaining = 100
            for experiment in 0..<draw(0...4) {
                guard remaining > 0 else { break }
                let traffic = draw(1...remaining)
                remaining -= traffic
                let status = ["running", "running", "running", "paused", "concluded", "draft"][draw(0...5)]
                let arms = draw(1...4)
                var weights = [Int](repeating: 10_000 / arms, count: arms)
                weights[0] += 10_000 - weights.reduce(0, +)
                if generation == 1, arms > 1 {  // re-weighted against the first lock
                    let moved = draw(0...(weights[0] - 1))
                    weights[0] -= moved
                    weights[arms - 1] += moved
                }
                let variants = weights.enumerated().map { index, weight in
                    "  - { name: v\(index), weight: \(weight / 100).\(weight % 100 < 10 ? "0" : "")\(weight % 100)%, params: { p\(layer): \(index) } }"
                }.joined(separator: "\n")
                var extra = salt()
                if draw(0...3) == 0 { extra += "targeting: country in [\"US\", \"CA\"]\n" }
                if status == "running", !overridden, draw(0...4) == 0 {
                    extra += "overrides:\n  v0: [u1, d1]\n"
                    overridden = true
                }
                text +=
                    "---\nkind: Experiment\nname: e\(layer)-\(experiment)\nlayer: l\(layer)\nowner: o@example.com\nstatus: \(status)\n"
                    + "traffic: \(traffic)%\n\(extra)variants:\n\(variants)\n"
            }
        }
        for holdout in 0..<draw(0...2) {
            let unit = layerUnits[draw(0...(layerCount - 1))]
            let covered = (0..<layerCount).filter { layerUnits[$0] == unit && draw(0...1) == 0 }.map { "l\($0)" }
            text += "---\nkind: Holdout\nname: h\(holdout)\nunit: \(unit)\ntraffic: \(draw(1...30))%\n\(salt())"
            if !covered.isEmpty { text += "layers: [\(covered.joined(separator: ", "))]\n" }
        }
        return text
    }

    @Test(arguments: BucketingScheme.allCases, 0..<12)
    func evaluatorEqualsTheReferenceOnRandomBundles(scheme: BucketingScheme, seed: Int) throws {
        var random = SeededRandom(seed: UInt64(7_000 + seed))
        var projectRandom = random
        let first = try Fixture.compile(
            Self.randomProject(&projectRandom, generation: 0, seed: seed), lock: AllocationLock(bucketingScheme: scheme))
        projectRandom = random
        let second = try Fixture.compile(Self.randomProject(&projectRandom, generation: 1, seed: seed), lock: first.output.lock)
        random = projectRandom
        var outcomes: [Outcome] = []
        var answer: [UInt8] = []
        for bundle in [first.bundle, second.bundle] {
            #expect(bundle.payload.bucketingScheme == scheme)
            let reference = ReferenceEvaluator(bundle: bundle)
            for round in 0..<400 {
                var units: [String: String] = [:]
                if random.next() % 6 != 0 { units["user_id"] = random.next() % 17 == 0 ? "u1" : "user-\(random.next() % 1_000_000)" }
                if random.next() % 3 != 0 { units["device_id"] = random.next() % 13 == 0 ? "d1" : "device-\(random.next())" }
                var input = EvaluationInput(for: bundle)
                let country = ["US", "CA", "DE"][Int(random.next() % 3)]
                try input.set(units: units, attributes: random.next() % 4 == 0 ? [:] : ["country": country], bundle: bundle)
                bundle.evaluate(input, now: 1_800_000_000, into: &outcomes)
                let expected = reference.evaluate(input, now: 1_800_000_000)
                #expect(outcomes == expected, "seed \(seed) round \(round)")
                answer.removeAll(keepingCapacity: true)
                bundle.writeAnswer(outcomes, into: &answer)
                #expect(answer == reference.answer(outcomes), "seed \(seed) round \(round)")
                if outcomes != expected { return }
            }
        }
    }
}
