@testable import AllotCompiler
import AllotTestSupport
import AllotCore
import Testing

/// Random sequences of edits (add, ramp up, ramp down, conclude, reweight, add/remove variants,
/// restart) compiled step by step, each step checked against an independent per-bucket model
/// of the documented rules, and against real units assigned with consecutive bundles.
struct AllocationPropertyTests {
    struct ExperimentState {
        var name: String
        var status: ExperimentStatus
        var traffic: Int  // basis points
        var weights: [(String, Int)]
        var restart: Int
    }

    /// What the model remembers of each layer bucket.
    struct BucketHistory {
        var owner: String?
        var claimedAt = 0  // step (and order within step) of the last claim
        var everUsed = false
        var freedBy: String?
        var freedAt = 0
    }

    static func yaml(_ experiments: [ExperimentState]) -> String {
        var text = """
            kind: Layer
            name: main
            unit: user_id
            params:
              arm: { type: string, default: none }

            """
        for e in experiments {
            text += "---\nkind: Experiment\nname: \(e.name)\nlayer: main\nowner: owner@example.com\nstatus: \(e.status.name)\n"
            text += "traffic: \(percentText(e.traffic))\n"
            if e.restart > 0 { text += "restart: \(e.restart)\n" }
            text += "variants:\n"
            for (name, weight) in e.weights {
                text += "  - name: \(name)\n    weight: \(percentText(weight))\n    params: { arm: \(e.name)-\(name) }\n"
            }
        }
        return text
    }

    static func percentText(_ basisPoints: Int) -> String {
        "\(basisPoints / 100).\(basisPoints % 100 < 10 ? "0" : "")\(basisPoints % 100)%"
    }

