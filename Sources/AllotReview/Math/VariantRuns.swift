import AllotCore

/// Variant runs (`docs/bundle-format.md`, VARIANT_RUNS) as bucket counts.
enum VariantRuns {
    /// How many of the 10,000 variant buckets each variant owns.
    static func counts(_ runs: [BundleContents.VariantRun], variantCount: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: variantCount)
        for (index, run) in runs.enumerated() {
            let end = index + 1 < runs.count ? runs[index + 1].start : Exact.base
            if run.variant < variantCount { counts[run.variant] += end - run.start }
        }
        return counts
    }

    /// For one variable read through two run lists (an experiment that kept its salt): how many
    /// buckets map to variant `i` under `a` and variant `j` under `b`, as `[i][j]`. A sweep over
    /// the run boundaries, O(runs).
    static func joint(_ a: [BundleContents.VariantRun], _ aCount: Int, _ b: [BundleContents.VariantRun], _ bCount: Int) -> [[Int]] {
        var counts = [[Int]](repeating: [Int](repeating: 0, count: bCount), count: aCount)
        var i = 0
        var j = 0
        var position = 0
        while position < Exact.base, i < a.count, j < b.count {
            let aEnd = i + 1 < a.count ? a[i + 1].start : Exact.base
            let bEnd = j + 1 < b.count ? b[j + 1].start : Exact.base
            let end = min(aEnd, bEnd)
            if a[i].variant < aCount, b[j].variant < bCount { counts[a[i].variant][b[j].variant] += end - position }
            position = end
            if aEnd == end { i += 1 }
            if bEnd == end { j += 1 }
        }
        return counts
    }
}
