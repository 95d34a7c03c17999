import AllotCompiler
internal import AllotCore

/// The results of an analysis: per experiment, the split's health and each metric's effects.
/// Encoded as the JSON of `allot analyze --format json` (snake_case keys; absent values are
/// statistics that do not exist, such as a variance of one unit).
public struct AnalysisReport: Sendable, Codable {
    public var experiments: [ExperimentResult]
    public var inputs: Inputs
    public var confidence: Double
    public var from: Int64?
    public var to: Int64?

    public struct Inputs: Sendable, Codable {
        public var exposureFiles: Int
        public var exposureRecords: Int
        /// `variant: null` records (rule 4).
        public var defaultsIgnored: Int
        /// Records of experiments not analysed.
        public var otherExperiments: Int
        /// Records outside --from/--to.
        public var outsideWindow: Int
        public var eventFiles: Int
        public var events: Int
        /// Events attributed to at least one analysed unit.
        public var eventsAttributed: Int
        public var eventsUnknownMetric: Int
        public var eventsUnexposedUnit: Int
        /// Events of exposed units before their exposure, after their window or after --to.
        public var eventsOutsideWindow: Int
        /// Events before a unit's exposure used as CUPED's covariate (and nowhere else).
        public var eventsPreExposure: Int
    }
}

public struct ExperimentResult: Sendable, Codable {
    public var experiment: String
    public var control: String
    /// Exposure records of this experiment read.
    public var records: Int
    /// Units with any record.
    public var units: Int
    /// Units in the results.
    public var analysedUnits: Int
    /// Units recorded in more than one variant: excluded (rule 3).
    public var multipleVariants: Int
    /// Units seen only in bulk evaluations: excluded (rule 2).
    public var bulkOnly: Int
    /// Units forced by an override: not randomised, excluded (rule 5).
    public var overridden: Int
    /// Units recorded in a variant the experiment does not declare: excluded.
    public var unknownVariant: Int
    public var variants: [VariantUnits]
    public var sampleRatio: SampleRatioCheck?
    /// First exposures per UTC day and variant.
    public var daily: [DailyExposures]
    public var metrics: [MetricResult]

    public struct VariantUnits: Sendable, Codable {
        public var variant: String
        public var weight: Int
        public var units: Int
    }

    public struct DailyExposures: Sendable, Codable {
        public var date: String
        /// Units first exposed that day, per variant in declaration order.
        public var units: [Int]
    }
}

public struct MetricResult: Sendable, Codable {
    public var metric: String
    public var type: String
    public var role: String
    public var direction: String
    public var windowSeconds: Int64?
    /// CUPED (conversion and sum metrics, when asked for): the per-unit values are
    /// value - theta * (covariate - mean covariate), the covariate being the same metric's value
    /// before the first exposure.
    public var cuped: CUPED?
    public var variants: [VariantMetric]
    /// Every variant but the control, compared with it.
    public var comparisons: [VariantComparison]

    public struct CUPED: Sendable, Codable {
        public var windowSeconds: Int64
        /// cov(value, covariate) / var(covariate), pooled over every analysed unit (0 when the
        /// covariate does not vary).
        public var theta: Double
        public var covariateMean: Double
    }

    public struct VariantMetric: Sendable, Codable {
        public var variant: String
        public var summary: VariantSummary
    }

    public struct VariantComparison: Sendable, Codable {
        public var variant: String
        /// Nil when either side has no mean or variance (no units, one unit, nothing varies).
        public var comparison: Comparison?
        /// Significant at the report's confidence and in the metric's good direction (true), bad
        /// direction (false); nil when not significant.
        public var better: Bool?
    }
}

extension Analyzer {
    /// The results of what was read.
    public func report() -> AnalysisReport {
        let results = experiments.map(result)
        let c = counters
        return AnalysisReport(
            experiments: results,
            inputs: .init(
                exposureFiles: c.exposureFiles, exposureRecords: c.exposureRecords, defaultsIgnored: c.defaultsIgnored,
                otherExperiments: c.otherExperiments, outsideWindow: c.outsideWindow, eventFiles: c.eventFiles, events: c.eventRecords,
                eventsAttributed: c.eventsAttributed, eventsUnknownMetric: c.eventsUnknownMetric,
                eventsUnexposedUnit: c.eventsUnexposedUnit,
                eventsOutsideWindow: c.eventsOutsideWindow, eventsPreExposure: c.eventsPreExposure),
            confidence: options.confidence, from: options.from, to: options.to)
    }