    static func randomWeights(_ count: Int, _ random: inout SeededRandom) -> [Int] {
        var cuts = (0..<(count - 1)).map { _ in Int.random(in: 0...10_000, using: &random) }.sorted()
        cuts = [0] + cuts + [10_000]
        return (0..<count).map { cuts[$0 + 1] - cuts[$0] }
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func randomEditSequencesKeepEveryPromise(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var experiments: [ExperimentState] = []
        var lock = AllocationLock()
        var history = [BucketHistory](repeating: BucketHistory(), count: Bucketing.bucketCount)
        var previousBundle: LoadedBundle? = nil
        var previousExperiments: [ExperimentState] = []
        var nextName = 0
        var clock = 0

        for step in 1...14 {
            // Edit.
            let holding = experiments.filter { $0.status == .running || $0.status == .paused }
            let used = holding.reduce(0) { $0 + $1.traffic }
            let edits = Int.random(in: 1...3, using: &random)
            for _ in 0..<edits {
                let choice = Int.random(in: 0..<7, using: &random)
                let active = experiments.indices.filter { experiments[$0].status == .running || experiments[$0].status == .paused }
                switch choice {
                case 0, 1 where used < 9_000:  // add
                    let count = Int.random(in: 1...3, using: &random)
                    let weights = Self.randomWeights(count, &random)
                    experiments.append(
                        ExperimentState(
                            name: "e\(nextName)", status: .running, traffic: Int.random(in: 1...min(3_000, 10_000 - used), using: &random),
                            weights: zip((0..<count).map { "v\($0)" }, weights).map { ($0, $1) }, restart: 0))
                    nextName += 1
                case 2 where !active.isEmpty:  // ramp up or down
                    let index = active.randomElement(using: &random)!
                    let room = 10_000 - experiments.filter { $0.status == .running || $0.status == .paused }.reduce(0) { $0 + $1.traffic }
                    experiments[index].traffic = max(0, min(experiments[index].traffic + room, experiments[index].traffic + Int.random(in: -1_500...1_500, using: &random)))
                case 3 where !active.isEmpty:  // conclude
                    experiments[active.randomElement(using: &random)!].status = .concluded
                case 4 where !active.isEmpty:  // reweight
                    let index = active.randomElement(using: &random)!
                    let weights = Self.randomWeights(experiments[index].weights.count, &random)
                    experiments[index].weights = zip(experiments[index].weights.map(\.0), weights).map { ($0, $1) }
                case 5 where !active.isEmpty:  // add or remove a variant
                    let index = active.randomElement(using: &random)!
                    var names = experiments[index].weights.map(\.0)
                    if names.count > 1 && Bool.random(using: &random) {
                        names.remove(at: Int.random(in: 0..<names.count, using: &random))
                    } else {
                        names.append("w\(step)")
                    }
                    experiments[index].weights = zip(names, Self.randomWeights(names.count, &random)).map { ($0, $1) }
                case 6 where !active.isEmpty:  // pause/resume or restart
                    let index = active.randomElement(using: &random)!
                    if Bool.random(using: &random) {
                        experiments[index].status = experiments[index].status == .running ? .paused : .running
                    } else {
                        experiments[index].restart += 1
                    }
                default:
                    break
                }
            }

            // Compile against the previous lock.
            let compiled = try Fixture.compile(Self.yaml(experiments), lock: lock, version: UInt64(step))
            let next = compiled.output.lock
            let layer = next.layers["main"] ?? .init()
            let previousLayer = lock.layers["main"] ?? .init()

            // 1. Exact sizes, disjointness, and nothing but holders in the lock.
            var owner = [String?](repeating: nil, count: Bucketing.bucketCount)
            for e in experiments where e.status == .running || e.status == .paused {
                let buckets = layer.experiments[e.name]?.buckets.buckets ?? []
                #expect(buckets.count == e.traffic, "step \(step): \(e.name) holds \(buckets.count), wants \(e.traffic)")
                for bucket in buckets {
                    #expect(owner[bucket] == nil, "bucket \(bucket) held twice")
                    owner[bucket] = e.name
                }
                let variants = layer.experiments[e.name]!.variants
                #expect(variants.map(\.name) == e.weights.map(\.0))
                #expect(variants.map(\.buckets.count) == e.weights.map(\.1))
            }
            #expect(Set(layer.experiments.keys) == Set(experiments.filter { $0.status == .running || $0.status == .paused }.map(\.name)))

            // 2. Against the model.
            var claims: [(name: String, bucket: Int)] = []
            for e in experiments where e.status == .running || e.status == .paused {
                let before = Set(previousLayer.experiments[e.name]?.buckets.buckets ?? [])
                let after = layer.experiments[e.name]!.buckets.buckets
                let afterSet = Set(after)
                if e.traffic >= before.count {
                    #expect(before.isSubset(of: afterSet), "step \(step): ramping \(e.name) up dropped enrolled buckets")
                } else {
                    #expect(afterSet.isSubset(of: before), "step \(step): ramping \(e.name) down claimed new buckets")
                    // The kept buckets are the earliest claimed.
                    let keptClaims = afterSet.map { history[$0].claimedAt }
                    let releasedClaims = before.subtracting(afterSet).map { history[$0].claimedAt }
                    #expect((keptClaims.max() ?? 0) <= (releasedClaims.min() ?? Int.max), "step \(step): \(e.name) released older buckets first")
                }
                for bucket in after where !before.contains(bucket) { claims.append((e.name, bucket)) }
            }
            // Buckets released this step by anyone (available to claims as "freed" with their releaser).
            var releasedNow: [Int: String] = [:]
            for (name, allocation) in previousLayer.experiments {
                for bucket in allocation.buckets.buckets where owner[bucket] != name { releasedNow[bucket] = name }
            }
            // Claim preference: own released > never used > released by others (oldest first).
            var ownFreeLeft: Set<String> = []
            var neverUsedLeft = false
            for b in 0..<Bucketing.bucketCount where owner[b] == nil && releasedNow[b] == nil {
                if let releaser = history[b].freedBy, history[b].owner == nil { ownFreeLeft.insert(releaser) }
                if !history[b].everUsed { neverUsedLeft = true }
            }
            for (name, bucket) in claims {
                let h = history[bucket]
                if h.freedBy == name && releasedNow[bucket] == nil { continue }  // the best class
                #expect(!ownFreeLeft.contains(name), "step \(step): \(name) took bucket \(bucket) while its own released buckets were free")
                if h.everUsed || releasedNow[bucket] != nil {
                    #expect(!neverUsedLeft, "step \(step): \(name) reused bucket \(bucket) while never-used buckets remained")
                }
            }

            // 3. Variant moves are minimal, unless the salt changed (a fresh start).
            for e in experiments where e.status == .running || e.status == .paused {
                guard let old = previousLayer.experiments[e.name], old.salt == layer.experiments[e.name]!.salt else { continue }
                var oldVariant = [String](repeating: "", count: Bucketing.bucketCount)
                for v in old.variants { for b in v.buckets.buckets { oldVariant[b] = v.name } }
                var moved = 0
                for v in layer.experiments[e.name]!.variants { for b in v.buckets.buckets where oldVariant[b] != v.name { moved += 1 } }
                let oldCounts = Dictionary(uniqueKeysWithValues: old.variants.map { ($0.name, $0.buckets.count) })
                let minimum = e.weights.reduce(0) { $0 + max(0, $1.1 - (oldCounts[$1.0] ?? 0)) }
                #expect(moved == minimum, "step \(step): \(e.name) moved \(moved) variant buckets, minimum \(minimum)")
            }

            // 4. Real units: enrolled units of unchanged experiments keep their variant.
            if let previousBundle {
                for i in 0..<1_500 {
                    let unit = "unit-\(seed)-\(i)"
                    let before = try previousBundle.assignments(units: ["user_id": unit], now: 0).first
                    let after = try compiled.bundle.assignments(units: ["user_id": unit], now: 0).first
                    guard let before, before.reason == .split,
                        let old = previousExperiments.first(where: { $0.name == before.experiment }),
                        let new = experiments.first(where: { $0.name == before.experiment }),
                        new.status == .running, new.traffic >= old.traffic, new.restart == old.restart,
                        new.weights.map(\.0) == old.weights.map(\.0), new.weights.map(\.1) == old.weights.map(\.1)
                    else { continue }
                    #expect(after?.experiment == before.experiment && after?.variant == before.variant, "step \(step): \(unit) moved")
                }
            }

            // Update the model.
            for bucket in 0..<Bucketing.bucketCount {
                if let releaser = releasedNow[bucket] {
                    history[bucket].freedBy = releaser
                    history[bucket].freedAt = clock
                    history[bucket].owner = nil
                }
            }
            for (name, bucket) in claims {
                clock += 1
                history[bucket].owner = name
                history[bucket].claimedAt = clock
                history[bucket].everUsed = true
                history[bucket].freedBy = nil
            }
            lock = next
            previousBundle = compiled.bundle
            previousExperiments = experiments
        }
    }

    @Test func lockTextRoundTrips() throws {
        var random = SeededRandom(seed: 99)
        var experiments: [ExperimentState] = []
        for i in 0..<5 {
            let weights = Self.randomWeights(3, &random)
            experiments.append(ExperimentState(name: "x\(i)", status: .running, traffic: 1_000 + i * 37, weights: [("a", weights[0]), ("b", weights[1]), ("c", weights[2])], restart: 0))
        }
        let first = try Fixture.compile(Self.yaml(experiments))
        experiments[2].status = .concluded
        experiments[0].traffic = 500
        let second = try Fixture.compile(Self.yaml(experiments), lock: first.output.lock)
        let text = second.output.lock.text
        let parsed = try AllocationLock.parse(SourceFile(path: "allot.lock", text: text), bucketCount: Bucketing.bucketCount).get()
        #expect(parsed == second.output.lock)
        #expect(parsed.text == text)
        #expect(!(parsed.layers["main"]?.freed.isEmpty ?? true))
    }
}
