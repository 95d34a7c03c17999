import AllotCore
import AllotTestSupport
import Testing

@testable import AllotCompiler

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
        var layer = "main"

        /// Whether it holds buckets in layer `main`, the layer the model follows.
        var holdsMain: Bool { layer == "main" && (status == .running || status == .paused) }
        /// Whether it holds buckets in its layer.
        var holds: Bool { status == .running || status == .paused }
    }

    /// What the model remembers of an experiment that stopped holding buckets in `main`.
    struct Dormancy {
        var variants: [AllocationLock.VariantAllocation]
        var salt: String
        var weights: [(String, Int)]
        var restart: Int
        var bundle: LoadedBundle
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
            ---
            kind: Layer
            name: side
            unit: user_id
            params:
              side_arm: { type: string, default: none }

            """
        for e in experiments {
            text += "---\nkind: Experiment\nname: \(e.name)\nlayer: \(e.layer)\nowner: owner@example.com\nstatus: \(e.status.name)\n"
            text += "traffic: \(percentText(e.traffic))\n"
            if e.restart > 0 { text += "restart: \(e.restart)\n" }
            text += "variants:\n"
            for (name, weight) in e.weights {
                text +=
                    "  - name: \(name)\n    weight: \(percentText(weight))\n    params: { \(e.layer == "main" ? "arm" : "side_arm"): \(e.name)-\(name) }\n"
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
                case _ where choice == 0 || (choice == 1 && used < 9_000):  // add
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
                    experiments[index].traffic = max(
                        0,
                        min(experiments[index].traffic + room, experiments[index].traffic + Int.random(in: -1_500...1_500, using: &random)))
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
                    #expect(
                        (keptClaims.max() ?? 0) <= (releasedClaims.min() ?? Int.max), "step \(step): \(e.name) released older buckets first"
                    )
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

    /// Random edits that include dormancy (back to draft, concluding, moving to the other layer,
    /// and back again), with reweights and restarts while running or dormant. Whenever an
    /// experiment holds buckets in `main` again under its old salt, its variants start from the
    /// layout it left with: the moves are exactly the minimum its weight changes require, and real
    /// units enrolled before and after are in the same variant when the weights did not change.
    @Test(arguments: [11, 12, 13, 14, 15, 16])
    func dormancyKeepsVariantLayouts(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var experiments: [ExperimentState] = []
        var lock = AllocationLock()
        var previousBundle: LoadedBundle? = nil
        var dormancies: [String: Dormancy] = [:]
        var previousExperiments: [ExperimentState] = []
        var returns = 0
        var comparedUnits = 0

        for step in 1...16 {
            let mainUsed = experiments.filter(\.holdsMain).reduce(0) { $0 + $1.traffic }
            if experiments.count < 5 && mainUsed < 7_000 && Int.random(in: 0..<2, using: &random) == 0 {  // add to main
                let count = Int.random(in: 2...3, using: &random)
                experiments.append(
                    ExperimentState(
                        name: "d\(experiments.count)", status: .running, traffic: Int.random(in: 800...2_500, using: &random),
                        weights: zip((0..<count).map { "v\($0)" }, Self.randomWeights(count, &random)).map { ($0, $1) }, restart: 0))
            }
            for index in experiments.indices {
                let roll = Int.random(in: 0..<100, using: &random)
                if experiments[index].holdsMain && roll < 25 {  // go dormant in main
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0: experiments[index].status = .draft
                    case 1: experiments[index].status = .concluded
                    default: experiments[index].layer = "side"
                    }
                } else if !experiments[index].holdsMain && roll < 45 {  // come back to main, running
                    experiments[index].status = .running
                    experiments[index].layer = "main"
                } else if roll >= 85 {  // reweight, running or dormant
                    let weights = Self.randomWeights(experiments[index].weights.count, &random)
                    experiments[index].weights = zip(experiments[index].weights.map(\.0), weights).map { ($0, $1) }
                } else if roll >= 82 {  // restart: a fresh start
                    experiments[index].restart += 1
                } else if roll >= 78 && experiments[index].holds {  // pause or resume
                    experiments[index].status = experiments[index].status == .running ? .paused : .running
                }
            }
            // Keep each layer within its buckets: shrink the last holders until it fits.
            for layerName in ["main", "side"] {
                var total = experiments.filter { $0.layer == layerName && $0.holds }.reduce(0) { $0 + $1.traffic }
                for i in experiments.indices.reversed() where total > 10_000 && experiments[i].layer == layerName && experiments[i].holds {
                    let cut = min(experiments[i].traffic, total - 10_000)
                    experiments[i].traffic -= cut
                    total -= cut
                }
            }

            let compiled = try Fixture.compile(Self.yaml(experiments), lock: lock, version: UInt64(step))
            let next = compiled.output.lock
            let main = next.layers["main"] ?? .init()
            let previousMain = lock.layers["main"] ?? .init()

            // The lock's text round-trips, dormant layouts included.
            let parsed = try AllocationLock.parse(SourceFile(path: "allot.lock", text: next.text), bucketCount: Bucketing.bucketCount).get()
            #expect(parsed == next, "step \(step)")
            // Dormant layouts are kept exactly for declared experiments not holding buckets there.
            for (name, layout) in main.dormant {
                let e = try #require(experiments.first { $0.name == name }, "step \(step): dormant \(name) is not declared")
                #expect(!e.holdsMain, "step \(step): \(name) holds buckets and is dormant")
                #expect(layout.variants.reduce(0) { $0 + $1.buckets.count } == Bucketing.bucketCount)
            }

            for e in experiments where e.holdsMain {
                let allocation = try #require(main.experiments[e.name])
                #expect(allocation.variants.map(\.buckets.count) == e.weights.map(\.1), "step \(step): \(e.name)")
                guard previousMain.experiments[e.name] == nil, let dormancy = dormancies[e.name] else { continue }
                // Back from dormancy.
                returns += 1
                #expect(main.dormant[e.name] == nil)
                guard dormancy.salt == allocation.salt else {
                    #expect(e.restart != dormancy.restart, "step \(step): \(e.name) changed salt without a restart")
                    continue
                }
                var oldVariant = [String](repeating: "", count: Bucketing.bucketCount)
                for v in dormancy.variants { for b in v.buckets.buckets { oldVariant[b] = v.name } }
                var moved = 0
                for v in allocation.variants { for b in v.buckets.buckets where oldVariant[b] != v.name { moved += 1 } }
                let oldCounts = Dictionary(uniqueKeysWithValues: dormancy.variants.map { ($0.name, $0.buckets.count) })
                let minimum = e.weights.reduce(0) { $0 + max(0, $1.1 - (oldCounts[$1.0] ?? 0)) }
                #expect(moved == minimum, "step \(step): \(e.name) came back moving \(moved) variant buckets, minimum \(minimum)")
                // Real units: with the weights it left with, everyone enrolled on both sides is where they were.
                if e.weights.map(\.1) == dormancy.weights.map(\.1) {
                    for i in 0..<1_500 {
                        let unit = "unit-\(seed)-\(i)"
                        let before = try dormancy.bundle.assignments(units: ["user_id": unit], now: 0).first { $0.experiment == e.name }
                        let after = try compiled.bundle.assignments(units: ["user_id": unit], now: 0).first { $0.experiment == e.name }
                        guard let before, let after, before.reason == .split, after.reason == .split else { continue }
                        comparedUnits += 1
                        #expect(after.variant == before.variant, "step \(step): \(unit) of \(e.name) came back to another variant")
                    }
                }
            }

            // Remember the layouts of experiments that stopped holding buckets in main this step.
            for (name, allocation) in previousMain.experiments where main.experiments[name] == nil {
                let e = previousExperiments.first { $0.name == name }!
                dormancies[name] = Dormancy(
                    variants: allocation.variants, salt: allocation.salt, weights: previousBundleWeights(name, lock: lock),
                    restart: e.restart,
                    bundle: previousBundle!)
            }
            lock = next
            previousBundle = compiled.bundle
            previousExperiments = experiments
        }
        #expect(returns > 0, "the sequence never brought an experiment back")
        #expect(comparedUnits > 0, "no unit was enrolled both before and after a return")
    }

    /// The weights (in buckets) of `name`'s variants in `lock`'s layer `main`.
    func previousBundleWeights(_ name: String, lock: AllocationLock) -> [(String, Int)] {
        (lock.layers["main"]?.experiments[name]?.variants ?? []).map { ($0.name, $0.buckets.count) }
    }

    @Test("reweight 50/50 → 70/30, then draft (or another layer), then back: every unit returns to its variant")
    func reweightedExperimentReturnsFromDormancyUnchanged() throws {
        let draft = ExperimentState(name: "x", status: .draft, traffic: 4_000, weights: [("a", 7_000), ("b", 3_000)], restart: 0)
        var moved = draft
        moved.status = .running
        moved.layer = "side"
        for dormant in [draft, moved] {
            var x = ExperimentState(name: "x", status: .running, traffic: 4_000, weights: [("a", 5_000), ("b", 5_000)], restart: 0)
            let first = try Fixture.compile(Self.yaml([x]))
            x.weights = [("a", 7_000), ("b", 3_000)]
            let reweighted = try Fixture.compile(Self.yaml([x]), lock: first.output.lock)
            let away = try Fixture.compile(Self.yaml([dormant]), lock: reweighted.output.lock)
            #expect(
                away.output.lock.layers["main"]?.dormant["x"]?.variants == reweighted.output.lock.layers["main"]?.experiments["x"]?.variants
            )
            #expect(
                away.output.lock.changes(from: reweighted.output.lock).contains("main/x: variant layout kept while dormant, for its return")
            )
            let back = try Fixture.compile(Self.yaml([x]), lock: away.output.lock)
            #expect(back.output.lock.layers["main"] == reweighted.output.lock.layers["main"], "\(dormant.layer): the lock is as before")
            for i in 0..<3_000 {
                let before = try reweighted.bundle.assignments(units: ["user_id": "u\(i)"], now: 0).first
                let after = try back.bundle.assignments(units: ["user_id": "u\(i)"], now: 0).first
                #expect(before == after, "u\(i)")
            }
        }
    }

    @Test func lockTextRoundTrips() throws {
        var random = SeededRandom(seed: 99)
        var experiments: [ExperimentState] = []
        for i in 0..<5 {
            let weights = Self.randomWeights(3, &random)
            experiments.append(
                ExperimentState(
                    name: "x\(i)", status: .running, traffic: 1_000 + i * 37,
                    weights: [("a", weights[0]), ("b", weights[1]), ("c", weights[2])], restart: 0))
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
