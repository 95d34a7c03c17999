import AllotAnalysis
import AllotCompiler
import AllotCore
import AllotStore
import ArgumentParser
import Foundation
import Logging

/// `--emit-sql`'s dialects, as the argument parser reads them.
enum SQLDialectArgument: String, ExpressibleByArgument, CaseIterable {
    case duckdb, trino, bigquery, spark

    var dialect: SQLEmitter.Dialect { SQLEmitter.Dialect(rawValue: rawValue)! }
}

struct AnalyzeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Experiment results from the exposure log and metric events.",
        discussion: """
            Reads the exposure log (a folder or store URL with the layout of docs/exposures.md), \
            then metric events (CSV or NDJSON: unit_id, metric, value, timestamp), and reports per \
            experiment the split's health (sample-ratio check against the declared weights) and, \
            per metric of kind Metric in the experiments directory, each variant's mean and each \
            treatment's effect against the control with a confidence interval and p-value \
            (docs/analysis.md). Memory grows with the units exposed, not with the records read. \
            Exit status: 0, 1 when a sample-ratio mismatch is flagged, 2 invalid input, 4 a \
            store or file could not be read, 64 usage.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, markdown, json, html
    }

    @Option(name: .long, help: ArgumentHelp("The exposure log: a folder, file:///path or s3://bucket/prefix?...", valueName: "dir-or-url"))
    var exposures: String?

    @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp("Metric events files (.csv, .ndjson or .jsonl).", valueName: "file"))
    var events: [String] = []

    @Option(name: .long, help: ArgumentHelp("Directory of experiment files (experiments and metrics).", valueName: "dir"))
    var experiments = "experiments"

    @Option(
        name: .long,
        help: ArgumentHelp("Analyse this experiment only (default: every declared experiment with exposures).", valueName: "name"))
    var experiment: String?

    @Option(name: .long, help: ArgumentHelp("Only these metrics (repeatable; default: every declared metric).", valueName: "name"))
    var metric: [String] = []

    @Option(
        name: .long, help: ArgumentHelp("Exposures and events from this time, \(TimeArgument.help).", valueName: "time"),
        transform: TimeArgument.parse)
    var from: Int64?

    @Option(
        name: .long, help: ArgumentHelp("Exposures and events before this time, \(TimeArgument.help).", valueName: "time"),
        transform: TimeArgument.parse)
    var to: Int64?

    @Flag(name: .long, help: "Count OFREP bulk evaluations as exposures (docs/exposures.md, rule 2).")
    var includeBulk = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "CUPED: adjust conversion and sum metrics by the same metric in this window before each unit's first exposure (e.g. 14d).",
            valueName: "window"))
    var cuped: String?

    @Option(name: .long, help: ArgumentHelp("Confidence of the intervals (default: 0.95).", valueName: "level"))
    var confidence = 0.95

    @Option(name: .long, help: "Output format: text, markdown, json or html (a static page with SVG charts; default: text).")
    var format: Format = .text

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Print the analysis as SQL for duckdb, trino, bigquery or spark instead of running it (needs --experiment).",
            valueName: "dialect"))
    var emitSQL: SQLDialectArgument?

    @Option(
        name: .long,
        help: ArgumentHelp("With --emit-sql: the table of exposure records (default for duckdb: read --exposures).", valueName: "name"))
    var exposuresTable: String?

    @Option(
        name: .long,
        help: ArgumentHelp("With --emit-sql: the table of metric events (default for duckdb: read --events).", valueName: "name"))
    var eventsTable: String?

    func validate() throws {
        if let emitSQL {
            guard experiment != nil else { throw ValidationError("--emit-sql needs --experiment NAME: one query per experiment") }
            if emitSQL == .duckdb {
                guard exposures != nil || exposuresTable != nil else {
                    throw ValidationError("--emit-sql duckdb needs --exposures DIR or --exposures-table NAME")
                }
                guard !events.isEmpty || eventsTable != nil else {
                    throw ValidationError("--emit-sql duckdb needs --events FILE... or --events-table NAME")
                }
            }
        } else {
            guard exposures != nil else {
                throw ValidationError("give the exposure log: --exposures DIR or --exposures s3://bucket/prefix?...")
            }
            if exposuresTable != nil || eventsTable != nil {
                throw ValidationError("--exposures-table and --events-table go with --emit-sql")
            }
        }
        guard confidence > 0.5, confidence < 1 else { throw ValidationError("--confidence must be between 0.5 and 1, e.g. 0.95") }
        if let from, let to, from >= to { throw ValidationError("--from must be before --to") }
        if let cuped, MetricWindow.seconds(cuped) == nil {
            throw ValidationError("--cuped '\(cuped)' is not a duration: give a whole number and s, m, h or d, at most 366d (e.g. 14d)")
        }
        if cuped != nil, emitSQL != nil { throw ValidationError("--cuped is not available with --emit-sql") }
        for file in events where EventFormat.guess(path: file) == nil {
            throw ValidationError("--events \(file): name the format by the extension: .csv, .ndjson or .jsonl")
        }
    }

    func run() async throws {
        let project: CheckedProject
        switch Compiler.compile(directory: experiments, version: 1, createdAt: 0) {
        case .success(let output): project = output.project
        case .failure(let failure):
            Terminal.error(failure.rendered)
            throw CommandFailure(message: "the experiments do not compile; fix them before analysing", status: .invalidInput)
        }
        var declared = project.experiments
        if let experiment {
            declared = declared.filter { $0.name == experiment }
            guard !declared.isEmpty else {
                let hint = closestMatch(to: experiment, in: project.experiments.map(\.name)).map { "; did you mean '\($0)'?" } ?? ""
                throw CommandFailure(message: "no experiment '\(experiment)' in \(experiments)\(hint)", status: .invalidInput)
            }
        }
        var metrics = project.metrics
        if !metric.isEmpty {
            for name in metric where project.metric(named: name) == nil {
                let hint = closestMatch(to: name, in: project.metrics.map(\.name.value)).map { "; did you mean '\($0)'?" } ?? ""
                throw CommandFailure(message: "no metric '\(name)' in \(experiments)\(hint)", status: .invalidInput)
            }
            metrics = metrics.filter { metric.contains($0.name.value) }
        }
        // A ratio needs the metrics it divides, whether shown or not.
        let needed = Set(metrics.flatMap { [$0.numerator?.value, $0.denominator?.value].compactMap { $0 } })
        let chosen = Set(metrics.map(\.name.value))
        let extra = project.metrics.filter { needed.contains($0.name.value) && !chosen.contains($0.name.value) }

        var options = AnalysisOptions()
        options.from = from.map { $0 * 1000 }
        options.to = to.map { $0 * 1000 }
        options.includeBulk = includeBulk
        options.confidence = confidence
        options.cupedWindowSeconds = cuped.flatMap(MetricWindow.seconds)
        if let emitSQL = emitSQL?.dialect {
            let exposureSource: SQLEmitter.Source =
                exposuresTable.map { .table($0) } ?? (emitSQL == .duckdb ? .exposureLayout(exposures!) : .table("exposures"))
            let eventSource: SQLEmitter.Source =
                eventsTable.map { .table($0) } ?? (emitSQL == .duckdb ? .eventFiles(events) : .table("metric_events"))
            Terminal.print(
                SQLEmitter.emit(
                    experiment: ExperimentSpec(declared[0]), metrics: metrics + extra, options: options, dialect: emitSQL,
                    exposures: exposureSource, events: eventSource) + ";")
            return
        }
        // Every metric is read (so events of the ones not shown are not counted as undeclared).
        let analyzer = Analyzer(experiments: declared.map(ExperimentSpec.init), metrics: project.metrics, options: options)
        do {
            try await readExposures(analyzer, from: options.from, to: options.to)
            for file in events {
                try analyzer.addEvents(path: file, format: EventFormat.guess(path: file)!)
            }
        } catch let error as AnalysisError {
            throw CommandFailure(message: error.message, status: error.kind == .invalidInput ? .invalidInput : .unavailable)
        }
        var report = analyzer.report()
        // Without --experiment, experiments nobody was exposed to are left out.
        if experiment == nil { report.experiments = report.experiments.filter { $0.records > 0 } }
        let shown = Set(metrics.map(\.name.value))
        for index in report.experiments.indices {
            report.experiments[index].metrics = report.experiments[index].metrics.filter { shown.contains($0.metric) }
        }
        switch format {
        case .text: Terminal.print(ReportRenderer.render(report, style: .text))
        case .markdown: Terminal.print(ReportRenderer.render(report, style: .markdown))
        case .json: try JSONOutput.print(report)
        case .html: Terminal.print(HTMLReport.render(report, title: experiment.map { "Experiment \($0)" } ?? "Experiment results"))
        }
        let mismatched = report.experiments.filter { $0.sampleRatio?.mismatch == true }.map(\.experiment)
        if !mismatched.isEmpty {
            throw CommandFailure(message: "sample-ratio mismatch in \(mismatched.joined(separator: ", "))", status: .wouldChange)
        }
    }

    private func readExposures(_ analyzer: Analyzer, from: Int64?, to: Int64?) async throws {
        let location: StoreLocation
        do {
            location = try StoreLocation(parsing: exposures ?? "")
        } catch {
            throw CommandFailure(message: "--exposures: \(error.message)", status: .usage)
        }
        switch location {
        case .local(let path):
            for segment in try ExposureLayout.localSegments(path, from: from, to: to) {
                try analyzer.addExposureSegment(path: segment)
            }
        case .s3:
            var logger = Logger(label: "allot.analyze")
            logger.logLevel = .notice
            let store = location.open(
                credentials: AWSCredentials.fromEnvironment(ProcessInfo.processInfo.environment), logger: logger)
            for key in try await ExposureLayout.storeSegments(store, from: from, to: to) {
                let object: StoredObject
                do {
                    object = try await store.get(key, maxBytes: ExposureLayout.maxSegmentBytes)
                } catch {
                    throw AnalysisError(kind: .unavailable, message: "cannot read \(key) from \(store.location): \(error.message)")
                }
                try analyzer.addExposureSegment(bytes: object.bytes, source: key)
            }
        }
    }
}
