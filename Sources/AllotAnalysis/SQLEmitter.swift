public import AllotCompiler

/// `allot analyze --emit-sql`: the same analysis as one SQL query, for a warehouse that holds the
/// exposure log and the metric events (docs/analysis.md, "In a warehouse"). It applies the rules of
/// docs/exposures.md and the metric definitions exactly as `Analyzer` does and returns, per variant,
/// the units, the sample-ratio chi-square, and per metric the mean, variance and the effect against
/// the control with its standard error, Welch degrees of freedom and test statistic. (P-values and
/// intervals follow from the statistic; SQL engines have no t distribution.)
public enum SQLEmitter {
    public enum Dialect: String, Sendable, CaseIterable {
        case duckdb, trino, bigquery, spark

        var double: String { self == .bigquery ? "FLOAT64" : "DOUBLE" }

        /// A table name as the dialect quotes it (dots separate schema parts).
        func table(_ name: String) -> String {
            switch self {
            case .bigquery: return "`" + name.replacingOccurrences("`", with: "") + "`"
            case .spark:
                return name.split(separator: ".").map { "`" + String($0).replacingOccurrences("`", with: "") + "`" }.joined(separator: ".")
            case .duckdb, .trino:
                return name.split(separator: ".").map { "\"" + String($0).replacingOccurrences("\"", with: "\"\"") + "\"" }.joined(
                    separator: ".")
            }
        }
    }

    /// Where the query reads from.
    public enum Source: Sendable {
        /// A table or view with the record's columns (`unit`, `experiment`, `variant`, `ts`, `reason`, `api`)
        /// or the events' (`unit_id`, `metric`, `value`, `timestamp` in milliseconds).
        case table(String)
        /// DuckDB only: the exposure layout below a folder or URL (read_json over the segments).
        case exposureLayout(String)
        /// DuckDB only: event files (read_csv or read_json by extension).
        case eventFiles([String])
    }

