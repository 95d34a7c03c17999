import AllotCompiler
import AllotCore
import Foundation

/// `allot diff`: what replacing one bundle (or experiments directory, or revision) with another
/// does to live units, computed exactly from bucket tables and variant runs. See `docs/review.md`.
public enum BundleDiff {
    /// Compares `old` with `new`, evaluating start and stop windows at `at` (unix seconds).
    public static func compare(old: ReviewSnapshot, new: ReviewSnapshot, at: Int64) -> DiffReport {
        var builder = Builder(old: SideIndex(old, at: at), new: SideIndex(new, at: at))
        return builder.build()
    }
}

private struct Builder {
    let old: SideIndex
    let new: SideIndex
    var calculator: ImpactCalculator
    let oldTargeting: SideTargeting
    let newTargeting: SideTargeting
    /// Segments whose members may have shrunk (renamed in old conditions so no implication goes through them).
    var narrowedSegments: Set<String> = []
    /// Holdout, layer and segment changes by name, to name them as the causes of moves.
    var holdoutChanges: [String: DiffReport.HoldoutDiff] = [:]
    var layerChanges: [String: DiffReport.LayerDiff] = [:]
    var segmentChanges: [String: DiffReport.SegmentDiff] = [:]

    init(old: SideIndex, new: SideIndex) {
        self.old = old
        self.new = new
        calculator = ImpactCalculator(old: old, new: new)
        oldTargeting = SideTargeting(old.contents)
        newTargeting = SideTargeting(new.contents)
    }

    mutating func build() -> DiffReport {
        let segments = segmentDiffs()
        let holdouts = holdoutDiffs()
        let layers = layerDiffs()
        segmentChanges = Dictionary(uniqueKeysWithValues: segments.map { ($0.name, $0) })
        holdoutChanges = Dictionary(uniqueKeysWithValues: holdouts.map { ($0.name, $0) })
        layerChanges = Dictionary(uniqueKeysWithValues: layers.map { ($0.name, $0) })
        var experiments: [DiffReport.ExperimentDiff] = []
        var reassignments: [DiffReport.Reassignment] = []
        var summary = DiffReport.Summary()
        for name in Set(old.experimentIndex.keys).union(new.experimentIndex.keys).sorted() {
            let (diff, reassignment) = experimentDiff(name, old: old.experimentIndex[name], new: new.experimentIndex[name])
            if let reassignment {
                reassignments.append(reassignment)
            }
            guard let diff else {
                summary.experimentsUnchanged += 1
                continue
            }
            switch diff.change {
            case "added": summary.experimentsAdded += 1
            case "removed": summary.experimentsRemoved += 1
            case "changed": summary.experimentsChanged += 1
            default: summary.experimentsAffected += 1
            }
            experiments.append(diff)
        }
        let parameters = parameterDiffs()
        summary.parametersChanged = parameters.count
        summary.reassigning = reassignments.count
        summary.unacknowledged = reassignments.filter { !$0.acknowledged }.count
        return DiffReport(
            old: side(old.snapshot), new: side(new.snapshot), evaluatedAt: Self.format(old.at), summary: summary, experiments: experiments,
            parameters: parameters, layers: layers, holdouts: holdouts, segments: segments, reassignments: reassignments,
            notes: notes())
    }

    private func side(_ snapshot: ReviewSnapshot) -> DiffReport.Side {
        switch snapshot.origin {
        case .bundle(let path): return .init(label: path, kind: "bundle", commit: nil, version: snapshot.contents.version)
        case .directory(let path): return .init(label: path, kind: "directory", commit: nil, version: nil)
        case .revision(let name, let commit, _): return .init(label: name, kind: "revision", commit: commit, version: nil)
        }
    }

    static func format(_ seconds: Int64) -> String { RFC3339.format(seconds) }

    private static func share(_ buckets: Int) -> Double { Double(buckets) / Double(Exact.base) }

    /// A share rounded to 12 significant digits: removes the last-bit noise of the holdout
    /// products (0.36000000000000004) without ever turning a positive share into zero.
    static func clean(_ share: Double) -> Double {
        guard share != 0, share.isFinite else { return share }
        return Double(String(format: "%.12g", share)) ?? share
    }

    // MARK: Experiments

