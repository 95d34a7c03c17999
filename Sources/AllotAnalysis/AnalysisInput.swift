public import AllotCompiler

/// What an experiment's analysis needs from its declaration.
public struct ExperimentSpec: Sendable {
    public var name: String
    /// Variant names and declared weights (basis points), in declaration order.
    public var variants: [(name: String, weight: Int)]
    /// The variant every other is compared with: `control` if there is one, else the first.
    public var control: String

    public init(name: String, variants: [(name: String, weight: Int)], control: String? = nil) {
        self.name = name
        self.variants = variants
        self.control = control ?? (variants.contains { $0.name == "control" } ? "control" : variants.first?.name ?? "")
    }

    /// From a compiled experiment.
    public init(_ experiment: CheckedExperiment) {
        self.init(name: experiment.name, variants: experiment.variants.map { ($0.name, $0.weight) })
    }
}

/// How to analyse.
public struct AnalysisOptions: Sendable {
    /// Exposures and events from this time on (milliseconds since the epoch); nil: from the start.
    public var from: Int64?
    /// Exposures and events before this time (milliseconds); nil: to the end of the data.
    public var to: Int64?
    /// Count `ofrep_bulk` records as exposures (docs/exposures.md, rule 2).
    public var includeBulk = false
    /// Two-sided confidence of the intervals.
    public var confidence = 0.95
    /// The sample-ratio check flags p below this.
    public var sampleRatioThreshold = 0.001
    /// CUPED: adjust conversion and sum metrics by the same metric's value in this many seconds
    /// before each unit's first exposure (nil: off).
    public var cupedWindowSeconds: Int64?
    /// The longest line an exposure segment or events file may have.
    public var maxLineBytes = 1 << 20

    public init() {}
}

/// The format of a metric events file.
public enum EventFormat: String, Sendable, CaseIterable {
    /// Comma-separated, with a header naming `unit_id`, `metric`, `value`, `timestamp`.
    case csv
    /// One JSON object per line with those members.
    case ndjson

    /// By file name: `.csv` is CSV; `.ndjson`, `.jsonl` and `.json` are NDJSON.
    public static func guess(path: String) -> EventFormat? {
        let lower = path.lowercased()
        if lower.hasSuffix(".csv") { return .csv }
        if lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") || lower.hasSuffix(".json") { return .ndjson }
        return nil
    }
}
