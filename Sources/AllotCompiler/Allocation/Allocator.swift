import AllotCore

/// Turns a checked project and the previous lock into the next lock, moving as few units as the
/// change requires. The rules, per layer:
///
/// 1. Experiments that no longer hold buckets (concluded, back to draft, deleted, moved to another
///    layer) release all their buckets; released buckets join the layer's freed list.
/// 2. Experiments whose traffic went down release their most recently claimed buckets (so the
///    longest-enrolled units stay).
/// 3. Experiments that need more buckets (new, or traffic went up) claim, in order: buckets they
///    released themselves (most recent first: the same units come back to the same variants),
///    then never-used buckets (lowest first), then buckets freed by other experiments (oldest
///    release first). Experiments are served in name order, so the result is deterministic.
/// 4. Variant buckets: with an unchanged salt, variants that shrank release their most recently
///    claimed buckets, removed variants release all, and variants that grew take those released
///    buckets, in declaration order: exactly the minimum share of enrolled units changes variant.
///    A new salt (an explicit fresh start) lays variants out from scratch.
/// 5. An experiment that stops holding buckets in a layer (rule 1) leaves its variant layout in
///    the layer's `dormant` table while the project still declares it. When it holds buckets there
///    again under the same salt, rule 4 starts from that layout: the units that come back (rule 3
///    gives back its own released buckets first) come back to the same variants, and a reweight
///    while dormant moves the minimum. Deleting the experiment forgets the layout.
public enum Allocator {
    public static func allocate(_ project: CheckedProject, previous: AllocationLock) -> AllocationLock {
        var next = AllocationLock(bucketingScheme: previous.bucketingScheme)
        let declared = Set(project.layers.flatMap { $0.experiments.map(\.name) })
        for layer in project.layers {
            next.layers[layer.name] = allocate(layer, previous: previous.layers[layer.name] ?? .init(), declared: declared)
        }
        return next
    }

    static func allocate(_ layer: CheckedLayer, previous: AllocationLock.LayerAllocation, declared: Set<String>)
        -> AllocationLock.LayerAllocation
    {
        var state = previous
        let active = layer.experiments.filter(\.holdsBuckets)
        let activeNames = Set(active.map(\.name))

        for name in state.experiments.keys.sorted() where !activeNames.contains(name) {
            let released = state.experiments.removeValue(forKey: name)!
            if !released.buckets.isEmpty {
                state.freed.append(.init(experiment: name, buckets: released.buckets))
            }
            state.dormant[name] = .init(salt: released.salt, variants: released.variants)
        }
        for name in state.dormant.keys where !declared.contains(name) {
            state.dormant[name] = nil
        }
        for experiment in active {
            guard var allocation = state.experiments[experiment.name], allocation.buckets.count > experiment.traffic else { continue }
            let released = allocation.buckets.removeLast(allocation.buckets.count - experiment.traffic)
            state.freed.append(.init(experiment: experiment.name, buckets: released))
            state.experiments[experiment.name] = allocation
        }

        var taken = [Bool](repeating: false, count: Bucketing.bucketCount)
        for allocation in state.experiments.values {
            for range in allocation.buckets.ranges { for bucket in range { taken[bucket] = true } }
        }
        for entry in state.freed {
            for range in entry.buckets.ranges { for bucket in range { taken[bucket] = true } }
        }
        var nextNeverUsed = 0

        for experiment in active {
            // Holding, returning from dormancy (its old variant layout), or new.
            var allocation =
                state.experiments[experiment.name]
                ?? state.dormant[experiment.name].map { .init(salt: $0.salt, buckets: BucketList(), variants: $0.variants) }
                ?? AllocationLock.ExperimentAllocation(salt: experiment.salt, buckets: BucketList(), variants: [])
            state.dormant[experiment.name] = nil
            var need = experiment.traffic - allocation.buckets.count
            // Own releases, most recent first.
            var index = state.freed.count - 1
            while need > 0, index >= 0 {
                if state.freed[index].experiment == experiment.name {
                    let count = min(need, state.freed[index].buckets.count)
                    let reclaimed = state.freed[index].buckets.removeLast(count)
                    allocation.buckets.append(contentsOf: reclaimed)
                    need -= count
                }
                index -= 1
            }
            // Never used, lowest first.
            while need > 0, nextNeverUsed < Bucketing.bucketCount {
                if !taken[nextNeverUsed] {
                    taken[nextNeverUsed] = true
                    allocation.buckets.append(nextNeverUsed)
                    need -= 1
                }
                nextNeverUsed += 1
            }
            // Released by others, oldest first.
            index = 0
            while need > 0, index < state.freed.count {
                let count = min(need, state.freed[index].buckets.count)
                if count > 0 {
                    allocation.buckets.append(contentsOf: state.freed[index].buckets.removeFirst(count))
                    need -= count
                }
                index += 1
            }
            precondition(need == 0, "the checker guarantees the layer's traffic fits in its buckets")
            allocation.variants = allocateVariants(experiment, previous: allocation)
            allocation.salt = experiment.salt
            state.experiments[experiment.name] = allocation
            state.freed.removeAll { $0.buckets.isEmpty }
        }
        state.freed.removeAll { $0.buckets.isEmpty }
        return state
    }

    static func allocateVariants(_ experiment: CheckedExperiment, previous: AllocationLock.ExperimentAllocation)
        -> [AllocationLock.VariantAllocation]
    {
        let targets = experiment.variants.map { ($0.name, $0.weight) }
        guard previous.salt == experiment.salt, !previous.variants.isEmpty else {
            var start = 0
            return targets.map { name, weight in
                defer { start += weight }
                return .init(name: name, buckets: weight > 0 ? BucketList([start...(start + weight - 1)]) : BucketList())
            }
        }
        var pool = BucketList()
        let declared = Set(targets.map(\.0))
        for variant in previous.variants where !declared.contains(variant.name) {
            pool.append(contentsOf: variant.buckets)
        }
        var current: [String: BucketList] = [:]
        for variant in previous.variants where declared.contains(variant.name) {
            current[variant.name] = variant.buckets
        }
        for (name, weight) in targets {
            var buckets = current[name] ?? BucketList()
            if buckets.count > weight {
                pool.append(contentsOf: buckets.removeLast(buckets.count - weight))
            }
            current[name] = buckets
        }
        return targets.map { name, weight in
            var buckets = current[name]!
            if buckets.count < weight {
                buckets.append(contentsOf: pool.removeFirst(weight - buckets.count))
            }
            return .init(name: name, buckets: buckets)
        }
    }
}