    private mutating func experimentDiff(_ name: String, old o: Int?, new n: Int?) -> (DiffReport.ExperimentDiff?, DiffReport.Reassignment?)
    {
        let a = o.map { old.contents.experiments[$0] }
        let b = n.map { new.contents.experiments[$0] }
        let oldLayer = a.map { old.contents.layers[$0.layer] }
        let newLayer = b.map { new.contents.layers[$0.layer] }
        let impact = calculator.experimentImpact(oldExperiment: o, newExperiment: n)

        var variants: [DiffReport.VariantDiff] = []
        for variantName in ordered(a?.variants.map(\.name) ?? [], b?.variants.map(\.name) ?? []) {
            let x = a?.variants.first { $0.name == variantName }
            let y = b?.variants.first { $0.name == variantName }
            let weight = DiffReport.Change(x.map { Self.share($0.weight) }, y.map { Self.share($0.weight) })
            var values: [DiffReport.ValueChange] = []
            for parameter in ordered(x?.parameters.map(\.name) ?? [], y?.parameters.map(\.name) ?? []) {
                let before = x?.parameters.first { $0.name == parameter && $0.isSet }?.json
                let after = y?.parameters.first { $0.name == parameter && $0.isSet }?.json
                if before != after { values.append(.init(name: parameter, value: .init(before, after))) }
            }
            if x == nil || y == nil || weight.changed || !values.isEmpty {
                let change = x == nil ? "added" : y == nil ? "removed" : "changed"
                variants.append(.init(name: variantName, change: change, weight: weight, parameters: values))
            }
        }
        let overrides = overrideDiff(o, n)
        let diff = DiffReport.ExperimentDiff(
            name: name, change: a == nil ? "added" : b == nil ? "removed" : "changed", layer: .init(oldLayer?.name, newLayer?.name),
            unitType: newLayer?.unitType ?? oldLayer?.unitType ?? "", status: .init(a?.status.name, b?.status.name),
            traffic: .init(a.map { Self.share($0.trafficBuckets) }, b.map { Self.share($0.trafficBuckets) }),
            targeting: .init(a?.targeting, b?.targeting), targetingChange: targetingChange(o, n), segments: .init(a?.segments, b?.segments),
            start: .init(a?.start.map(Self.format), b?.start.map(Self.format)),
            stop: .init(a?.stop.map(Self.format), b?.stop.map(Self.format)),
            freshStart: a != nil && b != nil && a!.salt != b!.salt, owner: .init(a?.owner, b?.owner), variants: variants,
            overrides: overrides,
            dormant: .init(o.flatMap(old.dormancy), n.flatMap(new.dormancy)),
            impact: .init(
                enrolled: .init(a == nil ? nil : Self.clean(impact.enrolledOld), b == nil ? nil : Self.clean(impact.enrolledNew)),
                newlyEnrolled: Self.clean(impact.newlyEnrolled), unenrolled: Self.clean(impact.unenrolled), moved: Self.clean(impact.moved),
                stayed: Self.clean(impact.stayed), moves: impact.moves.map { .init(from: $0.from, to: $0.to, share: Self.clean($0.share)) }),
            conditional: (o.map(old.isTargeted) ?? false) || (n.map(new.isTargeted) ?? false), reassigns: false, acknowledged: false,
            causes: [])

        let declarationChanged =
            diff.layer.changed || diff.status.changed || diff.traffic.changed || diff.targeting.changed || diff.segments.changed
            || diff.start.changed || diff.stop.changed || diff.freshStart || diff.owner.changed || !variants.isEmpty || !overrides.isEmpty
        let moves = impact.newlyEnrolled > 0 || impact.unenrolled > 0 || impact.moved > 0
        let causes = self.causes(o, n)
        let reassignment = reassignment(
            name, o, n, impact, layer: oldLayer?.name ?? "", causes: causes, declarationChanged: declarationChanged)
        var result = diff
        result.causes = moves || reassignment != nil ? causes : []
        result.reassigns = reassignment != nil
        result.acknowledged = reassignment?.acknowledged ?? false
        if a != nil, b != nil, !declarationChanged {
            let affected =
                impact.newlyEnrolled > 0 || impact.unenrolled > 0 || impact.moved > 0 || diff.dormant.changed || reassignment != nil
            guard affected else { return (nil, reassignment) }
            result.change = "affected"
        }
        return (result, reassignment)
    }

