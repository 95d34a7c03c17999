import AllotAnalysis
import AllotCompiler
import AllotTestSupport
import Foundation
import Testing

/// `--emit-sql`: the DuckDB query, run by DuckDB's Python package over the same files, returns the
/// Swift analyzer's numbers (to 1e-9); the Trino, BigQuery and Spark queries parse with sqlglot.
@Suite struct SQLTests {
    static let checker = Repository.root.appendingPathComponent("Tests/AllotAnalysisTests/Python/check_sql.py").path

    /// Whole data, a time window (from the second day, before the end of the third), bulk records counted.
    @Test(arguments: [(nil, nil, false), (1_764_633_600_000, 1_764_777_600_000, false), (nil, nil, true)] as [(Int64?, Int64?, Bool)])
    func duckDBAgreesWithTheAnalyzer(from: Int64?, to: Int64?, includeBulk: Bool) async throws {
        let folder = Scratch.folder("analysis-sql")
        defer { Scratch.remove(folder) }
        let generator = Repository.root.appendingPathComponent("scripts/generate-analysis-sample").path
        let generated = try await runProcess("/usr/bin/env", ["python3", generator, folder, "--units", "2500", "--seed", "5"])
        try #require(generated.status == 0, "\(generated.stderr)")
        let project = try SampleProject.compile()
        let spec = ExperimentSpec(try #require(project.experiments.first { $0.name == "green-checkout-button" }))
        var options = AnalysisOptions()
        options.from = from
        options.to = to
        options.includeBulk = includeBulk

        let analyzer = Analyzer(experiments: [spec], metrics: project.metrics, options: options)
        for segment in try ExposureLayout.localSegments(folder + "/exposures", from: from, to: to) {
            try analyzer.addExposureSegment(path: segment)
        }
        try analyzer.addEvents(path: folder + "/events.csv", format: .csv)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(analyzer.report()).write(to: URL(fileURLWithPath: folder + "/report.json"))

        let sql = SQLEmitter.emit(
            experiment: spec, metrics: project.metrics, options: options, dialect: .duckdb,
            exposures: .exposureLayout(folder + "/exposures"),
            events: .eventFiles([folder + "/events.csv"]))
        try sql.write(toFile: folder + "/query.sql", atomically: true, encoding: .utf8)
        let result = try await runProcess(
            "/usr/bin/env", ["python3", Self.checker, "duckdb", folder + "/report.json", folder + "/query.sql"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains(" 0 failed"), "\(result.stdout)")
    }

    @Test(arguments: ["trino", "bigquery", "spark"])
    func otherDialectsParse(_ dialect: String) async throws {
        let folder = Scratch.folder("analysis-sql-\(dialect)")
        defer { Scratch.remove(folder) }
        let project = try SampleProject.compile()
        let spec = ExperimentSpec(try #require(project.experiments.first { $0.name == "green-checkout-button" }))
        var options = AnalysisOptions()
        options.from = 1_764_633_600_000
        let sql = SQLEmitter.emit(
            experiment: spec, metrics: project.metrics, options: options, dialect: SQLEmitter.Dialect(rawValue: dialect)!,
            exposures: .table("analytics.exposures"), events: .table("analytics.metric_events"))
        try sql.write(toFile: folder + "/query.sql", atomically: true, encoding: .utf8)
        let result = try await runProcess("/usr/bin/env", ["python3", Self.checker, "parse", dialect, folder + "/query.sql"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }
}
