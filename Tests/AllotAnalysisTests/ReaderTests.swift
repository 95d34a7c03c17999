import AllotAnalysis
import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

/// The readers: exposure records and metric events at the byte level, the rules of
/// docs/exposures.md, attribution windows, and clear errors for bad input.
@Suite struct ReaderTests {
    static let spec = ExperimentSpec(name: "exp", variants: [("control", 5000), ("treatment", 5000)])

    static func metric(_ name: String, _ type: MetricType, event: String? = nil, window: Int64? = nil) -> MetricDeclaration {
        let at = SourceLocation(file: "metrics.yaml", line: 1, column: 1)
        return MetricDeclaration(name: Located(name, at: at), type: type, event: event.map { Located($0, at: at) }, windowSeconds: window)
    }

    static func record(
        _ unit: String, _ variant: String?, ts: Int64, api: String = "native", reason: String = "split", experiment: String = "exp"
    )
        -> String
    {
        let variantJSON = variant.map { "\"\($0)\"" } ?? "null"
        return
            #"{"v":1,"ts":\#(ts),"unit_type":"user_id","unit":\#(unit),"experiment":"\#(experiment)","variant":\#(variantJSON),"layer":"l","reason":"\#(reason)","bundle":1,"region":"r","server":"s","api":"\#(api)","extra":{"nested":[1,"}"]}}"#
    }

    static func analyse(
        _ records: [String], events: String, format: EventFormat = .csv, metrics: [MetricDeclaration],
        options: AnalysisOptions = AnalysisOptions()
    )
        throws -> AnalysisReport
    {
        let analyzer = Analyzer(experiments: [spec], metrics: metrics, options: options)
        try Array((records.joined(separator: "\n") + "\n").utf8).withUnsafeBytes {
            try analyzer.addExposureRecords($0, source: "exposures")
        }
        try Array(events.utf8).withUnsafeBytes { try analyzer.addEvents($0, format: format, source: "events.csv") }
        return analyzer.report()
    }

