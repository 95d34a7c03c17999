import AllotCore

/// The exact shares behind `allot diff` (`docs/review.md` derives them).
///
/// A unit's assignment in a layer depends on independent uniform variables: its layer bucket,
/// each experiment's variant bucket and each holdout bucket. Each share is a sum over layer
/// buckets (grouped by their owners before and after) and over variant runs, times the holdout
/// factors; no unit is sampled. Overrides (finitely many named units) are not part of the shares,
/// and every unit is assumed to match every experiment's targeting and segments, so per
/// experiment the shares hold among the units that match its targeting.
struct ImpactCalculator {
    let old: SideIndex
    let new: SideIndex

    private struct LayerPair: Hashable {
        var old: Int
        var new: Int
    }

    struct OwnerPair: Hashable {
        var old: Int
        var new: Int
    }

    private var ownerPairCache: [LayerPair: [OwnerPair: Int]] = [:]

    init(old: SideIndex, new: SideIndex) {
        self.old = old
        self.new = new
    }

    // MARK: Building blocks

    /// For two layers hashed by the same variable: how many buckets have each (old owner, new
    /// owner) pair; -1 is a free bucket. One pass over the 10,000 buckets.
    mutating func ownerPairs(oldLayer: Int, newLayer: Int) -> [OwnerPair: Int] {
        let key = LayerPair(old: oldLayer, new: newLayer)
        if let cached = ownerPairCache[key] { return cached }
        let a = old.contents.layers[oldLayer].bucketOwners
        let b = new.contents.layers[newLayer].bucketOwners
        var pairs: [OwnerPair: Int] = [:]
        var current = OwnerPair(old: a[0], new: b[0])
        var run = 0
        for bucket in 0..<Exact.base {
            let pair = OwnerPair(old: a[bucket], new: b[bucket])
            if pair != current {
                pairs[current, default: 0] += run
                current = pair
                run = 0
            }
            run += 1
        }
        pairs[current, default: 0] += run
        ownerPairCache[key] = pairs
        return pairs
    }

    /// The joint holdout law for a layer before (`oldLayer`) and after (`newLayer`).
    func holdoutTable(oldLayer: Int?, newLayer: Int?) -> HoldoutTable {
        HoldoutTable(
            thresholdsOld: oldLayer.map { old.holdoutThresholds(layer: $0) } ?? [:],
            thresholdsNew: newLayer.map { new.holdoutThresholds(layer: $0) } ?? [:])
    }

    // MARK: Experiments

    struct ExperimentImpact: Sendable {
        /// Share of the layer's units enrolled before / after.
        var enrolledOld = 0.0
        var enrolledNew = 0.0
        /// Not enrolled before, enrolled after.
        var newlyEnrolled = 0.0
        /// Enrolled before, not after.
        var unenrolled = 0.0
        /// Enrolled before and after, in a variant of another name.
        var moved = 0.0
        /// Enrolled before and after, in the same variant.
        var stayed = 0.0
        /// Moves by (from, to) variant, largest first.
        var moves: [(from: String, to: String, share: Double)] = []
        /// Exact: some enrolled unit leaves.
        var unenrollsAny = false
        /// Exact: some enrolled unit changes variant.
        var movesAny = false
    }

