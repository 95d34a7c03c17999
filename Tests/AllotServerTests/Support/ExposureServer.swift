import AllotCore
import AllotExposures
import AllotHTTP
import AllotServer
import AllotStore
import AllotTestSupport
import Foundation
import ServiceLifecycle

/// An `EdgeServer` with the exposure log, run as `allot serve` runs it: every service in one
/// `ServiceGroup`, stopped by a graceful shutdown (HTTP first, then the poller, the writer, the
/// uploader). Serves the fixture bundle from a local store.
final class ExposureServer: @unchecked Sendable {
    let server: EdgeServer
    let compiled: Fixture.Compiled
    let folder: String
    private let group: ServiceGroup
    private var task: Task<Void, any Error>?

    var port: Int { server.port }
    var exposures: ExposureLog { server.exposures! }
    var spool: String { folder + "/spool" }

    init(
        folder: String? = nil, yaml: String = EdgeFixtures.project(), exposureStore: (any ObjectStore)?, threads: Int = 2,
        configure: (inout ExposureConfiguration) -> Void = { _ in }
    ) async throws {
        let folder = folder ?? Scratch.folder("exposure-server")
        self.folder = folder
        let storeRoot = folder + "/bundles"
        compiled = try EdgeFixtures.compile(yaml)
        if !FileManager.default.fileExists(atPath: storeRoot + "/manifest.json") {
            try FileManager.default.createDirectory(atPath: storeRoot, withIntermediateDirectories: true)
            try await EdgeFixtures.publish(compiled.envelope, to: [LocalStore(root: storeRoot)])
        }
        var configuration = EdgeConfiguration()
        configuration.http = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.http.threads = threads
        configuration.http.shutdownGracePeriod = .seconds(5)
        configuration.trustedKeys = [EdgeFixtures.key.publicKey]
        configuration.cacheDirectory = folder + "/cache"
        configuration.poller.interval = .milliseconds(100)
        var exposures = ExposureConfiguration(spoolDirectory: folder + "/spool", region: "eu-west", serverID: "edge-eu-1")
        exposures.segmentMaxAge = .milliseconds(300)
        exposures.uploadInterval = .milliseconds(50)
        exposures.uploadMaxBackoff = .milliseconds(300)
        exposures.shipGrace = .seconds(20)
        // The tests compare the shipped log with every answer, which holds when nothing is dropped:
        // the default writer (nice 19) yields, and drops, when a loaded test run saturates the CPU.
        exposures.writerNice = 0
        configure(&exposures)
        configuration.exposures = exposures
        server = try EdgeServer(
            configuration: configuration, stores: [LocalStore(root: storeRoot)], exposureStore: exposureStore, logger: EdgeFixtures.logger)
        group = ServiceGroup(configuration: ServiceGroupConfiguration(services: server.services, logger: EdgeFixtures.logger))
    }

    /// Runs every service and waits until a bundle is served.
    func start() async throws {
        let group = self.group
        task = Task { try await group.run() }
        let clock = ContinuousClock()
        // Generous: the limit only tells a broken start from a slow one on a busy two-core machine.
        let deadline = clock.now + .seconds(120)
        while !(server.http.isRunning && server.slot.current() != nil) {
            guard clock.now < deadline else { throw FixtureError(message: "the server did not start serving") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Graceful shutdown, as on SIGTERM; waits for every service to end.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task?.value
        task = nil
    }

    /// The value of a sample in `/metrics` as the server renders it.
    func metric(_ name: String) -> Double {
        exposures.updateGauges()
        var page: [UInt8] = []
        server.registry.render(into: &page)
        exposures.renderAssignments(into: &page)
        return LogHarness.sample(String(decoding: page, as: UTF8.self), name)
    }

    /// Failed uploads, for any reason.
    var uploadFailures: Double {
        (StoreError.Code.allCases.map(\.rawValue) + ["read_failed", "unconfirmed"]).reduce(0) {
            $0 + metric(#"allot_exposure_upload_failures_total{reason="\#($1)"}"#)
        }
    }

    /// Waits until `condition` holds (checking every 20 ms), up to `timeout`.
    func wait(_ what: String, timeout: Duration = .seconds(120), until condition: () -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !condition() {
            guard clock.now < deadline else { throw FixtureError(message: "timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func remove() { Scratch.remove(folder) }
}

/// The records a client can expect from the answers it received: one per assignment that enrolls
/// the unit (`split` or `override`), keyed `unit|experiment|variant|api`.
enum ExpectedExposures {
    /// The unit type of each fixture layer.
    static let layerUnit = ["checkout": "user_id", "promotions": "user_id", "rollouts": "user_id", "onboarding": "device_id"]

    /// From a native answer (`{"assignments":{…}}`) for `units`.
    static func from(answer: [String: Any], units: [String: String], api: String, defaults: Bool = false) -> [String] {
        let assignments = answer["assignments"] as? [String: [String: Any]] ?? [:]
        return assignments.compactMap { experiment, assignment in
            let reason = assignment["reason"] as? String ?? ""
            guard reason == "split" || reason == "override" || (defaults && reason != "not_enrolled") else { return nil }
            let unit = units[layerUnit[assignment["layer"] as? String ?? ""] ?? ""] ?? "?"
            return "\(unit)|\(experiment)|\(assignment["variant"] as? String ?? "null")|\(api)"
        }
    }
}
