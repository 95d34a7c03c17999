import AllotCore

extension AllocationLock {
    /// What changes from `previous` to this lock, one line per experiment or layer, for
    /// `allot compile --locked` to say why it refuses: `checkout/green-checkout-button: layer
    /// buckets 4000-5999 → 4000-5999,9000-9499 (2000 → 2500 buckets)`.
    public func changes(from previous: AllocationLock) -> [String] {
        var lines: [String] = []
        if bucketingScheme != previous.bucketingScheme {
            lines.append(
                "bucketing scheme \(previous.bucketingScheme) → \(bucketingScheme): every unit of every layer, experiment and holdout may be reassigned"
            )
        }
        for layerName in Set(layers.keys).union(previous.layers.keys).sorted() {
            let before = previous.layers[layerName] ?? LayerAllocation()
            let after = layers[layerName] ?? LayerAllocation()
            for name in Set(before.experiments.keys).union(after.experiments.keys).sorted() {
                let prefix = "\(layerName)/\(name): "
                switch (before.experiments[name], after.experiments[name]) {
                case (nil, let added?):
                    lines.append(prefix + "added with layer buckets \(added.buckets) (\(Self.count(added.buckets.count)))")
                case (let removed?, nil):
                    lines.append(prefix + "removed; its layer buckets \(removed.buckets) (\(Self.count(removed.buckets.count))) are freed")
                case (let old?, let new?):
                    lines += Self.changes(old, new).map { prefix + $0 }
                case (nil, nil):
                    break
                }
            }
            for name in Set(before.dormant.keys).union(after.dormant.keys).sorted() where before.dormant[name] != after.dormant[name] {
                let prefix = "\(layerName)/\(name): "
                if after.dormant[name] == nil {
                    lines.append(prefix + "dormant variant layout dropped (the experiment holds buckets again, or is deleted)")
                } else {
                    lines.append(prefix + "variant layout kept while dormant, for its return")
                }
            }
            if before.freed != after.freed {
                let total = { (freed: [FreedBuckets]) in freed.reduce(0) { $0 + $1.buckets.count } }
                lines.append(
                    "\(layerName): freed buckets \(Self.count(total(before.freed))) → \(Self.count(total(after.freed)))")
            }
        }
        return lines
    }

    private static func changes(_ old: ExperimentAllocation, _ new: ExperimentAllocation) -> [String] {
        var lines: [String] = []
        if old.salt != new.salt { lines.append("salt '\(old.salt)' → '\(new.salt)' (a fresh start: variant buckets drawn again)") }
        if old.buckets != new.buckets {
            lines.append(
                "layer buckets \(old.buckets) → \(new.buckets) (\(count(old.buckets.count)) → \(count(new.buckets.count)))")
        }
        let names = old.variants.map(\.name) + new.variants.map(\.name).filter { name in !old.variants.contains { $0.name == name } }
        for name in names {
            let a = old.variants.first { $0.name == name }?.buckets
            let b = new.variants.first { $0.name == name }?.buckets
            guard a != b else { continue }
            lines.append(
                "variant '\(name)' buckets \(a.map(\.description) ?? "none") → \(b.map(\.description) ?? "none")"
                    + " (\(count(a?.count ?? 0)) → \(count(b?.count ?? 0)))")
        }
        return lines
    }

    private static func count(_ buckets: Int) -> String { Plural.count(buckets, "bucket") }
}