    /// The impact on experiment `name`, present before as `oldExperiment` and after as
    /// `newExperiment` (either may be nil).
    mutating func experimentImpact(oldExperiment: Int?, newExperiment: Int?) -> ExperimentImpact {
        let kOld = oldExperiment.map(old.enrollingBuckets) ?? 0
        let kNew = newExperiment.map(new.enrollingBuckets) ?? 0
        let oldLayer = oldExperiment.map { old.contents.experiments[$0].layer }
        let newLayer = newExperiment.map { new.contents.experiments[$0].layer }
        let pOld = Exact(kOld, scale: 1)
        let pNew = Exact(kNew, scale: 1)
        var both = Exact.zero
        // Holdout variables are keyed by unit type too, so for layers of different unit types the
        // table's marginals are right and nothing is shared.
        let holdouts = holdoutTable(oldLayer: oldLayer, newLayer: newLayer)
        if let oldExperiment, let newExperiment, let oldLayer, let newLayer {
            // Layers of different unit types hash different ids: nobody is "the same unit" on both sides.
            let sameUnit = old.contents.layers[oldLayer].unitType == new.contents.layers[newLayer].unitType
            if sameUnit, kOld > 0, kNew > 0 {
                if old.layerVariable(oldLayer) == new.layerVariable(newLayer) {
                    both = Exact(
                        ownerPairs(oldLayer: oldLayer, newLayer: newLayer)[OwnerPair(old: oldExperiment, new: newExperiment)] ?? 0, scale: 1
                    )
                } else {
                    both = Exact(kOld * kNew, scale: 2)
                }
            }
        }
        var impact = ExperimentImpact()
        impact.enrolledOld = pOld.value * holdouts.freeOld
        impact.enrolledNew = pNew.value * holdouts.freeNew
        let onlyOld = pOld - both
        let onlyNew = pNew - both
        impact.unenrolled = onlyOld.value * holdouts.freeOld + both.value * holdouts.newlyHeld
        impact.newlyEnrolled = onlyNew.value * holdouts.freeNew + both.value * holdouts.released
        impact.unenrollsAny = (onlyOld.isPositive && holdouts.freeOld > 0) || (both.isPositive && holdouts.newlyHeld > 0)

        guard let oldExperiment, let newExperiment, both.isPositive, holdouts.freeBoth > 0 else { return impact }
        let oldVariants = old.contents.experiments[oldExperiment].variants
        let newVariants = new.contents.experiments[newExperiment].variants
        let joint: [[Int]]
        let scale: Int
        if old.variantVariable(oldExperiment) == new.variantVariable(newExperiment) {
            joint = VariantRuns.joint(
                old.contents.experiments[oldExperiment].variantRuns, oldVariants.count, new.contents.experiments[newExperiment].variantRuns,
                newVariants.count)
            scale = 1
        } else {
            let a = old.variantCounts[oldExperiment]
            let b = new.variantCounts[newExperiment]
            joint = a.map { x in b.map { y in x * y } }
            scale = 2
        }
        for (i, row) in joint.enumerated() {
            for (j, count) in row.enumerated() where count > 0 {
                let share = (both * Exact(count, scale: scale)).value * holdouts.freeBoth
                if oldVariants[i].name == newVariants[j].name {
                    impact.stayed += share
                } else {
                    impact.moved += share
                    impact.moves.append((oldVariants[i].name, newVariants[j].name, share))
                }
            }
        }
        impact.moves.sort { $0.share != $1.share ? $0.share > $1.share : ($0.from, $0.to) < ($1.from, $1.to) }
        impact.movesAny = !impact.moves.isEmpty
        return impact
    }

    // MARK: Parameters

    /// What one layer hands out for one parameter, given the owner of the unit's bucket.
    private enum Answer {
        /// Always this value (the default: no owner, an owner that enrolls nobody, or held out).
        case fixed(Int)
        /// The owner's variant decides: `values[i]` for variant `i`, which owns `counts[i]` of the
        /// variant buckets of `variable`.
        case split(counts: [Int], values: [Int], runs: [BundleContents.VariantRun], variable: HashVariable)

        /// Share of units whose value differs from `value` (scale 1 for a split).
        func differs(from value: Int) -> Exact {
            switch self {
            case .fixed(let v): return v == value ? .zero : .one
            case .split(let counts, let values, _, _):
                var total = 0
                for (i, count) in counts.enumerated() where values[i] != value { total += count }
                return Exact(total, scale: 1)
            }
        }

        /// Share of units (scale 1) per value.
        func distribution() -> [Int: Exact] {
            switch self {
            case .fixed(let v): return [v: .one]
            case .split(let counts, let values, _, _):
                var result: [Int: Exact] = [:]
                for (i, count) in counts.enumerated() where count > 0 { result[values[i], default: .zero] += Exact(count, scale: 1) }
                return result
            }
        }
    }

    /// Interns JSON texts so comparisons are integer comparisons.
    private struct ValueTable {
        var ids: [String: Int] = [:]
        mutating func id(_ json: String) -> Int {
            if let id = ids[json] { return id }
            ids[json] = ids.count
            return ids.count - 1
        }
    }

