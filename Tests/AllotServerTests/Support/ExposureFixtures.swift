import AllotCore
import AllotHTTP
import AllotStore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotExposures

/// What `Clients/exposure_reader.py` found in a folder with the store layout: the records (as the
/// third-party readers decoded them), the problems, and DuckDB's counts over the Hive layout.
struct ExposureReport {
    var segments: [(key: String, records: Int)]
    var records: [[String: Any]]
    var errors: [String]
    var duckDBCount: Int
    var duckDBByAPI: [String: Int]
    /// `[date, hour, region, count]` rows.
    var partitions: [[Any]]

    /// Records with `api`.
    func records(api: String) -> [[String: Any]] { records.filter { $0["api"] as? String == api } }

    /// (unit, experiment, variant, api) of every record, for comparisons.
    var decisions: [String] {
        records.map { "\($0["unit"] ?? "")|\($0["experiment"] ?? "")|\($0["variant"] as? String ?? "null")|\($0["api"] ?? "")" }.sorted()
    }
}

/// The third-party readers: zstandard, jsonschema (against docs/exposure.schema.json) and DuckDB,
/// from Python (`scripts/install-deps` installs them).
enum ExposureReader {
    static let available: Bool = {
        (try? runProcessBlocking(Moto.python, ["-c", "import duckdb, jsonschema, zstandard"]))?.status == 0
    }()
    static let skipReason: Comment = "duckdb, jsonschema or zstandard missing: run scripts/install-deps"

    /// Reads every segment under `root/exposures/`.
    static func read(_ root: String) async throws -> ExposureReport {
        let result = try await runProcess(
            Moto.python,
            [
                Repository.clients + "/exposure_reader.py", root,
                Repository.root.appendingPathComponent("docs/exposure.schema.json").path,
            ])
        guard result.status == 0, let document = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw FixtureError(message: "exposure_reader.py failed (\(result.status)):\n\(result.output)")
        }
        let duck = document["duckdb"] as? [String: Any] ?? [:]
        return ExposureReport(
            segments: (document["segments"] as? [[String: Any]] ?? []).map { ($0["key"] as? String ?? "", $0["records"] as? Int ?? 0) },
            records: document["records"] as? [[String: Any]] ?? [], errors: document["errors"] as? [String] ?? [],
            duckDBCount: duck["count"] as? Int ?? -1, duckDBByAPI: duck["by_api"] as? [String: Int] ?? [:],
            partitions: duck["partitions"] as? [[Any]] ?? [])
    }

    /// Copies every object under `exposures/` of `store` into a new folder (for the readers).
    static func download(_ store: any ObjectStore) async throws -> String {
        let folder = Scratch.folder("exposure-copy")
        for object in try await store.list(prefix: "exposures/") {
            let path = folder + "/" + object.key
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(try await store.get(object.key).bytes).write(to: URL(fileURLWithPath: path))
        }
        return folder
    }
}

/// An exposure log on a scratch spool without HTTP: the test records requests through recorders
/// and runs the writer's cycles itself.
final class LogHarness: @unchecked Sendable {
    let log: ExposureLog
    let registry = MetricsRegistry()
    let spool: String
    let compiled: Fixture.Compiled
    let names: ExposureNames
    private var input: EvaluationInput
    private var outcomes: [Outcome] = []

    init(
        spool: String? = nil, store: (any ObjectStore)? = nil, compiled: Fixture.Compiled? = nil,
        configure: (inout ExposureConfiguration) -> Void = { _ in }
    ) throws {
        self.spool = spool ?? Scratch.folder("spool")
        var configuration = ExposureConfiguration(spoolDirectory: self.spool, region: "eu-west", serverID: "edge-test-1")
        configuration.uploadInterval = .milliseconds(20)
        configuration.uploadMaxBackoff = .milliseconds(100)
        configure(&configuration)
        log = try ExposureLog(configuration: configuration, store: store, registry: registry, logger: EdgeFixtures.logger)
        self.compiled = try compiled ?? EdgeFixtures.compile()
        names = ExposureNames(contents: self.compiled.bundle.contents(expandingVariantBuckets: false))
        input = EvaluationInput(for: self.compiled.bundle)
    }

    func recorder() -> ExposureRecorder { log.makeRecorder(shard: registry.makeShard()) }

    /// Records one native request for `units` (and `attributes`) at `timestamp`; returns how many
    /// events it holds.
    @discardableResult
    func record(
        _ recorder: inout ExposureRecorder, units: [String: String], attributes: [String: Any] = [:], api: ExposureAPI = .native,
        timestamp: Int64 = 1_764_860_000_000
    ) throws -> Int {
        try evaluate(units: units, attributes: attributes, now: timestamp / 1000)
        recorder.begin(names, timestamp: timestamp)
        recorder.add(api, input: input, outcomes: outcomes)
        recorder.commit()
        return outcomes.filter { $0.reason.isEnrolled }.count
    }

    /// Evaluates one request into `input` and `outcomes`, as a route does.
    func evaluate(units: [String: String], attributes: [String: Any] = [:], now: Int64 = 1_764_860_000) throws {
        let body = try JSONSerialization.data(withJSONObject: ["units": units, "attributes": attributes])
        input.reset(for: compiled.bundle)
        try body.withUnsafeBytes { try input.setJSON($0, bundle: compiled.bundle) }
        compiled.bundle.evaluate(input, now: now, into: &outcomes)
    }

    /// Adds the last evaluation's decisions to `recorder`'s open transaction.
    func add(to recorder: inout ExposureRecorder, api: ExposureAPI) {
        recorder.add(api, input: input, outcomes: outcomes)
    }

    /// One writer cycle: drain, flush, rotate by age.
    func cycle() { log.writer.runOnce() }

    /// What the writer does at shutdown: drain, close every open segment.
    func closeAll() { log.writer.engine.run { true } }

    var readyFiles: [String] { files(under: spool + "/exposures") }
    var openFiles: [String] { files(under: spool + "/open") }

    func files(under root: String) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: root)
        var found: [String] = []
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue {
                found.append(path)
            }
        }
        return found.sorted()
    }

    func counter(_ name: String) -> Double {
        Self.sample(registry.render(), name)
    }

    /// The value of the sample `name` (with its labels, as rendered) in a Prometheus text page.
    static func sample(_ page: String, _ name: String) -> Double {
        for line in page.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1)) ?? .nan
        }
        return .nan
    }

    func remove() { Scratch.remove(spool) }
}

/// Decompresses a zstd file with the `zstd` program (an independent reader).
func zstdLines(_ path: String) async throws -> [String] {
    try await ChildProcess.run("/usr/bin/env", ["zstd", "-dcq", "--", path]).split(separator: "\n", omittingEmptySubsequences: false)
        .dropLast()
        .map(String.init)
}