    private func overrideDiff(_ o: Int?, _ n: Int?) -> DiffReport.OverrideDiff {
        func table(_ side: SideIndex, _ e: Int?) -> [String: String] {
            guard let e else { return [:] }
            let experiment = side.contents.experiments[e]
            var result: [String: String] = [:]
            for override in side.contents.layers[experiment.layer].overrides where override.experiment == e {
                result[override.unit] = experiment.variants[override.variant].name
            }
            return result
        }
        let before = table(old, o)
        let after = table(new, n)
        return DiffReport.OverrideDiff(
            added: after.keys.filter { before[$0] == nil }.sorted(), removed: before.keys.filter { after[$0] == nil }.sorted(),
            changed: after.keys.filter { before[$0] != nil && before[$0] != after[$0] }.sorted())
    }

    /// Changes of the holdouts covering the experiment's layer, of the layer itself and of the
    /// segments its targeting uses: what can move its units when its own declaration did not change.
    private func causes(_ o: Int?, _ n: Int?) -> [DiffReport.Cause] {
        guard let o, let n else { return [] }
        let a = old.contents.experiments[o]
        let b = new.contents.experiments[n]
        let oldLayer = old.contents.layers[a.layer]
        let newLayer = new.contents.layers[b.layer]
        guard oldLayer.name == newLayer.name else { return [] }
        let phrases = ChangePhrases(code: { $0 })
        var causes: [DiffReport.Cause] = []
        func add(_ kind: String, _ name: String, _ change: [String]) {
            guard !change.isEmpty else { return }
            let acknowledged = new.snapshot.acknowledgedChanges[kind]?.contains(name) ?? false
            causes.append(.init(kind: kind, name: name, change: change.joined(separator: "; "), acknowledged: acknowledged))
        }
        if let layer = layerChanges[newLayer.name], layer.reshuffled || layer.unitType.changed {
            add("layer", layer.name, phrases.layer(layer).filter { !$0.hasPrefix("allocated") && !$0.hasPrefix("holdouts") })
        }
        let holdoutNames = Set(oldLayer.holdouts.map { old.contents.holdouts[$0].name })
            .union(newLayer.holdouts.map { new.contents.holdouts[$0].name })
        for name in holdoutNames.sorted() {
            guard let holdout = holdoutChanges[name] else { continue }
            add("holdout", name, phrases.holdout(holdout))
        }
        let segmentNames = Set(
            a.segments + referencedSegments(a.targeting, oldTargeting) + b.segments + referencedSegments(b.targeting, newTargeting))
        for name in segmentNames.sorted() {
            guard let segment = segmentChanges[name] else { continue }
            add("segment", name, phrases.segment(segment))
        }
        return causes
    }

    /// Whether (and why) units enrolled before are moved or un-enrolled, and where the
    /// acknowledgement goes: on the experiment if its declaration changed, otherwise on the
    /// declarations that caused the move (a holdout that grew is acknowledged on the holdout, not
    /// on every experiment it covers).
    private func reassignment(
        _ name: String, _ o: Int?, _ n: Int?, _ impact: ImpactCalculator.ExperimentImpact, layer: String, causes: [DiffReport.Cause],
        declarationChanged: Bool
    ) -> DiffReport.Reassignment? {
        guard let o, impact.enrolledOld > 0 else { return nil }
        var reasons: [String] = []
        if n == nil {
            reasons.append("removed while it enrolls \(Percent.format(impact.enrolledOld)) of layer '\(layer)'; conclude it first")
        } else if impact.unenrollsAny {
            reasons.append("un-enrolls \(Percent.format(impact.unenrolled)) of layer '\(layer)'")
        }
        if impact.movesAny {
            let moves = impact.moves.prefix(3).map { "\($0.from) → \($0.to) \(Percent.format($0.share))" }.joined(separator: ", ")
            reasons.append(
                "moves \(Percent.format(impact.moved)) of layer '\(layer)' to another variant (\(moves)\(impact.moves.count > 3 ? ", ..." : ""))"
            )
        }
        if let n, new.enrolls(n), impact.enrolledNew > 0, let narrowing = conditionNarrowing(o, n) {
            reasons.append(narrowing)
        }
        guard !reasons.isEmpty else { return nil }
        let external = n != nil && !declarationChanged && !causes.isEmpty
        if external { reasons.append("because of " + causes.map(\.description).joined(separator: " and ")) }
        let acknowledged =
            n != nil && (new.snapshot.acknowledged?.contains(name) ?? false) || (external && causes.allSatisfy(\.acknowledged))
        return DiffReport.Reassignment(
            experiment: name, layer: layer, unenrolled: Self.clean(impact.unenrolled), moved: Self.clean(impact.moved), reasons: reasons,
            acknowledged: acknowledged,
            canAcknowledge: n != nil && new.snapshot.acknowledged != nil,
            acknowledgeOn: external ? causes.map(\.owner) : ["experiment '\(name)'"], causes: external ? causes : [])
    }