    /// The share of units (of the parameter's unit type) whose answer for a parameter differs
    /// before and after; nil when the parameter moved to a layer of another unit type.
    mutating func parameterImpact(oldParameter: Int, newParameter: Int) -> Double? {
        let oldLayer = old.contents.parameters[oldParameter].layer
        let newLayer = new.contents.parameters[newParameter].layer
        guard old.contents.layers[oldLayer].unitType == new.contents.layers[newLayer].unitType else { return nil }
        var values = ValueTable()
        let defaultOld = values.id(old.contents.parameters[oldParameter].defaultJSON)
        let defaultNew = values.id(new.contents.parameters[newParameter].defaultJSON)
        let answersOld = answers(side: old, layer: oldLayer, parameter: oldParameter, defaultValue: defaultOld, values: &values)
        let answersNew = answers(side: new, layer: newLayer, parameter: newParameter, defaultValue: defaultNew, values: &values)
        let holdouts = holdoutTable(oldLayer: oldLayer, newLayer: newLayer)

        let mixtureOld = mixture(side: old, layer: oldLayer, answers: answersOld, defaultValue: defaultOld)
        let mixtureNew = mixture(side: new, layer: newLayer, answers: answersNew, defaultValue: defaultNew)

        // Neither side held out: the layer buckets decide.
        var differsFree = Exact.zero
        if holdouts.freeBoth > 0 {
            if old.layerVariable(oldLayer) == new.layerVariable(newLayer) {
                for (pair, count) in ownerPairs(oldLayer: oldLayer, newLayer: newLayer) {
                    let a = answersOld[pair.old] ?? .fixed(defaultOld)
                    let b = answersNew[pair.new] ?? .fixed(defaultNew)
                    differsFree += Exact(count, scale: 1) * differs(a, b)
                }
            } else {
                // Independent layer buckets: P(same) = Σ_v M_old(v) M_new(v), corrected for owner
                // pairs whose variant buckets are one variable (an experiment that kept its salt).
                var same = Exact.zero
                for (value, p) in mixtureOld { if let q = mixtureNew[value] { same += p * q } }
                var splitsNew: [HashVariable: Int] = [:]
                for (owner, answer) in answersNew { if case .split(_, _, _, let variable) = answer { splitsNew[variable] = owner } }
                for (ownerOld, answerOld) in answersOld {
                    guard case .split(_, _, _, let variable) = answerOld, let ownerNew = splitsNew[variable],
                        let answerNew = answersNew[ownerNew]
                    else {
                        continue
                    }
                    let weight = Exact(old.ownedBuckets[ownerOld] * new.ownedBuckets[ownerNew], scale: 2)
                    let joint = Exact.one - differs(answerOld, answerNew)
                    let independent = Exact.one - differsIndependently(answerOld, answerNew)
                    same += weight * (joint - independent)
                }
                differsFree = Exact.one - same
            }
        }
        // One side held out: that side answers its default.
        let oldDiffersFromNewDefault = Exact.one - (mixtureOld[defaultNew] ?? .zero)
        let newDiffersFromOldDefault = Exact.one - (mixtureNew[defaultOld] ?? .zero)
        return differsFree.value * holdouts.freeBoth + oldDiffersFromNewDefault.value * holdouts.newlyHeld
            + newDiffersFromOldDefault.value * holdouts.released + (defaultOld == defaultNew ? 0 : holdouts.heldBoth)
    }

    /// The answer of each owner of the layer that enrolls units; owners not listed answer the default.
    private func answers(side: SideIndex, layer: Int, parameter: Int, defaultValue: Int, values: inout ValueTable) -> [Int: Answer] {
        let name = side.contents.parameters[parameter].name
        var result: [Int: Answer] = [:]
        for e in side.contents.layers[layer].experiments where side.enrolls(e) && side.ownedBuckets[e] > 0 {
            let experiment = side.contents.experiments[e]
            let variantValues = experiment.variants.map { variant in
                variant.parameters.first { $0.name == name }.map { values.id($0.json) } ?? defaultValue
            }
            result[e] = .split(
                counts: side.variantCounts[e], values: variantValues, runs: experiment.variantRuns, variable: side.variantVariable(e))
        }
        return result
    }

    /// The law of the layer's answer over a uniform layer bucket (scale 2).
    private func mixture(side: SideIndex, layer: Int, answers: [Int: Answer], defaultValue: Int) -> [Int: Exact] {
        var result: [Int: Exact] = [:]
        var defaultBuckets = Exact.base
        for (owner, answer) in answers {
            defaultBuckets -= side.ownedBuckets[owner]
            for (value, p) in answer.distribution() { result[value, default: .zero] += Exact(side.ownedBuckets[owner], scale: 1) * p }
        }
        result[defaultValue, default: .zero] += Exact(defaultBuckets, scale: 1)
        return result
    }

    /// P(values differ) for one old and one new answer, sharing the variant variable when they have the same one.
    private func differs(_ a: Answer, _ b: Answer) -> Exact {
        switch (a, b) {
        case (.fixed(let x), _): return b.differs(from: x)
        case (_, .fixed(let y)): return a.differs(from: y)
        case (.split(_, let valuesA, let runsA, let variableA), .split(_, let valuesB, let runsB, let variableB)):
            guard variableA == variableB else { return differsIndependently(a, b) }
            let joint = VariantRuns.joint(runsA, valuesA.count, runsB, valuesB.count)
            var total = 0
            for (i, row) in joint.enumerated() { for (j, count) in row.enumerated() where valuesA[i] != valuesB[j] { total += count } }
            return Exact(total, scale: 1)
        }
    }

    /// P(values differ) treating the two answers' variant buckets as independent.
    private func differsIndependently(_ a: Answer, _ b: Answer) -> Exact {
        switch (a, b) {
        case (.fixed(let x), _): return b.differs(from: x)
        case (_, .fixed(let y)): return a.differs(from: y)
        case (.split(let countsA, let valuesA, _, _), .split(let countsB, let valuesB, _, _)):
            var total = 0
            for (i, x) in countsA.enumerated() where x > 0 {
                for (j, y) in countsB.enumerated() where y > 0 && valuesA[i] != valuesB[j] { total += x * y }
            }
            return Exact(total, scale: 2)
        }
    }
}
