import AllotCore

/// One side of a diff, indexed for the exact computations: names to indices, which experiments
/// enroll units at the evaluation time, how many layer buckets each owns, variant bucket counts.
struct SideIndex: Sendable {
    let snapshot: ReviewSnapshot
    var contents: BundleContents { snapshot.contents }
    /// The evaluation time (unix seconds) for start and stop.
    let at: Int64

    let experimentIndex: [String: Int]
    let layerIndex: [String: Int]
    let parameterIndex: [String: Int]
    let holdoutIndex: [String: Int]
    let segmentIndex: [String: Int]
    /// Per experiment, the layer buckets it owns in the bucket table (concluded experiments can
    /// own released buckets; they enroll nobody).
    let ownedBuckets: [Int]
    /// Per experiment, the variant buckets of each variant.
    let variantCounts: [[Int]]

    init(_ snapshot: ReviewSnapshot, at: Int64) {
        self.snapshot = snapshot
        self.at = at
        let contents = snapshot.contents
        experimentIndex = Dictionary(contents.experiments.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        layerIndex = Dictionary(contents.layers.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        parameterIndex = Dictionary(contents.parameters.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        holdoutIndex = Dictionary(contents.holdouts.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        segmentIndex = Dictionary(contents.segments.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        var owned = [Int](repeating: 0, count: contents.experiments.count)
        for layer in contents.layers {
            for owner in layer.bucketOwners where owner >= 0 { owned[owner] += 1 }
        }
        ownedBuckets = owned
        variantCounts = contents.experiments.map { VariantRuns.counts($0.variantRuns, variantCount: $0.variants.count) }
    }

    /// Whether experiment `e` enrolls the units in its buckets at `at`: running, and inside its
    /// start/stop window (`docs/bundle-format.md` §3, steps 5 and 6).
    func enrolls(_ e: Int) -> Bool { dormancy(e) == nil }

    /// Why experiment `e` enrolls nobody at `at`, or nil when it does.
    func dormancy(_ e: Int) -> String? {
        let experiment = contents.experiments[e]
        switch experiment.status {
        case .running: break
        default: return experiment.status.name
        }
        if let start = experiment.start, at < start { return "not started" }
        if let stop = experiment.stop, at >= stop { return "stopped" }
        return nil
    }

    /// Layer buckets whose units `e` enrolls (before holdouts and targeting).
    func enrollingBuckets(_ e: Int) -> Int { enrolls(e) ? ownedBuckets[e] : 0 }

    func layerVariable(_ l: Int) -> HashVariable {
        HashVariable(salt: contents.layers[l].salt, unitType: contents.layers[l].unitType, scheme: contents.bucketingScheme)
    }

    func variantVariable(_ e: Int) -> HashVariable {
        HashVariable(
            salt: contents.experiments[e].salt, unitType: contents.layers[contents.experiments[e].layer].unitType,
            scheme: contents.bucketingScheme)
    }

    /// The holdouts covering layer `l`, as thresholds by variable.
    func holdoutThresholds(layer l: Int) -> [HashVariable: Int] {
        var thresholds: [HashVariable: Int] = [:]
        for h in contents.layers[l].holdouts {
            let holdout = contents.holdouts[h]
            let variable = holdoutVariable(holdout)
            thresholds[variable] = max(thresholds[variable] ?? 0, holdout.share)
        }
        return thresholds
    }

    func holdoutVariable(_ holdout: BundleContents.Holdout) -> HashVariable {
        HashVariable(salt: holdout.salt, unitType: holdout.unitType, scheme: contents.bucketingScheme)
    }

    /// Whether experiment `e` restricts who it enrolls beyond its buckets (targeting or segments).
    func isTargeted(_ e: Int) -> Bool {
        !contents.experiments[e].targeting.isEmpty || !contents.experiments[e].segments.isEmpty
    }
}
