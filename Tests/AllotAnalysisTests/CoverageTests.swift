import AllotAnalysis
import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

/// The intervals mean what they say: a synthetic experiment with a known true effect, analysed end
/// to end (exposure records and events through the readers) in 200 seeded repeats, holds the true
/// effect inside its 95% interval in about 95% of them; a synthetic sample-ratio mismatch is
/// flagged, and healthy splits almost never are.
@Suite struct CoverageTests {
    static let spec = ExperimentSpec(name: "exp", variants: [("control", 5000), ("treatment", 5000)])
    static func metric(_ name: String, _ type: MetricType) -> MetricDeclaration {
        MetricDeclaration(name: Located(name, at: SourceLocation(file: "metrics.yaml", line: 1, column: 1)), type: type)
    }

    static let start: Int64 = 1_764_547_200_000

    /// One synthetic experiment: units split by `treatmentShare`; conversion 10% vs 12%; a
    /// revenue sum per converted unit, exponential with mean 20 vs 22.
    static func run(seed: UInt64, units: Int, treatmentShare: Double = 0.5) throws -> ExperimentResult {
        var rng = SeededRandom(seed: seed)
        var exposures = ""
        var events = "unit_id,metric,value,timestamp\n"
        for n in 0..<units {
            let treated = rng.chance(treatmentShare)
            let ts = start + Int64.random(in: 0..<86_400_000, using: &rng)
            exposures +=
                #"{"v":1,"ts":\#(ts),"unit_type":"user_id","unit":"u\#(n)","experiment":"exp","variant":"\#(treated ? "treatment" : "control")","layer":"l","reason":"split","bundle":1,"region":"r","server":"s","api":"native"}"#
                + "\n"
            if rng.chance(treated ? 0.12 : 0.10) {
                events += "u\(n),purchase,,\(ts + 1000)\n"
                let value = -log(Double.random(in: Double.ulpOfOne..<1, using: &rng)) * (treated ? 22 : 20)
                events += "u\(n),revenue,\(value),\(ts + 2000)\n"
            }
        }
        let analyzer = Analyzer(experiments: [spec], metrics: [metric("purchase", .conversion), metric("revenue", .sum)])
        try Array(exposures.utf8).withUnsafeBytes { try analyzer.addExposureRecords($0, source: "exposures") }
        try Array(events.utf8).withUnsafeBytes { try analyzer.addEvents($0, format: .csv, source: "events") }
        return analyzer.report().experiments[0]
    }

    @Test func intervalsCoverTheTrueEffect() throws {
        let seeds = 200
        // True effects: purchase 0.12 - 0.10; revenue per unit 0.12 * 22 - 0.10 * 20; relative 20% and 32%.
        let truth: [String: (absolute: Double, relative: Double)] = [
            "purchase": (0.02, 0.2), "revenue": (0.12 * 22 - 0.10 * 20, 0.12 * 22 / (0.10 * 20) - 1),
        ]
        var covered: [String: Int] = [:]
        var relativeCovered: [String: Int] = [:]
        var flagged = 0
        for seed in 0..<seeds {
            let result = try Self.run(seed: UInt64(seed) + 1000, units: 2000)
            if result.sampleRatio?.mismatch == true { flagged += 1 }
            for metric in result.metrics {
                let comparison = try #require(metric.comparisons.first?.comparison)
                let (absolute, relative) = truth[metric.metric]!
                if comparison.absolute.lower <= absolute, absolute <= comparison.absolute.upper { covered[metric.metric, default: 0] += 1 }
                let lift = try #require(comparison.relative)
                if lift.lower <= relative, relative <= lift.upper { relativeCovered[metric.metric, default: 0] += 1 }
            }
        }
        // 95% of 200 is 190; three binomial standard deviations (3.1 each) either side.
        for metric in ["purchase", "revenue"] {
            let absolute = Double(covered[metric] ?? 0) / Double(seeds)
            let relative = Double(relativeCovered[metric] ?? 0) / Double(seeds)
            print("coverage of the 95% intervals over \(seeds) seeds, \(metric): absolute \(absolute), relative \(relative)")
            #expect((0.90...0.995).contains(absolute), "\(metric): absolute interval covered the truth in \(absolute * 100)% of repeats")
            #expect((0.90...0.995).contains(relative), "\(metric): relative interval covered the truth in \(relative * 100)% of repeats")
        }
        // A healthy split is flagged at p < 0.001: expected 0.2 times in 200.
        #expect(flagged <= 2, "healthy splits flagged \(flagged) times")
    }