    public static func emit(
        experiment: ExperimentSpec, metrics: [MetricDeclaration], options: AnalysisOptions, dialect: Dialect, exposures: Source,
        events: Source
    ) -> String {
        let double = dialect.double
        func literal(_ text: String) -> String { "'" + text.replacingOccurrences("'", with: "''") + "'" }
        func source(_ source: Source, events isEvents: Bool) -> String {
            switch source {
            case .table(let name): return dialect.table(name)
            case .exposureLayout(let root):
                let base = root.hasSuffix("/") ? String(root.dropLast()) : root
                return """
                    read_json(\(literal(base + "/exposures/*/*/*/*.ndjson.zst")), format = 'newline_delimited', compression = 'zstd',
                        columns = {ts: 'BIGINT', unit: 'VARCHAR', experiment: 'VARCHAR', variant: 'VARCHAR', reason: 'VARCHAR', api: 'VARCHAR'})
                    """
            case .eventFiles(let files):
                let reads = files.map { file -> String in
                    let columns = "columns = {unit_id: 'VARCHAR', metric: 'VARCHAR', value: 'DOUBLE', timestamp: 'BIGINT'}"
                    return EventFormat.guess(path: file) == .csv
                        ? "SELECT unit_id, metric, value, timestamp FROM read_csv(\(literal(file)), header = true, \(columns))"
                        : "SELECT unit_id, metric, value, timestamp FROM read_json(\(literal(file)), format = 'newline_delimited', \(columns))"
                }
                _ = isEvents
                return "(" + reads.joined(separator: " UNION ALL ") + ")"
            }
        }
        let bulk = options.includeBulk ? "TRUE" : "api <> 'ofrep_bulk'"
        var window: [String] = []
        if let from = options.from { window.append("ts >= \(from)") }
        if let to = options.to { window.append("ts < \(to)") }
        let variantList = experiment.variants.map { literal($0.name) }.joined(separator: ", ")

        // Channels: every metric but ratios reads events (its `event` name, its window).
        let channels = metrics.enumerated().filter { $0.element.type != .ratio }
        func channelIndex(_ name: String?) -> Int? {
            guard let name else { return nil }
            return channels.firstIndex { $0.element.name.value == name }
        }
        var channelColumns: [String] = []
        for (c, (_, metric)) in channels.enumerated() {
            var condition = "e.metric = \(literal(metric.eventName))"
            if let seconds = metric.windowSeconds { condition += " AND e.timestamp < a.first_ts + \(seconds * 1000)" }
            channelColumns.append("SUM(CASE WHEN \(condition) THEN COALESCE(e.value, 1) ELSE 0 END) AS s\(c)")
            channelColumns.append("SUM(CASE WHEN \(condition) THEN 1 ELSE 0 END) AS n\(c)")
        }
        func unitValue(_ channel: Int, _ type: MetricType) -> String {
            type == .conversion ? "CASE WHEN n\(channel) > 0 THEN 1.0 ELSE 0.0 END" : "CAST(s\(channel) AS \(double))"
        }
        // Per metric: x (and y for ratios) per unit.
        var valueColumns: [String] = []
        var statColumns: [String] = []
        var metricRows: [String] = []
        for (m, metric) in metrics.enumerated() {
            let isRatio = metric.type == .ratio || metric.type == .mean
            switch metric.type {
            case .conversion, .sum:
                valueColumns.append("\(unitValue(channelIndex(metric.name.value)!, metric.type)) AS x\(m)")
            case .mean:
                let c = channelIndex(metric.name.value)!
                valueColumns.append("CAST(s\(c) AS \(double)) AS x\(m)")
                valueColumns.append("CAST(n\(c) AS \(double)) AS y\(m)")
            case .ratio:
                let numerator = metrics.first { $0.name.value == metric.numerator?.value }
                let denominator = metrics.first { $0.name.value == metric.denominator?.value }
                guard let numerator, let denominator, let nc = channelIndex(numerator.name.value),
                    let dc = channelIndex(denominator.name.value)
                else { continue }
                valueColumns.append("\(unitValue(nc, numerator.type)) AS x\(m)")
                valueColumns.append("\(unitValue(dc, denominator.type)) AS y\(m)")
            }
            statColumns.append("AVG(x\(m)) AS mx\(m)")
            statColumns.append("VAR_SAMP(x\(m)) AS vx\(m)")
            if isRatio {
                statColumns.append("AVG(y\(m)) AS my\(m)")
                statColumns.append("VAR_SAMP(y\(m)) AS vy\(m)")
                statColumns.append("COVAR_SAMP(x\(m), y\(m)) AS cxy\(m)")
            }
            // mean and variance of the estimate's per-unit values (delta method for ratios).
            let mean: String
            let variance: String
            if isRatio {
                mean = "CASE WHEN my\(m) <> 0 THEN mx\(m) / my\(m) END"
                variance =
                    "CASE WHEN my\(m) <> 0 THEN (vx\(m) - 2 * (mx\(m) / my\(m)) * cxy\(m) + (mx\(m) / my\(m)) * (mx\(m) / my\(m)) * vy\(m)) / (my\(m) * my\(m)) END"
            } else {
                mean = "mx\(m)"
                variance = "vx\(m)"
            }
            metricRows.append(
                """
                SELECT \(literal(metric.name.value)) AS metric, variant, units, \(mean) AS mean, \(variance) AS variance,
                    \(isRatio ? "FALSE" : "TRUE") AS welch
                  FROM variant_stats
                """)
        }
        let conditions = (["experiment = \(literal(experiment.name))", "variant IS NOT NULL"] + window).joined(separator: " AND ")
        let eventWindow = options.to.map { " AND e.timestamp < \($0)" } ?? ""
        let sql = """
            -- allot analyze --emit-sql \(dialect.rawValue): experiment \(experiment.name) (docs/analysis.md, "In a warehouse")
            WITH exposure_records AS (
              SELECT unit, variant, ts, reason, api
              FROM \(source(exposures, events: false))
              WHERE \(conditions)
            ),
            exposed_units AS (
              SELECT unit,
                MIN(CASE WHEN \(bulk) THEN ts END) AS first_ts,
                COUNT(DISTINCT CASE WHEN \(bulk) THEN variant END) AS variant_count,
                MIN(CASE WHEN \(bulk) THEN variant END) AS variant,
                MAX(CASE WHEN reason = 'override' THEN 1 ELSE 0 END) AS overridden
              FROM exposure_records
              GROUP BY unit
            ),
            analysed_units AS (
              SELECT unit, variant, first_ts FROM exposed_units
              WHERE variant_count = 1 AND overridden = 0 AND variant IN (\(variantList))
            ),
            unit_channels AS (
              SELECT a.unit, a.variant\(channelColumns.isEmpty ? "" : ",\n    " + channelColumns.joined(separator: ",\n    "))
              FROM analysed_units a
              LEFT JOIN \(source(events, events: true)) e ON e.unit_id = a.unit AND e.timestamp >= a.first_ts\(eventWindow)
              GROUP BY a.unit, a.variant
            ),
            unit_values AS (
              SELECT unit, variant\(valueColumns.isEmpty ? "" : ",\n    " + valueColumns.joined(separator: ",\n    "))
              FROM unit_channels
            ),
            declared AS (
              \(experiment.variants.map { "SELECT \(literal($0.name)) AS variant, CAST(\($0.weight) AS \(double)) AS weight" }.joined(separator: "\n  UNION ALL "))
            ),
            variant_stats AS (
              SELECT d.variant, d.weight, COUNT(u.unit) AS units\(statColumns.isEmpty ? "" : ",\n    " + statColumns.joined(separator: ",\n    "))
              FROM declared d LEFT JOIN unit_values u ON u.variant = d.variant
              GROUP BY d.variant, d.weight
            ),
            sample_ratio AS (
              SELECT variant, units,
                CAST(SUM(units) OVER () AS \(double)) * weight / SUM(weight) OVER () AS expected_units
              FROM variant_stats
            ),
            metric_rows AS (
              \(metricRows.isEmpty ? "SELECT CAST(NULL AS VARCHAR) AS metric, variant, units, CAST(NULL AS \(double)) AS mean, CAST(NULL AS \(double)) AS variance, TRUE AS welch FROM variant_stats WHERE FALSE" : metricRows.joined(separator: "\n  UNION ALL\n  "))
            ),
            comparisons AS (
              SELECT t.metric, t.variant,
                t.mean - c.mean AS absolute,
                SQRT(t.variance / t.units + c.variance / c.units) AS standard_error,
                CASE WHEN t.welch THEN
                  (t.variance / t.units + c.variance / c.units) * (t.variance / t.units + c.variance / c.units)
                  / ((t.variance / t.units) * (t.variance / t.units) / (t.units - 1) + (c.variance / c.units) * (c.variance / c.units) / (c.units - 1))
                END AS degrees_of_freedom,
                CASE WHEN c.mean <> 0 THEN t.mean / c.mean - 1 END AS relative,
                CASE WHEN c.mean <> 0 THEN SQRT(t.variance / t.units / (c.mean * c.mean)
                  + t.mean * t.mean * (c.variance / c.units) / (c.mean * c.mean * c.mean * c.mean)) END AS relative_standard_error
              FROM metric_rows t JOIN metric_rows c ON c.metric = t.metric AND c.variant = \(literal(experiment.control))
              WHERE t.variant <> \(literal(experiment.control)) AND t.units > 1 AND c.units > 1
                AND t.variance / t.units + c.variance / c.units > 0
            )
            SELECT 'sample_ratio' AS section, CAST(NULL AS VARCHAR) AS metric, s.variant, s.units, s.expected_units,
              SUM(CASE WHEN s.expected_units > 0 THEN (s.units - s.expected_units) * (s.units - s.expected_units) / s.expected_units ELSE 0 END) OVER ()
                AS chi_square,
              CAST(NULL AS \(double)) AS mean, CAST(NULL AS \(double)) AS variance, CAST(NULL AS \(double)) AS absolute,
              CAST(NULL AS \(double)) AS standard_error, CAST(NULL AS \(double)) AS degrees_of_freedom, CAST(NULL AS \(double)) AS statistic,
              CAST(NULL AS \(double)) AS relative, CAST(NULL AS \(double)) AS relative_standard_error
            FROM sample_ratio s
            UNION ALL
            SELECT 'metric' AS section, r.metric, r.variant, r.units, CAST(NULL AS \(double)) AS expected_units, CAST(NULL AS \(double)) AS chi_square,
              r.mean, CASE WHEN r.units > 1 THEN r.variance END AS variance, k.absolute, k.standard_error, k.degrees_of_freedom,
              k.absolute / k.standard_error AS statistic, k.relative, k.relative_standard_error
            FROM metric_rows r LEFT JOIN comparisons k ON k.metric = r.metric AND k.variant = r.variant
            ORDER BY section DESC, metric, variant
            """
        return dialect == .bigquery || dialect == .spark ? sql.replacingOccurrences("AS VARCHAR)", with: "AS STRING)") : sql
    }
}
