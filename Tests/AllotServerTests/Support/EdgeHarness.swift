import AllotCore
import AllotHTTP
import AllotServer
import AllotStore
import AllotTestSupport
import Foundation
import Logging

/// An `EdgeServer` running in this process on a kernel-chosen loopback port, with its poller and
/// HTTP server as tasks, for the duration of a test.
final class EdgeHarness: @unchecked Sendable {
    let server: EdgeServer
    let cacheDirectory: String
    private var httpTask: Task<Void, any Error>?
    private var pollerTask: Task<Void, any Error>?

    var port: Int { server.port }
    var poller: BundlePoller { server.poller }
    var metrics: BundleMetrics { server.bundleMetrics }

    /// Makes the server. `poll: false` leaves polling to the test (`pollOnce()`), for determinism.
    init(
        stores: [any ObjectStore], cacheDirectory: String? = nil, threads: Int = 2,
        configure: (inout EdgeConfiguration) -> Void = { _ in }
    ) throws {
        var configuration = EdgeConfiguration()
        configuration.http = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.http.threads = threads
        configuration.trustedKeys = [EdgeFixtures.key.publicKey]
        self.cacheDirectory = cacheDirectory ?? Scratch.folder("cache")
        configuration.cacheDirectory = self.cacheDirectory
        configuration.poller.interval = .milliseconds(50)
        configuration.poller.maxBackoff = .milliseconds(200)
        configure(&configuration)
        server = try EdgeServer(configuration: configuration, stores: stores, logger: EdgeFixtures.logger)
    }

    /// Starts the HTTP server (and, with `poll`, the poller service) and waits until it serves.
    func start(poll: Bool) async throws {
        httpTask = try await startRunning(server.http)
        if poll {
            let poller = server.poller
            pollerTask = Task { try await poller.run() }
        }
    }

    /// Stops both and waits for them.
    func stop() async {
        pollerTask?.cancel()
        server.http.shutdown()
        _ = try? await pollerTask?.value
        _ = try? await httpTask?.value
    }

    /// Waits until the server serves `version` (polling itself when its poller does not run).
    func waitForVersion(_ version: UInt64, polling: Bool = false, timeout: Duration = .seconds(30)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while server.slot.current()?.version != version {
            guard clock.now < deadline else {
                throw FixtureError(
                    message: "the server still serves \(server.slot.current().map { String($0.version) } ?? "nothing"), not \(version)")
            }
            if polling { await server.poller.pollOnce() }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