    /// CUPED: each unit has a spending level that shows in the week before its exposure and after
    /// it; adjusting by the pre-exposure spend keeps the intervals honest and narrows them.
    @Test func cupedKeepsCoverageAndNarrowsIntervals() throws {
        let seeds = 200
        var covered = 0
        var plainCovered = 0
        var ratio = 0.0
        let trueEffect = 1.5
        for seed in 0..<seeds {
            var rng = SeededRandom(seed: UInt64(seed) + 50_000)
            var exposures = ""
            var events = "unit_id,metric,value,timestamp\n"
            for n in 0..<1000 {
                let treated = rng.chance(0.5)
                let ts = Self.start + Int64.random(in: 0..<86_400_000, using: &rng)
                exposures +=
                    #"{"v":1,"ts":\#(ts),"unit":"u\#(n)","experiment":"exp","variant":"\#(treated ? "treatment" : "control")","reason":"split","api":"native"}"#
                    + "\n"
                let level = -log(Double.random(in: Double.ulpOfOne..<1, using: &rng)) * 10
                let noise = { (rng: inout SeededRandom) in Double.random(in: -2..<2, using: &rng) }
                events += "u\(n),spend,\(level + noise(&rng)),\(ts - 3_600_000)\n"
                events += "u\(n),spend,\(level + noise(&rng) + (treated ? trueEffect : 0)),\(ts + 3_600_000)\n"
            }
            func analyse(cuped: Int64?) throws -> Comparison {
                var options = AnalysisOptions()
                options.cupedWindowSeconds = cuped
                let analyzer = Analyzer(experiments: [Self.spec], metrics: [Self.metric("spend", .sum)], options: options)
                try Array(exposures.utf8).withUnsafeBytes { try analyzer.addExposureRecords($0, source: "exposures") }
                try Array(events.utf8).withUnsafeBytes { try analyzer.addEvents($0, format: .csv, source: "events") }
                return try #require(analyzer.report().experiments[0].metrics[0].comparisons[0].comparison)
            }
            let adjusted = try analyse(cuped: 7 * 86400)
            let plain = try analyse(cuped: nil)
            if adjusted.absolute.lower <= trueEffect, trueEffect <= adjusted.absolute.upper { covered += 1 }
            if plain.absolute.lower <= trueEffect, trueEffect <= plain.absolute.upper { plainCovered += 1 }
            ratio += adjusted.absolute.standardError / plain.absolute.standardError / Double(seeds)
        }
        let coverage = Double(covered) / Double(seeds)
        print(
            "CUPED over \(seeds) seeds: coverage \(coverage) (without: \(Double(plainCovered) / Double(seeds))), standard error ratio \(ratio)"
        )
        #expect((0.90...0.995).contains(coverage), "CUPED intervals covered the truth in \(coverage * 100)% of repeats")
        // The covariate explains nearly all of the variance (level sd 10, noise sd 1.15).
        #expect(ratio < 0.3, "CUPED standard errors are \(ratio) of the plain ones")
    }

    @Test func aSampleRatioMismatchIsFlagged() throws {
        // 52% instead of 50% over 20,000 units: chi-square ≈ 32, p ≈ 1e-8.
        let result = try Self.run(seed: 7, units: 20_000, treatmentShare: 0.52)
        let check = try #require(result.sampleRatio)
        #expect(check.mismatch)
        #expect(check.pValue < 0.001)
        let healthy = try #require(try Self.run(seed: 7, units: 20_000).sampleRatio)
        #expect(!healthy.mismatch)
    }
}
