import AllotAnalysis
import AllotCompiler
import AllotTestSupport
import Foundation
import Testing

/// Every statistic against SciPy and statsmodels (Tests/AllotAnalysisTests/Python/check_analysis.py),
/// to 1e-9 relative: the distribution functions on a grid that includes far tails and huge degrees
/// of freedom; Welch and delta-method comparisons on generated data and on the edge cases (a variant
/// with no units, one unit, zero variance); the sample-ratio check; and a whole `allot analyze`
/// report recomputed by an independent reader of the same files.
@Suite struct ReferenceTests {
    static let checker = Repository.root.appendingPathComponent("Tests/AllotAnalysisTests/Python/check_analysis.py").path

    static func json(_ value: some Encodable) throws -> Any {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try JSONSerialization.jsonObject(with: encoder.encode(value), options: [.fragmentsAllowed])
    }

    static func normal(_ rng: inout SeededRandom, mean: Double, sd: Double, count: Int) -> [Double] {
        (0..<count).map { _ in
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &rng)
            let u2 = Double.random(in: 0..<1, using: &rng)
            return mean + sd * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
        }
    }

    @Test func statisticsMatchSciPy() async throws {
        var distributions: [[String: Any]] = []
        for df in [1.0, 2.5, 7, 30, 123.4, 5_000, 1e6] {
            for x in [0.0, 0.1, 1, 1.96, 3.5, 12, 40] {
                distributions.append(["kind": "t_sf", "x": x, "df": df, "swift": Distributions.tSurvival(x, df: df)])
                distributions.append(["kind": "t_sf", "x": -x, "df": df, "swift": Distributions.tSurvival(-x, df: df)])
            }
            for tail in [0.4, 0.05, 0.025, 0.005, 1e-6] {
                distributions.append(["kind": "t_isf", "x": tail, "df": df, "swift": Distributions.tUpperQuantile(tail, df: df)])
            }
        }
        for x in [0.0, 0.5, 1.96, 5, 20, 37] {
            distributions.append(["kind": "norm_sf", "x": x, "df": 0, "swift": Distributions.normalSurvival(x)])
        }
        for tail in [0.3, 0.025, 0.0005, 1e-12] {
            distributions.append(["kind": "norm_isf", "x": tail, "df": 0, "swift": Distributions.normalUpperQuantile(tail)])
        }
        for df in [1.0, 2, 3, 9] {
            for x in [0.001, 0.5, 1, 3, 10.8, 30, 200] {
                distributions.append(["kind": "chi2_sf", "x": x, "df": df, "swift": Distributions.chiSquareSurvival(x, df: df)])
            }
        }

        var rng = SeededRandom(seed: 15)
        var comparisons: [[String: Any]] = []
        func welch(_ name: String, _ treatment: [Double], _ control: [Double], confidence: Double = 0.95) throws {
            let t = Summaries.mean(treatment)
            let c = Summaries.mean(control)
            var entry: [String: Any] = [
                "name": name, "kind": "welch", "treatment": treatment, "control": control, "confidence": confidence,
                "swift_treatment": try Self.json(t), "swift_control": try Self.json(c),
            ]
            if let result = Comparison.compare(treatment: t, control: c, test: .welch, confidence: confidence) {
                entry["swift"] = try Self.json(result)
            }
            comparisons.append(entry)
        }
        func ratio(_ name: String, _ tx: [Double], _ ty: [Double], _ cx: [Double], _ cy: [Double]) throws {
            let t = Summaries.ratio(tx, ty)
            let c = Summaries.ratio(cx, cy)
            var entry: [String: Any] = [
                "name": name, "kind": "ratio", "treatment": tx, "treatment_y": ty, "control": cx, "control_y": cy, "confidence": 0.95,
                "swift_treatment": try Self.json(t), "swift_control": try Self.json(c),
            ]
            if let result = Comparison.compare(treatment: t, control: c, test: .z, confidence: 0.95) {
                entry["swift"] = try Self.json(result)
            }
            comparisons.append(entry)
        }
        try welch("normal", Self.normal(&rng, mean: 10.3, sd: 2, count: 500), Self.normal(&rng, mean: 10, sd: 3, count: 700))
        try welch(
            "normal 90%", Self.normal(&rng, mean: 1, sd: 1, count: 50), Self.normal(&rng, mean: 1.2, sd: 0.5, count: 40), confidence: 0.9)
        try welch("conversion", (0..<3000).map { _ in rng.chance(0.12) ? 1 : 0 }, (0..<3000).map { _ in rng.chance(0.1) ? 1 : 0 })
        try welch("tiny p-value", Self.normal(&rng, mean: 0.3, sd: 1, count: 20_000), Self.normal(&rng, mean: 0, sd: 1, count: 20_000))
        try welch("negative mean", Self.normal(&rng, mean: -5, sd: 1, count: 30), Self.normal(&rng, mean: -4, sd: 2, count: 31))
        try welch("two units each", [1, 3], [2, 2.5])
        try welch("no units in the treatment", [], [1, 2, 3])
        try welch("no units in the control", [1, 2, 3], [])
        try welch("one unit", [4], [1, 2, 3])
        try welch("zero variance on one side", [2, 2, 2, 2], [1, 2, 3, 5])
        try welch("zero variance on both sides", [2, 2, 2], [1, 1, 1])
        try welch("all equal", [1, 1], [1, 1])
        try welch("control mean zero", [0, 1, 0, 2], [0, 0, 1, -1])
        let tx = (0..<800).map { _ in Double(Int.random(in: 0...3, using: &rng)) }
        let ty = tx.map { $0 + Double(Int.random(in: 0...2, using: &rng)) }
        let cx = (0..<900).map { _ in Double(Int.random(in: 0...2, using: &rng)) }
        let cy = cx.map { $0 + Double(Int.random(in: 0...3, using: &rng)) }
        try ratio("ratio", tx, ty, cx, cy)
        try ratio("ratio, one unit", [1], [2], cx, cy)
        try ratio("ratio, no units", [], [], cx, cy)
        try ratio("ratio, zero denominator", [0, 0], [0, 0], cx, cy)
        try ratio("ratio, constant", [1, 2, 3], [2, 4, 6], [1, 1], [2, 2])

        var srm: [[String: Any]] = []
        for (name, observed, weights) in [
            ("even", [5010, 4990], [5000, 5000]), ("skewed", [5200, 4800], [5000, 5000]),
            ("three", [3400, 3300, 3350], [3400, 3300, 3300]),
            ("zero-weight variant", [100, 90, 0], [5000, 5000, 0]), ("no units", [0, 0], [5000, 5000]),
        ] {
            let check = SampleRatioCheck.check(
                variants: zip(observed, weights).enumerated().map { ("v\($0.offset)", $0.element.1, $0.element.0) })
            srm.append(["name": name, "observed": observed, "weights": weights, "swift": try check.map(Self.json) ?? NSNull()])
        }

        let folder = Scratch.folder("analysis-cases")
        defer { Scratch.remove(folder) }
        let path = folder + "/cases.json"
        let data = try JSONSerialization.data(withJSONObject: ["distributions": distributions, "comparisons": comparisons, "srm": srm])
        try data.write(to: URL(fileURLWithPath: path))
        let result = try await runProcess("/usr/bin/env", ["python3", Self.checker, "cases", path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains(" 0 failed"), "\(result.stdout)")
    }

    /// The sample data set (scripts/generate-analysis-sample) analysed in-process, then recomputed
    /// from the same files by the Python reader with SciPy.
    @Test(arguments: [nil, 86400] as [Int64?])
    func reportMatchesAnIndependentAnalysis(cuped: Int64?) async throws {
        let folder = Scratch.folder("analysis-report")
        defer { Scratch.remove(folder) }
        let generator = Repository.root.appendingPathComponent("scripts/generate-analysis-sample").path
        let generated = try await runProcess("/usr/bin/env", ["python3", generator, folder, "--units", "3000", "--seed", "11"])
        try #require(generated.status == 0, "\(generated.stderr)")

        let project = try SampleProject.compile()
        let experiment = try #require(project.experiments.first { $0.name == "green-checkout-button" })
        var options = AnalysisOptions()
        options.cupedWindowSeconds = cuped
        let analyzer = Analyzer(experiments: [ExperimentSpec(experiment)], metrics: project.metrics, options: options)
        for segment in try ExposureLayout.localSegments(folder + "/exposures", from: nil, to: nil) {
            try analyzer.addExposureSegment(path: segment)
        }
        try analyzer.addEvents(path: folder + "/events.csv", format: .csv)
        let report = analyzer.report()
        #expect(report.experiments[0].multipleVariants == 5)
        #expect(report.experiments[0].bulkOnly == 20)
        #expect(report.experiments[0].metrics.count == project.metrics.count)

        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(report).write(to: URL(fileURLWithPath: folder + "/report.json"))
        if cuped != nil { #expect(report.inputs.eventsPreExposure > 0) }
        let spec: [String: Any] = [
            "confidence": 0.95, "cuped_window_seconds": cuped.map { Int($0) } ?? NSNull(),
            "experiments": [["name": experiment.name, "variants": experiment.variants.map { ["name": $0.name, "weight": $0.weight] }]],
            "metrics": project.metrics.map { metric -> [String: Any] in
                [
                    "name": metric.name.value, "type": metric.type.rawValue, "event": metric.eventName,
                    "numerator": metric.numerator?.value ?? NSNull(), "denominator": metric.denominator?.value ?? NSNull(),
                    "window_seconds": metric.windowSeconds.map { Int($0) } ?? NSNull(),
                ]
            },
        ]
        try JSONSerialization.data(withJSONObject: spec).write(to: URL(fileURLWithPath: folder + "/spec.json"))
        let result = try await runProcess(
            "/usr/bin/env",
            [
                "python3", Self.checker, "report", folder + "/spec.json", folder + "/exposures", folder + "/events.csv",
                folder + "/report.json",
            ])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains(" 0 failed"), "\(result.stdout)")
    }
}

/// The repository's sample experiments and metrics, compiled.
enum SampleProject {
    static func compile() throws -> CheckedProject {
        let directory = Repository.root.appendingPathComponent("experiments").path
        switch Compiler.compile(directory: directory, version: 1, createdAt: 0) {
        case .success(let output): return output.project
        case .failure(let failure): throw SampleError(message: failure.rendered)
        }
    }

    struct SampleError: Error { var message: String }
}