    private func result(_ state: ExperimentState) -> ExperimentResult {
        let variants = state.spec.variants
        var multiple = 0
        var bulkOnly = 0
        var overridden = 0
        var unknown = 0
        var perVariant = [[Int]](repeating: [], count: variants.count)
        for unit in 0..<state.units.count {
            let flags = state.unitStates[unit].flags
            if flags & ExperimentState.counted == 0 {
                bulkOnly += 1
            } else if flags & ExperimentState.unknownVariant != 0 {
                unknown += 1
            } else if flags & ExperimentState.multiple != 0 {
                multiple += 1
            } else if flags & ExperimentState.overridden != 0 {
                overridden += 1
            } else if state.unitStates[unit].variant >= 0 {
                perVariant[Int(state.unitStates[unit].variant)].append(unit)
            }
        }
        let counts = perVariant.map(\.count)
        let srm = SampleRatioCheck.check(
            variants: variants.enumerated().map { ($0.element.name, $0.element.weight, counts[$0.offset]) },
            threshold: options.sampleRatioThreshold)

        var days: [Int64: [Int]] = [:]
        for (variant, units) in perVariant.enumerated() {
            for unit in units {
                let day = Self.floorDivide(state.unitStates[unit].first, 86_400_000)
                days[day, default: [Int](repeating: 0, count: variants.count)][variant] += 1
            }
        }
        let daily = days.keys.sorted().map { day in
            ExperimentResult.DailyExposures(date: String(RFC3339.format(day * 86400).prefix(10)), units: days[day]!)
        }

        let control = variants.firstIndex { $0.name == state.spec.control } ?? 0
        let channels = channelMetricCount
        var metricResults: [MetricResult] = []
        for metric in metrics {
            var summaries: [VariantSummary] = []
            var cuped: MetricResult.CUPED?
            if let window = options.cupedWindowSeconds, metric.type == .conversion || metric.type == .sum {
                let adjusted = cupedValues(metric, perVariant: perVariant, state: state, channels: channels)
                cuped = MetricResult.CUPED(windowSeconds: window, theta: adjusted.theta, covariateMean: adjusted.covariateMean)
                summaries = adjusted.values.map(Summaries.mean)
            } else {
                for units in perVariant {
                    summaries.append(summary(metric, units: units, state: state, channels: channels))
                }
            }
            let test: Comparison.Test = metric.type == .ratio || metric.type == .mean ? .z : .welch
            var comparisons: [MetricResult.VariantComparison] = []
            for index in variants.indices where index != control {
                let comparison = Comparison.compare(
                    treatment: summaries[index], control: summaries[control], test: test, confidence: options.confidence)
                var better: Bool?
                if let comparison, comparison.pValue < 1 - options.confidence, comparison.absolute.estimate != 0 {
                    better = (comparison.absolute.estimate > 0) == (metric.direction == .increase)
                }
                comparisons.append(.init(variant: variants[index].name, comparison: comparison, better: better))
            }
            metricResults.append(
                MetricResult(
                    metric: metric.name.value, type: metric.type.rawValue, role: metric.role.rawValue, direction: metric.direction.rawValue,
                    windowSeconds: metric.windowSeconds, cuped: cuped,
                    variants: variants.indices.map { .init(variant: variants[$0].name, summary: summaries[$0]) }, comparisons: comparisons))
        }
        return ExperimentResult(
            experiment: state.spec.name, control: variants.isEmpty ? "" : variants[control].name, records: state.records,
            units: state.units.count, analysedUnits: counts.reduce(0, +), multipleVariants: multiple, bulkOnly: bulkOnly,
            overridden: overridden, unknownVariant: unknown,
            variants: variants.enumerated().map { .init(variant: $0.element.name, weight: $0.element.weight, units: counts[$0.offset]) },
            sampleRatio: srm, daily: daily, metrics: metricResults)
    }

    var channelMetricCount: Int { metrics.filter { $0.type != .ratio }.count }

    /// The channel (events read) of a non-ratio metric.
    func channel(of metric: String) -> Int? {
        metrics.filter { $0.type != .ratio }.firstIndex { $0.name.value == metric }
    }

    /// A unit's value of a conversion or sum metric.
    private func unitValue(_ type: MetricType, _ state: ExperimentState, _ unit: Int, _ channel: Int, _ channels: Int) -> Double {
        let slot = unit * channels + channel
        let count = state.count(slot)
        let sum = state.sum(slot)
        return type == .conversion ? (count > 0 ? 1 : 0) : sum
    }

    private func summary(_ metric: MetricDeclaration, units: [Int], state: ExperimentState, channels: Int) -> VariantSummary {
        switch metric.type {
        case .conversion, .sum:
            let channel = channel(of: metric.name.value)!
            return Summaries.mean(units.map { unitValue(metric.type, state, $0, channel, channels) })
        case .mean:
            let channel = channel(of: metric.name.value)!
            let sums = units.map { state.sum($0 * channels + channel) }
            let counts = units.map { state.count($0 * channels + channel) }
            return Summaries.ratio(sums, counts)
        case .ratio:
            guard let numerator = metric.numerator.flatMap({ name in metrics.first { $0.name.value == name.value } }),
                let denominator = metric.denominator.flatMap({ name in metrics.first { $0.name.value == name.value } }),
                let nChannel = channel(of: numerator.name.value), let dChannel = channel(of: denominator.name.value)
            else { return VariantSummary(units: units.count) }
            return Summaries.ratio(
                units.map { unitValue(numerator.type, state, $0, nChannel, channels) },
                units.map { unitValue(denominator.type, state, $0, dChannel, channels) })
        }
    }

    /// CUPED-adjusted per-unit values, per variant.
    private func cupedValues(_ metric: MetricDeclaration, perVariant: [[Int]], state: ExperimentState, channels: Int)
        -> (values: [[Double]], theta: Double, covariateMean: Double)
    {
        let channel = channel(of: metric.name.value)!
        func pre(_ unit: Int) -> Double {
            let slot = unit * channels + channel
            return metric.type == .conversion ? (state.preCount(slot) > 0 ? 1 : 0) : state.preSum(slot)
        }
        let ys = perVariant.map { $0.map { unitValue(metric.type, state, $0, channel, channels) } }
        let xs = perVariant.map { $0.map(pre) }
        let allX = xs.flatMap { $0 }
        let allY = ys.flatMap { $0 }
        guard !allX.isEmpty else { return (ys, 0, 0) }
        let meanX = allX.reduce(0, +) / Double(allX.count)
        let meanY = allY.reduce(0, +) / Double(allY.count)
        var sxy = 0.0
        var sxx = 0.0
        for i in allX.indices {
            sxy += (allX[i] - meanX) * (allY[i] - meanY)
            sxx += (allX[i] - meanX) * (allX[i] - meanX)
        }
        let theta = sxx > 0 ? sxy / sxx : 0
        let values = zip(ys, xs).map { y, x in zip(y, x).map { $0 - theta * ($1 - meanX) } }
        return (values, theta, meanX)
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