    /// How the experiment's targeting rule changed (`DiffReport.ExperimentDiff.targetingChange`),
    /// or nil when it did not (or the experiment is on one side only).
    private func targetingChange(_ o: Int?, _ n: Int?) -> String? {
        guard let o, let n else { return nil }
        let a = old.contents.experiments[o].targeting
        let b = new.contents.experiments[n].targeting
        guard a != b else { return nil }
        guard let before = oldTargeting.expression(a), let after = newTargeting.expression(b) else { return "changed" }
        let attributes = before.referencedAttributes + after.referencedAttributes
        guard attributes.allSatisfy({ oldTargeting.attributeTypes[$0] == newTargeting.attributeTypes[$0] }) else { return "changed" }
        let logic = TargetingLogic(attributeTypes: newTargeting.attributeTypes)
        switch (logic.implies(before, after), logic.implies(after, before)) {
        case (true, true): return "equivalent"
        case (true, false): return "widened"
        case (false, true): return "narrowed"
        case (false, false): return "changed"
        }
    }

    /// A sentence when the experiment's targeting or segments changed in a way not proven to
    /// keep every unit that matched before.
    private func conditionNarrowing(_ o: Int, _ n: Int) -> String? {
        let a = old.contents.experiments[o]
        let b = new.contents.experiments[n]
        let segmentsNarrowed = Set(a.segments).union(referencedSegments(a.targeting, oldTargeting)).intersection(narrowedSegments)
        guard a.targeting != b.targeting || a.segments != b.segments || !segmentsNarrowed.isEmpty else { return nil }
        let describe =
            "targeting changed (\(a.targeting.isEmpty ? "everyone" : a.targeting) → \(b.targeting.isEmpty ? "everyone" : b.targeting))"
        let what =
            a.targeting != b.targeting
            ? describe
            : a.segments != b.segments
                ? "segments changed ([\(a.segments.joined(separator: ", "))] → [\(b.segments.joined(separator: ", "))])"
                : "segment \(segmentsNarrowed.sorted().map { "'\($0)'" }.joined(separator: ", ")) lost members"
        let narrowed = narrowedSegments
        guard let before = oldTargeting.condition(ofExperiment: o)?.renamingSegments({ narrowed.contains($0) ? "\u{1}before:" + $0 : nil }),
            let after = newTargeting.condition(ofExperiment: n)
        else { return "\(what); cannot prove it keeps every enrolled unit" }
        let attributes = before.referencedAttributes
        let typesAgree = attributes.allSatisfy { oldTargeting.attributeTypes[$0] == newTargeting.attributeTypes[$0] }
        if typesAgree, TargetingLogic(attributeTypes: newTargeting.attributeTypes).implies(before, after) { return nil }
        return "\(what): units that matched before and no longer match are un-enrolled (the share depends on their attributes)"
    }

    private func referencedSegments(_ targeting: String, _ side: SideTargeting) -> [String] {
        side.expression(targeting)?.referencedSegments ?? []
    }

    // MARK: Parameters

    private mutating func parameterDiffs() -> [DiffReport.ParameterDiff] {
        var result: [DiffReport.ParameterDiff] = []
        for name in Set(old.parameterIndex.keys).union(new.parameterIndex.keys).sorted() {
            let o = old.parameterIndex[name]
            let n = new.parameterIndex[name]
            let a = o.map { old.contents.parameters[$0] }
            let b = n.map { new.contents.parameters[$0] }
            let oldLayer = a.map { old.contents.layers[$0.layer] }
            let newLayer = b.map { new.contents.layers[$0.layer] }
            var answerChanged: Double? = nil
            if let o, let n { answerChanged = calculator.parameterImpact(oldParameter: o, newParameter: n).map(Self.clean) }
            let layer = DiffReport.Change(oldLayer?.name, newLayer?.name)
            let type = DiffReport.Change(a?.type.name, b?.type.name)
            let defaultValue = DiffReport.Change(a?.defaultJSON, b?.defaultJSON)
            let change: String
            if a == nil {
                change = "added"
            } else if b == nil {
                change = "removed"
            } else if layer.changed || type.changed || defaultValue.changed {
                change = "changed"
            } else if let answerChanged, answerChanged > 0 {
                change = "affected"
            } else {
                continue
            }
            let targeted = (a.map { targetedSetter(old, $0) } ?? false) || (b.map { targetedSetter(new, $0) } ?? false)
            result.append(
                .init(
                    name: name, change: change, layer: layer, unitType: newLayer?.unitType ?? oldLayer?.unitType ?? "", type: type,
                    defaultValue: defaultValue, answerChanged: answerChanged, conditional: targeted))
        }
        return result
    }

