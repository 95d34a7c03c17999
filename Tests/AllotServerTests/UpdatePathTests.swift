import AllotCore
import AllotStore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotServer

/// The update path against TUF's attack classes (issue 12): partial publishes, replayed stores,
/// lost caches, planted cache files and bundles refused for size.
@Suite("Update path", .serialized)
struct UpdatePathTests {
    func served(_ harness: EdgeHarness) -> UInt64? { harness.server.slot.current()?.version }

    /// Compiles `version`, publishes it to `stores`, and returns it.
    @discardableResult
    func publish(_ version: UInt64, to stores: [LocalStore]) async throws -> EdgeFixtures.Compiled {
        let bundle = try EdgeFixtures.compile(version: version)
        try await EdgeFixtures.publish(bundle.envelope, to: stores)
        return bundle
    }

    /// Writes a signed manifest (and its object) straight into a folder, as someone with write
    /// access to that one region could: no publisher checks.
    func replay(_ bundle: EdgeFixtures.Compiled, into root: String) throws {
        let manifest = try Manifest.describing(envelope: bundle.envelope, key: EdgeFixtures.key)
        try FileManager.default.createDirectory(atPath: root + "/bundles", withIntermediateDirectories: true)
        Scratch.write(bundle.envelope, to: root + "/" + manifest.object)
        Scratch.write(manifest.encoded(), to: root + "/" + StoreLayout.manifestKey)
    }

    @Test("a partial publish (v12 only in the fallback) is taken although the primary answers with v11; the lag is a gauge")
    func partialPublish() async throws {
        let primary = LocalStore(root: Scratch.folder("primary"))
        let fallback = LocalStore(root: Scratch.folder("fallback"))
        defer { [primary.root, fallback.root].forEach(Scratch.remove) }
        try await publish(11, to: [primary, fallback])
        let harness = try EdgeHarness(stores: [primary, fallback]) { $0.poller.fallbackInterval = .milliseconds(100) }
        defer { Scratch.remove(harness.cacheDirectory) }
        await harness.poller.pollOnce()
        #expect(served(harness) == 11)
        try await publish(12, to: [fallback])
        // While the primary answers, the fallbacks are polled once per fallback interval: every
        // second round here (100 ms / 50 ms). Counted in rounds, not wall time.
        await harness.poller.pollOnce()
        #expect(served(harness) == 11)
        await harness.poller.pollOnce()
        #expect(served(harness) == 12)
        #expect(harness.server.slot.current()?.source == fallback.location.description)
        #expect(harness.metrics.lag(store: primary.location.description) == 1)
        #expect(harness.metrics.lag(store: fallback.location.description) == 0)
        #expect(harness.metrics.registry.render().contains(#"allot_store_lag_versions{store="\#(primary.location)"} 1"#))
        await harness.stop()
    }

    @Test("a primary replaying an older manifest is counted, not obeyed, while a fallback holds the newer one")
    func replayedPrimary() async throws {
        let primary = LocalStore(root: Scratch.folder("primary"))
        let fallback = LocalStore(root: Scratch.folder("fallback"))
        defer { [primary.root, fallback.root].forEach(Scratch.remove) }
        let old = try await publish(11, to: [primary, fallback])
        try await publish(12, to: [primary, fallback])
        // A fresh server (empty cache): the primary now shows the old, validly signed v11.
        try replay(old, into: primary.root)
        let harness = try EdgeHarness(stores: [primary, fallback])
        defer { Scratch.remove(harness.cacheDirectory) }
        await harness.poller.pollOnce()
        #expect(served(harness) == 12)
        #expect(harness.metrics.lag(store: primary.location.description) == 1)
        await harness.stop()
    }

    @Test("after cache loss a replayed store cannot roll the server back: the floor in --state-dir holds, and --min-version")
    func floorSurvivesCacheLoss() async throws {
        let store = LocalStore(root: Scratch.folder("store"))
        let state = Scratch.folder("state")
        defer { [store.root, state].forEach(Scratch.remove) }
        let old = try await publish(11, to: [store])
        try await publish(12, to: [store])
        let first = try EdgeHarness(stores: [store]) { $0.stateDirectory = state }
        first.poller.loadCache()
        await first.poller.pollOnce()
        #expect(served(first) == 12)
        #expect(first.poller.floor == 12)
        await first.stop()
        Scratch.remove(first.cacheDirectory)

        // The store is rolled back to v11; a new server with an empty cache but the same state.
        try replay(old, into: store.root)
        let second = try EdgeHarness(stores: [store]) { $0.stateDirectory = state }
        defer { Scratch.remove(second.cacheDirectory) }
        #expect(second.poller.loadCache() == nil)
        #expect(await second.poller.pollOnce())
        #expect(served(second) == nil)
        #expect(second.metrics.verifyFailures(store: store.location.description, reason: .olderVersion) == 1)
        let metrics = second.metrics.registry.render()
        #expect(metrics.contains("allot_bundle_floor_version 12\n"))
        #expect(metrics.contains("allot_ready 0\n") || !metrics.contains("allot_ready 1"))
        await second.stop()

        // Without state, --min-version does the same.
        let third = try EdgeHarness(stores: [store]) { $0.poller.minVersion = 12 }
        defer { Scratch.remove(third.cacheDirectory) }
        third.poller.loadCache()
        await third.poller.pollOnce()
        #expect(served(third) == nil)
        await third.stop()
    }