    @Test func rulesOfTheExposureLog() throws {
        let records = [
            Self.record(#""a""#, "control", ts: 5000),
            Self.record(#""a""#, "control", ts: 1000),  // first exposure is the earliest
            Self.record(#""b""#, "treatment", ts: 1000),
            Self.record(#""multi""#, "control", ts: 1000), Self.record(#""multi""#, "treatment", ts: 2000),
            Self.record(#""bulk""#, "treatment", ts: 1000, api: "ofrep_bulk"),
            Self.record(#""forced""#, "treatment", ts: 1000, reason: "override"),
            Self.record(#""default""#, nil, ts: 1000, reason: "holdout"),
            Self.record(#""other""#, "x", ts: 1000, experiment: "other-experiment"),
            Self.record(#""u\u00e9\"q""#, "treatment", ts: 1000),  // an escaped id: é and a quote
        ]
        let events = """
            unit_id,metric,value,timestamp
            a,revenue,2.5,1000
            a,revenue,1,999
            "u\u{e9}""q",revenue,4,1500
            b,revenue,7,100000
            nobody,revenue,1,1000
            a,clicks,1,1000
            """
        let report = try Self.analyse(records, events: events, metrics: [Self.metric("revenue", .sum, window: 60)])
        let result = report.experiments[0]
        #expect(result.units == 6)
        #expect(result.analysedUnits == 3)
        #expect(result.multipleVariants == 1)
        #expect(result.bulkOnly == 1)
        #expect(result.overridden == 1)
        #expect(result.variants.map(\.units) == [1, 2])
        #expect(report.inputs.defaultsIgnored == 1)
        #expect(report.inputs.otherExperiments == 1)
        // a: 2.5 (the event at 999 is before its exposure); the escaped id: 4; b: 7 is after 60 s.
        let revenue = result.metrics[0]
        #expect(revenue.variants[0].summary.mean == 2.5)
        #expect(revenue.variants[1].summary.mean == 2)
        #expect(report.inputs.eventsAttributed == 2)
        #expect(report.inputs.eventsOutsideWindow == 2)
        #expect(report.inputs.eventsUnexposedUnit == 1)
        #expect(report.inputs.eventsUnknownMetric == 1)

        var options = AnalysisOptions()
        options.includeBulk = true
        let withBulk = try Self.analyse(records, events: events, metrics: [Self.metric("revenue", .sum)], options: options)
        #expect(withBulk.experiments[0].bulkOnly == 0)
        #expect(withBulk.experiments[0].variants.map(\.units) == [1, 3])
    }

    @Test func eventsAsNDJSONAndMetricsSharingAnEvent() throws {
        let records = [Self.record(#""a""#, "control", ts: 0), Self.record(#""b""#, "treatment", ts: 0)]
        let events = """
            {"unit_id":"a","metric":"order","value":10,"timestamp":5}
            {"unit_id":"a","metric":"order","value":20.5,"timestamp":"1970-01-01T00:00:01Z","source":{"app":"web"}}
            {"metric":"order","unit_id":"b","timestamp":7,"value":null}
            """
        let report = try Self.analyse(
            records, events: events, format: .ndjson,
            metrics: [
                Self.metric("orders", .conversion, event: "order"), Self.metric("order-revenue", .sum, event: "order"),
                Self.metric("order-value", .mean, event: "order"),
            ])
        let metrics = report.experiments[0].metrics
        #expect(metrics[0].variants.map(\.summary.mean) == [1, 1])
        #expect(metrics[1].variants.map(\.summary.mean) == [30.5, 1])
        #expect(metrics[2].variants.map(\.summary.mean) == [15.25, 1])
    }

    @Test(arguments: [
        ("unit_id,metric,timestamp\na,m,yesterday\n", "events.csv:2: 'yesterday' is not a time"),
        ("unit_id,metric,value,timestamp\na,m,1e,5\n", "events.csv:2: '1e' is not a number"),
        ("unit,metric,value,timestamp\n", "events.csv:1: the header has no 'unit_id' column"),
        ("unit_id,metric,value,timestamp\n\"a,m,1,5\n", "events.csv:2: an unterminated quoted field"),
        ("unit_id,metric,value,timestamp\na,m\n", "events.csv:2: 2 fields"),
    ])
    func badEventsNameTheFileAndLine(_ events: String, _ message: String) throws {
        let records = [Self.record(#""a""#, "control", ts: 0)]
        let error = #expect(throws: AnalysisError.self) {
            _ = try Self.analyse(records, events: events, metrics: [Self.metric("m", .sum)])
        }
        #expect(error?.message.hasPrefix(message) == true, "\(error?.message ?? "")")
        #expect(error?.kind == .invalidInput)
    }

    @Test(arguments: [
        (#"{"v":1,"ts":"x","unit":"a","experiment":"exp","variant":"control"}"#, "exposures: record 1: 'ts' must be an integer"),
        (#"{"v":1,"ts":1,"unit":"a","experiment":"exp","variant":"control""#, "exposures: record 1: unterminated object"),
        (#"{"v":1,"ts":1,"experiment":"exp","variant":"control"}"#, "exposures: record 1: an exposure needs ts, unit"),
        (#"[1,2]"#, "exposures: record 1: expected a JSON object"),
    ])
    func badRecordsNameTheSourceAndRecord(_ record: String, _ message: String) throws {
        let error = #expect(throws: AnalysisError.self) {
            _ = try Self.analyse([record], events: "unit_id,metric,value,timestamp\n", metrics: [])
        }
        #expect(error?.message.hasPrefix(message) == true, "\(error?.message ?? "")")
    }

    @Test func aLineOverTheLimitIsRefused() throws {
        var options = AnalysisOptions()
        options.maxLineBytes = 200
        let long = Self.record("\"" + String(repeating: "x", count: 300) + "\"", "control", ts: 0)
        let error = #expect(throws: AnalysisError.self) {
            _ = try Self.analyse([long], events: "", metrics: [], options: options)
        }
        #expect(error?.message == "exposures:1: a line longer than the limit")
    }

    @Test func segmentsAreStreamedAndACutFrameIsAnError() throws {
        let folder = Scratch.folder("analysis-segments")
        defer { Scratch.remove(folder) }
        let partition = folder + "/exposures/date=2025-12-01/hour=05/region=r"
        try FileManager.default.createDirectory(atPath: partition, withIntermediateDirectories: true)
        // 3 MiB of records: several decompressed chunks, lines cut across them.
        var text = ""
        for n in 0..<12_000 {
            text += Self.record("\"unit-\(n)\"", n % 2 == 0 ? "control" : "treatment", ts: 1_764_565_200_000 + Int64(n)) + "\n"
        }
        let compressor = try ZstdCompressor(level: 3, checksum: true)
        var frame: [UInt8] = []
        try Array(text.utf8).withUnsafeBytes { input in
            try compressor.compress(input, .end) {
                frame.append(contentsOf: $0); return true
            }
        }
        try Data(frame).write(to: URL(fileURLWithPath: partition + "/s-1-000001.ndjson.zst"))
        let segments = try ExposureLayout.localSegments(folder, from: nil, to: nil)
        #expect(segments.count == 1)
        let analyzer = Analyzer(experiments: [Self.spec], metrics: [])
        try analyzer.addExposureSegment(path: segments[0])
        #expect(analyzer.report().experiments[0].variants.map(\.units) == [6000, 6000])
        // Pruned by the partition's hour.
        #expect(try ExposureLayout.localSegments(folder, from: 1_764_568_800_000, to: nil).isEmpty)
        #expect(try ExposureLayout.localSegments(folder, from: nil, to: 1_764_565_200_000).isEmpty)
        #expect(try ExposureLayout.localSegments(folder, from: 1_764_565_200_000, to: 1_764_565_200_001).count == 1)

        try Data(frame.prefix(frame.count / 2)).write(to: URL(fileURLWithPath: partition + "/s-1-000001.ndjson.zst"))
        let error = #expect(throws: AnalysisError.self) {
            try Analyzer(experiments: [Self.spec], metrics: []).addExposureSegment(path: segments[0])
        }
        #expect(error?.message.contains("cut short") == true, "\(error?.message ?? "")")
    }
}