    /// Whether a targeted experiment that enrolls units hands out a non-default value of the
    /// parameter: only then does the answer depend on who matches targeting.
    private func targetedSetter(_ side: SideIndex, _ parameter: BundleContents.Parameter) -> Bool {
        side.contents.layers[parameter.layer].experiments.contains { e in
            side.enrolls(e) && side.isTargeted(e)
                && side.contents.experiments[e].variants.contains { variant in
                    variant.parameters.contains { $0.name == parameter.name && $0.json != parameter.defaultJSON }
                }
        }
    }

    // MARK: Layers, holdouts, segments

    private func layerDiffs() -> [DiffReport.LayerDiff] {
        var result: [DiffReport.LayerDiff] = []
        func allocated(_ side: SideIndex, _ l: Int) -> Double {
            var buckets = 0
            for owner in side.contents.layers[l].bucketOwners where owner >= 0 {
                let status = side.contents.experiments[owner].status
                if status == .running || status == .paused { buckets += 1 }
            }
            return Self.share(buckets)
        }
        for name in Set(old.layerIndex.keys).union(new.layerIndex.keys).sorted() {
            let o = old.layerIndex[name]
            let n = new.layerIndex[name]
            let a = o.map { old.contents.layers[$0] }
            let b = n.map { new.contents.layers[$0] }
            let diff = DiffReport.LayerDiff(
                name: name, change: a == nil ? "added" : b == nil ? "removed" : "changed", unitType: .init(a?.unitType, b?.unitType),
                reshuffled: a != nil && b != nil && old.layerVariable(o!) != new.layerVariable(n!),
                allocated: .init(o.map { allocated(old, $0) }, n.map { allocated(new, $0) }),
                holdouts: .init(
                    a.map { $0.holdouts.map { old.contents.holdouts[$0].name } },
                    b.map { $0.holdouts.map { new.contents.holdouts[$0].name } }))
            if a == nil || b == nil || diff.unitType.changed || diff.reshuffled || diff.allocated.changed || diff.holdouts.changed {
                result.append(diff)
            }
        }
        return result
    }

    private func holdoutDiffs() -> [DiffReport.HoldoutDiff] {
        var result: [DiffReport.HoldoutDiff] = []
        func covered(_ side: SideIndex, _ h: Int) -> [String] {
            side.contents.layers.filter { $0.holdouts.contains(h) }.map(\.name)
        }
        for name in Set(old.holdoutIndex.keys).union(new.holdoutIndex.keys).sorted() {
            let o = old.holdoutIndex[name]
            let n = new.holdoutIndex[name]
            let a = o.map { old.contents.holdouts[$0] }
            let b = n.map { new.contents.holdouts[$0] }
            var newly: Double? = nil
            var released: Double? = nil
            let sameUnit = a == nil || b == nil || a!.unitType == b!.unitType
            if sameUnit {
                let tOld = a?.share ?? 0
                let tNew = b?.share ?? 0
                if let a, let b, a.salt == b.salt {
                    newly = Self.share(max(0, tNew - tOld))
                    released = Self.share(max(0, tOld - tNew))
                } else {
                    newly = (Exact(tNew, scale: 1) * Exact(Exact.base - tOld, scale: 1)).value
                    released = (Exact(tOld, scale: 1) * Exact(Exact.base - tNew, scale: 1)).value
                }
            }
            let diff = DiffReport.HoldoutDiff(
                name: name, change: a == nil ? "added" : b == nil ? "removed" : "changed", unitType: .init(a?.unitType, b?.unitType),
                share: .init(a.map { Self.share($0.share) }, b.map { Self.share($0.share) }),
                saltChanged: a != nil && b != nil && a!.salt != b!.salt,
                layers: .init(o.map { covered(old, $0) }, n.map { covered(new, $0) }), newlyHeldOut: newly.map(Self.clean),
                released: released.map(Self.clean))
            if a == nil || b == nil || diff.unitType.changed || diff.share.changed || diff.saltChanged || diff.layers.changed {
                result.append(diff)
            }
        }
        return result
    }