    @Test(
        "the cache is indexed by the verified header: a valid older envelope planted under a newer or the current name is removed and counted"
    )
    func plantedCacheFiles() async throws {
        let store = LocalStore(root: Scratch.folder("store"))
        defer { Scratch.remove(store.root) }
        let old = try await publish(1, to: [store])
        try await publish(2, to: [store])
        let cache = Scratch.folder("cache")
        defer { Scratch.remove(cache) }
        let first = try EdgeHarness(stores: [store], cacheDirectory: cache)
        await first.poller.pollOnce()
        #expect(served(first) == 2)
        await first.stop()
        let current = try #require(try FileManager.default.contentsOfDirectory(atPath: cache).first { $0.hasSuffix(".bundle") })

        // A v99 name holding the valid v1 envelope: never trusted for its name.
        Scratch.write(old.envelope, to: cache + "/v99-0000000000000000.bundle")
        let second = try EdgeHarness(stores: [LocalStore(root: "/nonexistent/allot-store")], cacheDirectory: cache)
        #expect(second.poller.loadCache()?.version == 2)
        #expect(second.metrics.verifyFailures(store: "cache", reason: .misnamed) == 1)
        #expect(!FileManager.default.fileExists(atPath: cache + "/v99-0000000000000000.bundle"))
        await second.stop()

        // The v1 envelope under the current v2 file name: refused, removed, nothing older served.
        Scratch.write(old.envelope, to: cache + "/" + current)
        let third = try EdgeHarness(stores: [LocalStore(root: "/nonexistent/allot-store")], cacheDirectory: cache)
        #expect(third.poller.loadCache() == nil)
        #expect(third.metrics.verifyFailures(store: "cache", reason: .misnamed) == 1)
        #expect(!FileManager.default.fileExists(atPath: cache + "/" + current))
        await third.stop()
    }

    @Test("a bundle refused for size is not fetched again until the manifest changes, and nothing of it stays in the cache")
    func refusedForSizeNotRefetched() async throws {
        let store = LocalStore(root: Scratch.folder("store"))
        defer { Scratch.remove(store.root) }
        let big = try await publish(3, to: [store])
        let harness = try EdgeHarness(stores: [store]) {
            // A payload limit below this bundle's payload: refused for size, as a bomb would be.
            $0.limits = BundleLimits(maxPayloadBytes: big.bundle.header.payloadLength - 1)
        }
        defer { Scratch.remove(harness.cacheDirectory) }
        for _ in 0..<4 { await harness.poller.pollOnce() }
        #expect(served(harness) == nil)
        let label = store.location.description
        #expect(
            harness.metrics.verifyFailures(
                store: label, reason: RefusalReason(ManifestError(.bundleRejected, "", bundleError: BundleError(.tooLarge, "")))) == 1)
        #expect(harness.metrics.polls(store: label, .failed) == 1)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: harness.cacheDirectory))?.isEmpty ?? true)
        // A new manifest (another bundle) is fetched.
        try await publish(4, to: [store])
        await harness.poller.pollOnce()
        #expect(
            harness.metrics.verifyFailures(
                store: label, reason: RefusalReason(ManifestError(.bundleRejected, "", bundleError: BundleError(.tooLarge, "")))) == 2)
        await harness.stop()
    }

    @Test("an expired manifest is refused (counted), and --max-staleness fails readiness until a heartbeat refresh")
    func freshness() async throws {
        let store = LocalStore(root: Scratch.folder("store"))
        defer { Scratch.remove(store.root) }
        let label = store.location.description
        let now = EdgeFixtures.now
        let v1 = try EdgeFixtures.compile(version: 1)
        // Published four days ago with a three-day expiry: expired.
        let publisher = Publisher(stores: [store], key: EdgeFixtures.key, logger: EdgeFixtures.logger)
        _ = try await publisher.publish(envelope: v1.envelope, now: now - 4 * 86_400)
        let harness = try EdgeHarness(stores: [store]) { $0.poller.maxStaleness = .seconds(3600) }
        defer { Scratch.remove(harness.cacheDirectory) }
        try await harness.start(poll: false)
        await harness.poller.pollOnce()
        #expect(served(harness) == nil)
        #expect(harness.metrics.verifyFailures(store: label, reason: RefusalReason(ManifestError(.expired, ""))) == 1)

        // A v2 signed two hours ago, valid for three days: served, but older than --max-staleness.
        let v2 = try EdgeFixtures.compile(version: 2)
        _ = try await publisher.publish(envelope: v2.envelope, now: now - 7200)
        await harness.poller.pollOnce()
        #expect(served(harness) == 2)
        let port = harness.port
        let stale = try await onThread { try HTTPConnection.get(port: port, "/readyz") }
        #expect(stale.status == 503)
        #expect(stale.text.contains("stale"))
        let metrics = try await onThread { try HTTPConnection.get(port: port, "/metrics").text }
        #expect(metrics.contains("allot_bundle_stale 1\n"))
        #expect(metrics.contains("allot_bundle_published_timestamp_seconds \(now - 7200)\n"), "\(metrics)")

        // The heartbeat re-signs the same bundle: fresh again, publish time kept.
        let refreshed = await publisher.refresh()
        #expect(refreshed.succeeded, "\(refreshed.text)")
        await harness.poller.pollOnce()
        let ready = try await onThread { try HTTPConnection.get(port: port, "/readyz") }
        #expect(ready.status == 200, "\(ready.text)")
        #expect(served(harness) == 2)
        let after = try await onThread { try HTTPConnection.get(port: port, "/metrics").text }
        #expect(after.contains("allot_bundle_published_timestamp_seconds \(now - 7200)\n"))
        #expect(after.contains("allot_bundle_stale 0\n"))
        await harness.stop()
    }
}
