#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One variant's estimate of a metric: the mean of per-unit values, or a ratio of two means.
public struct VariantSummary: Sendable, Equatable, Codable {
    /// Units analysed in the variant.
    public var units: Int
    /// The mean (or rate, or ratio); nil without units (or, for a ratio, a zero denominator).
    public var mean: Double?
    /// The sample variance of the per-unit values (n - 1 in the denominator); for a ratio, of the
    /// delta method's linearised values. Nil with fewer than two units.
    public var variance: Double?
    /// For ratios: the means of numerator and denominator.
    public var numeratorMean: Double?
    public var denominatorMean: Double?

    /// The estimate's variance, `variance / units`.
    public var varianceOfMean: Double? { variance.map { $0 / Double(units) } }
}

/// Per-variant summaries.
public enum Summaries {
    /// The mean and sample variance of `values`, two-pass (exact to rounding).
    public static func mean(_ values: [Double]) -> VariantSummary {
        let n = values.count
        guard n > 0 else { return VariantSummary(units: 0) }
        let mean = values.reduce(0, +) / Double(n)
        guard n > 1 else { return VariantSummary(units: 1, mean: mean) }
        var squares = 0.0
        var compensation = 0.0
        for value in values {
            let deviation = value - mean
            squares += deviation * deviation
            compensation += deviation
        }
        // The corrected two-pass algorithm: removes the rounding left in `mean`.
        let variance = (squares - compensation * compensation / Double(n)) / Double(n - 1)
        return VariantSummary(units: n, mean: mean, variance: max(0, variance))
    }

    /// mean(x) / mean(y) with the delta method's variance of the per-unit linearisation
    /// (x - r y) / mean(y).
    public static func ratio(_ x: [Double], _ y: [Double]) -> VariantSummary {
        precondition(x.count == y.count, "one numerator and one denominator per unit")
        let n = x.count
        guard n > 0 else { return VariantSummary(units: 0) }
        let meanX = x.reduce(0, +) / Double(n)
        let meanY = y.reduce(0, +) / Double(n)
        guard meanY != 0 else { return VariantSummary(units: n, numeratorMean: meanX, denominatorMean: meanY) }
        let r = meanX / meanY
        guard n > 1 else { return VariantSummary(units: n, mean: r, numeratorMean: meanX, denominatorMean: meanY) }
        var sxx = 0.0
        var syy = 0.0
        var sxy = 0.0
        for i in 0..<n {
            let dx = x[i] - meanX
            let dy = y[i] - meanY
            sxx += dx * dx
            syy += dy * dy
            sxy += dx * dy
        }
        let scale = 1 / Double(n - 1)
        let variance = (sxx * scale - 2 * r * sxy * scale + r * r * syy * scale) / (meanY * meanY)
        return VariantSummary(units: n, mean: r, variance: max(0, variance), numeratorMean: meanX, denominatorMean: meanY)
    }
}

/// An estimate with its interval.
public struct Interval: Sendable, Equatable, Codable {
    public var estimate: Double
    public var standardError: Double
    public var lower: Double
    public var upper: Double
}

/// A treatment compared with the control on one metric.
public struct Comparison: Sendable, Equatable, Codable {
    public enum Test: String, Sendable, Codable {
        /// Welch's unequal-variances t test (means and rates).
        case welch
        /// A z test on the delta method's standard error (ratios and per-event means).
        case z
    }

    public var test: Test
    /// treatment - control.
    public var absolute: Interval
    /// treatment / control - 1 (delta method, normal interval); nil when the control's mean is 0.
    public var relative: Interval?
    /// Welch's degrees of freedom (nil for a z test).
    public var degreesOfFreedom: Double?
    /// absolute / standard error.
    public var statistic: Double
    /// Two-sided.
    public var pValue: Double

    /// Compares `treatment` with `control`; nil when either lacks a mean or a variance, or the
    /// difference has no variance at all (every unit the same).
    public static func compare(treatment: VariantSummary, control: VariantSummary, test: Test, confidence: Double) -> Comparison? {
        guard let meanT = treatment.mean, let meanC = control.mean, let vT = treatment.varianceOfMean, let vC = control.varianceOfMean
        else { return nil }
        let se = (vT + vC).squareRoot()
        guard se > 0 else { return nil }
        let difference = meanT - meanC
        let statistic = difference / se
        let tail = (1 - confidence) / 2
        var degreesOfFreedom: Double?
        let pValue: Double
        let quantile: Double
        switch test {
        case .welch:
            let nT = Double(treatment.units)
            let nC = Double(control.units)
            let df = (vT + vC) * (vT + vC) / (vT * vT / (nT - 1) + vC * vC / (nC - 1))
            degreesOfFreedom = df
            pValue = 2 * Distributions.tSurvival(abs(statistic), df: df)
            quantile = Distributions.tUpperQuantile(tail, df: df)
        case .z:
            pValue = 2 * Distributions.normalSurvival(abs(statistic))
            quantile = Distributions.normalUpperQuantile(tail)
        }
        let absolute = Interval(
            estimate: difference, standardError: se, lower: difference - quantile * se, upper: difference + quantile * se)
        var relative: Interval?
        if meanC != 0 {
            let lift = meanT / meanC - 1
            let varianceLift = vT / (meanC * meanC) + meanT * meanT * vC / (meanC * meanC * meanC * meanC)
            let seLift = varianceLift.squareRoot()
            let z = Distributions.normalUpperQuantile(tail)
            relative = Interval(estimate: lift, standardError: seLift, lower: lift - z * seLift, upper: lift + z * seLift)
        }
        return Comparison(
            test: test, absolute: absolute, relative: relative, degreesOfFreedom: degreesOfFreedom, statistic: statistic,
            pValue: min(1, pValue))
    }
}

/// Sample-ratio mismatch: Pearson's chi-square of the units per variant against the declared
/// weights.
public struct SampleRatioCheck: Sendable, Equatable, Codable {
    public struct Cell: Sendable, Equatable, Codable {
        public var variant: String
        /// Declared share, in basis points.
        public var weight: Int
        public var observed: Int
        public var expected: Double
    }

    public var cells: [Cell]
    public var statistic: Double
    public var degreesOfFreedom: Int
    public var pValue: Double
    /// p below `threshold`, or units in a variant of weight 0.
    public var mismatch: Bool
    public var threshold: Double

    /// Nil without units or with fewer than two variants of positive weight.
    public static func check(variants: [(name: String, weight: Int, units: Int)], threshold: Double = 0.001) -> SampleRatioCheck? {
        let total = variants.reduce(0) { $0 + $1.units }
        let weights = variants.reduce(0) { $0 + $1.weight }
        let weighted = variants.filter { $0.weight > 0 }
        guard total > 0, weights > 0, weighted.count >= 2 else { return nil }
        var statistic = 0.0
        var cells: [Cell] = []
        var unexpected = false
        for variant in variants {
            let expected = Double(total) * Double(variant.weight) / Double(weights)
            cells.append(Cell(variant: variant.name, weight: variant.weight, observed: variant.units, expected: expected))
            if variant.weight == 0 {
                if variant.units > 0 { unexpected = true }
                continue
            }
            let difference = Double(variant.units) - expected
            statistic += difference * difference / expected
        }
        let df = weighted.count - 1
        let p = Distributions.chiSquareSurvival(statistic, df: Double(df))
        return SampleRatioCheck(
            cells: cells, statistic: statistic, degreesOfFreedom: df, pValue: p, mismatch: unexpected || p < threshold, threshold: threshold
        )
    }
}