    /// Segment changes; also records which segments may have lost members.
    private mutating func segmentDiffs() -> [DiffReport.SegmentDiff] {
        var result: [DiffReport.SegmentDiff] = []
        // Old order is dependency order: nested segments are settled before the rules using them.
        let names = old.contents.segments.map(\.name) + new.contents.segments.map(\.name).filter { old.segmentIndex[$0] == nil }
        for name in names {
            let a = old.segmentIndex[name].map { old.contents.segments[$0] }
            let b = new.segmentIndex[name].map { new.contents.segments[$0] }
            let idsBefore = Set(old.snapshot.segmentIDs[name] ?? [])
            let idsAfter = Set(new.snapshot.segmentIDs[name] ?? [])
            let removed = idsBefore.subtracting(idsAfter).count
            let added = idsAfter.subtracting(idsBefore).count
            if let a, let b {
                var narrowed = removed > 0 || a.unitType != b.unitType
                if a.rule != b.rule, !a.rule.isEmpty {
                    let known = narrowedSegments
                    if let before = oldTargeting.expression(a.rule)?.renamingSegments({ known.contains($0) ? "\u{1}before:" + $0 : nil }),
                        let after = b.rule.isEmpty ? TargetingExpression.constant(false) : newTargeting.expression(b.rule),
                        TargetingLogic(attributeTypes: newTargeting.attributeTypes).implies(before, after)
                    {
                    } else {
                        narrowed = true
                    }
                } else if a.rule == b.rule, !a.rule.isEmpty {
                    let nested = Set(oldTargeting.expression(a.rule)?.referencedSegments ?? [])
                    if !nested.isDisjoint(with: narrowedSegments) { narrowed = true }
                }
                if narrowed { narrowedSegments.insert(name) }
            }
            guard a == nil || b == nil || a!.rule != b!.rule || a!.unitType != b!.unitType || added > 0 || removed > 0 else { continue }
            result.append(
                .init(
                    name: name, change: a == nil ? "added" : b == nil ? "removed" : "changed", unitType: .init(a?.unitType, b?.unitType),
                    rule: .init(a.map(\.rule), b.map(\.rule)), idsAdded: added, idsRemoved: removed, usedBy: users(of: name)))
        }
        return result.sorted { $0.name < $1.name }
    }

    /// Experiments using a segment, after the change if it still exists, else before.
    private func users(of segment: String) -> [String] {
        let (side, targeting) = new.segmentIndex[segment] != nil ? (new, newTargeting) : (old, oldTargeting)
        return side.contents.experiments.indices.filter { e in
            let experiment = side.contents.experiments[e]
            return experiment.segments.contains(segment) || referencedSegments(experiment.targeting, targeting).contains(segment)
        }.map { side.contents.experiments[$0].name }.sorted()
    }

    // MARK: Notes

    /// Caveats: variables shared between roles break the independence the shares assume.
    private func notes() -> [String] {
        var roles: [HashVariable: Set<String>] = [:]
        for side in [old, new] {
            for l in side.contents.layers.indices {
                roles[side.layerVariable(l), default: []].insert("layer '\(side.contents.layers[l].name)'")
            }
            for e in side.contents.experiments.indices {
                roles[side.variantVariable(e), default: []].insert("experiment '\(side.contents.experiments[e].name)'")
            }
            for holdout in side.contents.holdouts {
                roles[side.holdoutVariable(holdout), default: []].insert("holdout '\(holdout.name)'")
            }
        }
        var notes: [String] = []
        let schemes = (old.contents.bucketingScheme, new.contents.bucketingScheme)
        if schemes.0 != schemes.1 {
            notes.append(
                "bucketing scheme \(schemes.0) → \(schemes.1): every layer, experiment and holdout hashes units anew, so every unit "
                    + "may be reassigned; the shares treat the buckets before and after as independent")
        }
        let sortedRoles = roles.sorted {
            ($0.key.salt, $0.key.unitType, $0.key.scheme.rawValue) < ($1.key.salt, $1.key.unitType, $1.key.scheme.rawValue)
        }
        for (variable, users) in sortedRoles {
            let kinds = Set(users.map { $0.prefix { $0 != " " } })
            guard kinds.count > 1 else { continue }
            notes.append(
                "salt '\(variable.salt)' (\(variable.unitType)) is used by \(users.sorted().joined(separator: " and ")): "
                    + "those hashes are the same, not independent, so their assignments are correlated and the shares involving them are not exact"
            )
        }
        return notes
    }

    /// `first`'s names in order, then `second`'s names not in `first`.
    private func ordered(_ first: [String], _ second: [String]) -> [String] {
        let known = Set(first)
        return first + second.filter { !known.contains($0) }
    }
}
