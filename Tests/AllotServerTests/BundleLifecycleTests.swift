import AllotCore
import AllotStore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotServer

/// The poller and the cache: start from the cache with every store down, fallback stores, and
/// every kind of bad manifest or bundle refused while the old bundle keeps serving.
@Suite("Bundle lifecycle", .serialized)
struct BundleLifecycleTests {
    /// A store folder with `versions` published in order.
    func store(_ versions: [UInt64], traffic: Int = 100) async throws -> (root: String, compiled: [UInt64: EdgeFixtures.Compiled]) {
        let root = Scratch.folder("store")
        var compiled: [UInt64: EdgeFixtures.Compiled] = [:]
        for version in versions {
            let bundle = try EdgeFixtures.compile(EdgeFixtures.project(traffic: traffic), version: version)
            try await EdgeFixtures.publish(bundle.envelope, to: [LocalStore(root: root)])
            compiled[version] = bundle
        }
        return (root, compiled)
    }

    /// A store URL nothing answers at.
    let unreachable = LocalStore(root: "/nonexistent/allot-\(UUID().uuidString)")

    func served(_ harness: EdgeHarness) -> UInt64? { harness.server.slot.current()?.version }

    @Test("a restart with every store unreachable serves the cached bundle at once, verified again")
    func restartFromCache() async throws {
        let (root, _) = try await store([1, 2])
        defer { Scratch.remove(root) }
        let first = try EdgeHarness(stores: [LocalStore(root: root)])
        defer { Scratch.remove(first.cacheDirectory) }
        #expect(first.poller.loadCache() == nil)
        #expect(first.metrics.registry.render().contains(#"allot_bundle_cache_loads_total{result="empty"} 1"#))
        await first.poller.pollOnce()
        #expect(served(first) == 2)
        let files = try FileManager.default.contentsOfDirectory(atPath: first.cacheDirectory).sorted()
        #expect(files.count == 2)
        #expect(files.allSatisfy { $0.hasPrefix("v2-") })
        await first.stop()

        let second = try EdgeHarness(stores: [unreachable, LocalStore(root: "/nonexistent/other")], cacheDirectory: first.cacheDirectory)
        let restored = second.poller.loadCache()
        #expect(restored?.version == 2)
        #expect(restored?.source == "cache")
        try await second.start(poll: false)
        let port = second.port
        let (ready, info) = try await onThread {
            (try HTTPConnection.get(port: port, "/readyz"), try HTTPConnection.get(port: port, "/v1/bundle"))
        }
        #expect(ready.status == 200)
        #expect(info.json["source"] as? String == "cache")
        #expect(await second.poller.pollOnce() == false)
        #expect(served(second) == 2)
        let metrics = second.metrics.registry.render()
        #expect(metrics.contains(#"allot_bundle_cache_loads_total{result="loaded"} 1"#))
        #expect(metrics.contains(#"allot_bundle_fetch_failures_total{store="\#(unreachable.location)",reason="unreachable"} 1"#))
        #expect(metrics.contains(#"result="failed"} 1"#))
        await second.stop()
    }

    @Test("a damaged cached payload is decompressed again; a damaged or untrusted cached envelope is refused and deleted")
    func damagedCache() async throws {
        let (root, _) = try await store([4])
        defer { Scratch.remove(root) }
        let cache = Scratch.folder("cache")
        defer { Scratch.remove(cache) }
        let first = try EdgeHarness(stores: [LocalStore(root: root)], cacheDirectory: cache)
        await first.poller.pollOnce()
        await first.stop()
        let files = try FileManager.default.contentsOfDirectory(atPath: cache)
        let payload = cache + "/" + files.first { $0.hasSuffix(".payload") }!
        let envelope = cache + "/" + files.first { $0.hasSuffix(".bundle") }!

        // Payload: one byte flipped. The signed header's hash catches it; the envelope is intact.
        var bytes = try #require(Scratch.read(payload))
        bytes[bytes.count / 2] ^= 0xFF
        Scratch.write(bytes, to: payload)
        let second = try EdgeHarness(stores: [unreachable], cacheDirectory: cache)
        #expect(second.poller.loadCache()?.version == 4)
        #expect(Scratch.read(payload) != bytes)
        await second.stop()

        // The same envelope, but the server no longer trusts its key: refused.
        let untrusting = try EdgeHarness(stores: [unreachable], cacheDirectory: cache) {
            $0.trustedKeys = [EdgeFixtures.strangerKey.publicKey]
        }
        #expect(untrusting.poller.loadCache() == nil)
        #expect(untrusting.metrics.verifyFailures(store: "cache", reason: RefusalReason(.untrustedKey)) == 1)
        #expect(!FileManager.default.fileExists(atPath: envelope))
        #expect(untrusting.metrics.registry.render().contains(#"allot_bundle_cache_loads_total{result="failed"} 1"#))
        await untrusting.stop()

        // Envelope: one byte of the frame flipped: the signature no longer verifies.
        let third = try EdgeHarness(stores: [LocalStore(root: root)], cacheDirectory: cache)
        await third.poller.pollOnce()
        await third.stop()
        var envelopeBytes = try #require(Scratch.read(envelope))
        envelopeBytes[100] ^= 0x01
        Scratch.write(envelopeBytes, to: envelope)
        let fourth = try EdgeHarness(stores: [unreachable], cacheDirectory: cache)
        #expect(fourth.poller.loadCache() == nil)
        #expect(fourth.metrics.verifyFailures(store: "cache", reason: RefusalReason(.badSignature)) == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache).isEmpty)
        await fourth.stop()
    }

    @Test("the fallback store serves when the primary is unreachable or holds a bad bundle")
    func fallback() async throws {
        let (good, _) = try await store([3])
        defer { Scratch.remove(good) }
        let harness = try EdgeHarness(stores: [unreachable, LocalStore(root: good)])
        defer { Scratch.remove(harness.cacheDirectory) }
        #expect(await harness.poller.pollOnce())
        #expect(served(harness) == 3)
        #expect(harness.server.slot.current()?.source == good)
        #expect(harness.metrics.polls(store: unreachable.location.description, .failed) == 1)
        #expect(harness.metrics.polls(store: good, .updated) == 1)
        await harness.stop()

        // The primary answers, with a bundle whose bytes were altered: the fallback's is used.
        let (bad, compiled) = try await store([5])
        defer { Scratch.remove(bad) }
        let manifest = try Manifest.describing(envelope: compiled[5]!.envelope, key: EdgeFixtures.key)
        var altered = compiled[5]!.envelope
        altered[altered.count - 1] ^= 0x01
        Scratch.write(altered, to: bad + "/" + manifest.object)
        let (goodFive, _) = try await store([5])
        defer { Scratch.remove(goodFive) }
        let second = try EdgeHarness(stores: [LocalStore(root: bad), LocalStore(root: goodFive)])
        defer { Scratch.remove(second.cacheDirectory) }
        #expect(await second.poller.pollOnce())
        #expect(served(second) == 5)
        #expect(second.server.slot.current()?.source == goodFive)
        #expect(second.metrics.verifyFailures(store: bad, reason: RefusalReason(.hashMismatch)) == 1)
        await second.stop()
    }

    /// Serves v1 from a store, runs `plant` on the store folder, polls, and returns the harness.
    func afterPlanting(
        _ plant: (_ root: String, _ served: EdgeFixtures.Compiled) async throws -> Void
    ) async throws -> (EdgeHarness, String) {
        let (root, compiled) = try await store([10])
        let harness = try EdgeHarness(stores: [LocalStore(root: root)])
        try await harness.start(poll: false)
        await harness.poller.pollOnce()
        #expect(served(harness) == 10)
        try await plant(root, compiled[10]!)
        await harness.poller.pollOnce()
        return (harness, root)
    }

    /// Writes an envelope and a manifest for it into a store folder directly, bypassing the
    /// publisher's checks, as an attacker with write access (or a broken tool) could.
    func plant(_ envelope: [UInt8], manifest: Manifest, in root: String) throws {
        try FileManager.default.createDirectory(atPath: root + "/bundles", withIntermediateDirectories: true)
        Scratch.write(envelope, to: root + "/" + manifest.object)
        Scratch.write(manifest.encoded(), to: root + "/manifest.json")
    }

    @Test(
        "tampered, wrongly signed, older, conflicting and malformed bundles are refused; the old one keeps serving",
        arguments: [
            "tampered bundle", "manifest by an untrusted key", "bundle by an untrusted key", "older version", "same version, other bundle",
            "malformed payload", "garbage manifest", "manifest pointing nowhere",
        ])
    func refusals(_ scenario: String) async throws {
        let (harness, root) = try await afterPlanting { root, served in
            switch scenario {
            case "tampered bundle":
                let next = try EdgeFixtures.compile(version: 11)
                try await EdgeFixtures.publish(next.envelope, to: [LocalStore(root: root)])
                let object = root + "/" + (try Manifest.describing(envelope: next.envelope, key: EdgeFixtures.key)).object
                var bytes = next.envelope
                bytes[BundleHeader.length + 10] ^= 0x40
                Scratch.write(bytes, to: object)
            case "manifest by an untrusted key":
                let next = try EdgeFixtures.compile(version: 11, key: EdgeFixtures.strangerKey)
                try plant(
                    next.envelope, manifest: try Manifest.describing(envelope: next.envelope, key: EdgeFixtures.strangerKey), in: root)
            case "bundle by an untrusted key":
                let next = try EdgeFixtures.compile(version: 11, key: EdgeFixtures.strangerKey)
                let digest = Blake2b.hash256(next.envelope)
                let manifest = Manifest.sign(
                    version: 11, object: StoreLayout.bundleKey(blake2b: digest), size: next.envelope.count, blake2b: digest,
                    createdAt: 1_764_000_000, key: EdgeFixtures.key)
                try plant(next.envelope, manifest: manifest, in: root)
            case "older version":
                let older = try EdgeFixtures.compile(version: 9)
                try plant(older.envelope, manifest: try Manifest.describing(envelope: older.envelope, key: EdgeFixtures.key), in: root)
            case "same version, other bundle":
                let other = try EdgeFixtures.compile(EdgeFixtures.project(traffic: 30), version: 10)
                try plant(other.envelope, manifest: try Manifest.describing(envelope: other.envelope, key: EdgeFixtures.key), in: root)
            case "malformed payload":
                // Correctly signed by the trusted key, but the payload is not a bundle payload.
                let envelope = try BundleEnvelope.seal(
                    payload: Array(repeating: 7, count: 4096), version: 11, createdAt: 1_764_000_000, key: EdgeFixtures.key)
                try await EdgeFixtures.publish(envelope, to: [LocalStore(root: root)])
            case "garbage manifest":
                Scratch.write(Array("{\"format\": \"allot-manifest/1\", \"version\": ".utf8), to: root + "/manifest.json")
            case "manifest pointing nowhere":
                let next = try EdgeFixtures.compile(version: 11)
                let manifest = try Manifest.describing(envelope: next.envelope, key: EdgeFixtures.key)
                Scratch.write(manifest.encoded(), to: root + "/manifest.json")
            default:
                Issue.record("unknown scenario \(scenario)")
            }
            _ = served
        }
        defer {
            Scratch.remove(root)
            Scratch.remove(harness.cacheDirectory)
        }
        #expect(served(harness) == 10)
        let port = harness.port
        let answer = try await onThread { try HTTPConnection.get(port: port, "/v1/assign?user_id=qa-user") }
        #expect(answer.status == 200)
        #expect(answer.json["version"] as? Int == 10)
        let reasons: [String: (metric: String, label: String)] = [
            "tampered bundle": ("allot_bundle_verify_failures_total", "hash_mismatch"),
            "manifest by an untrusted key": ("allot_bundle_verify_failures_total", "untrusted_key"),
            "bundle by an untrusted key": ("allot_bundle_verify_failures_total", "bundle_rejected_untrusted_key"),
            "older version": ("allot_bundle_verify_failures_total", "older_version"),
            "same version, other bundle": ("allot_bundle_verify_failures_total", "version_conflict"),
            "malformed payload": ("allot_bundle_verify_failures_total", "malformed_payload"),
            "garbage manifest": ("allot_bundle_verify_failures_total", "malformed"),
            "manifest pointing nowhere": ("allot_bundle_fetch_failures_total", "not_found"),
        ]
        let (metric, label) = reasons[scenario]!
        let metrics = try await onThread { try HTTPConnection.get(port: port, "/metrics").text }
        #expect(metrics.contains(#"\#(metric){store="\#(root)",reason="\#(label)"} 1"#), "\(metrics)")
        #expect(metrics.contains("allot_bundle_version 10\n"))
        // Refusing an older or conflicting manifest remembers its ETag: the next poll is a 304.
        if scenario == "older version" || scenario == "same version, other bundle" {
            await harness.poller.pollOnce()
            #expect(harness.metrics.polls(store: root, .notModified) == 1)
            #expect(harness.metrics.polls(store: root, scenario == "older version" ? .refusedOlder : .refusedConflict) == 1)
        }
        // Once the store holds a good newer bundle again, it is taken.
        let good = try EdgeFixtures.compile(version: 12)
        if scenario == "garbage manifest" {
            // The publisher will not move a manifest it cannot read: put the good one in place.
            try plant(good.envelope, manifest: try Manifest.describing(envelope: good.envelope, key: EdgeFixtures.key), in: root)
        } else {
            try await EdgeFixtures.publish(good.envelope, to: [LocalStore(root: root)])
        }
        await harness.poller.pollOnce()
        #expect(served(harness) == 12)
        await harness.stop()
    }

    @Test("the replaced bundle is released (unmapped) once no request holds it; the cache keeps only the served pair")
    func oldBundleReleased() async throws {
        let (root, _) = try await store([1])
        defer { Scratch.remove(root) }
        let harness = try EdgeHarness(stores: [LocalStore(root: root)])
        defer { Scratch.remove(harness.cacheDirectory) }
        try await harness.start(poll: false)
        await harness.poller.pollOnce()
        weak let old = harness.server.slot.current()
        weak let oldBundle = harness.server.slot.current()?.bundle
        #expect(old != nil)
        let port = harness.port
        _ = try await onThread { try HTTPConnection.get(port: port, "/v1/assign?user_id=u1") }
        let next = try EdgeFixtures.compile(version: 2)
        try await EdgeFixtures.publish(next.envelope, to: [LocalStore(root: root)])
        await harness.poller.pollOnce()
        #expect(served(harness) == 2)
        #expect(old == nil)
        #expect(oldBundle == nil)
        let files = try FileManager.default.contentsOfDirectory(atPath: harness.cacheDirectory)
        #expect(files.count == 2 && files.allSatisfy { $0.hasPrefix("v2-") })
        await harness.stop()
    }

    @Test("when the cache cannot be written the bundle is served from memory, and the failure is counted")
    func unwritableCache() async throws {
        let (root, _) = try await store([6])
        defer { Scratch.remove(root) }
        let file = NSTemporaryDirectory() + "allot-not-a-folder-\(UUID().uuidString)"
        Scratch.write([1], to: file)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let harness = try EdgeHarness(stores: [LocalStore(root: root)], cacheDirectory: file + "/cache")
        #expect(await harness.poller.pollOnce())
        #expect(served(harness) == 6)
        #expect(harness.metrics.verifyFailures(store: "cache", reason: .cacheWriteFailed) == 1)
        await harness.stop()
    }

    @Test(
        "the wait between polls: the interval, doubling after failed rounds up to the cap, jittered",
        arguments: [
            (0, 0.5, 10.0), (0, 0.0, 8.0), (0, 1.0, 12.0), (1, 0.5, 20.0), (2, 0.5, 40.0), (5, 0.5, 300.0), (40, 0.5, 300.0),
            (40, 1.0, 360.0),
        ])
    func backoff(failures: Int, unit: Double, seconds: Double) {
        var configuration = BundlePoller.Configuration()
        configuration.interval = .seconds(10)
        configuration.maxBackoff = .seconds(300)
        configuration.jitter = 0.2
        #expect(BundlePoller.delay(failures: failures, configuration: configuration, unit: unit) == .milliseconds(Int64(seconds * 1000)))
    }

    @Test("a server with nothing to serve keeps polling at the interval; once serving, failed rounds back off")
    func noBackoffBeforeFirstBundle() async throws {
        let (root, _) = try await store([1])
        defer { Scratch.remove(root) }
        let harness = try EdgeHarness(stores: [unreachable]) {
            $0.poller.interval = .seconds(10)
            $0.poller.maxBackoff = .seconds(300)
        }
        defer { Scratch.remove(harness.cacheDirectory) }
        #expect(await harness.poller.pollOnce() == false)
        #expect(harness.poller.nextDelay(afterSuccess: false, unit: 0.5) == .seconds(10))
        #expect(harness.poller.nextDelay(afterSuccess: false, unit: 0.5) == .seconds(10))
        // Serving (from another harness's cache): the same failures now back off.
        let seeded = try EdgeHarness(stores: [LocalStore(root: root)], cacheDirectory: harness.cacheDirectory)
        await seeded.poller.pollOnce()
        await seeded.stop()
        let serving = try EdgeHarness(stores: [unreachable], cacheDirectory: harness.cacheDirectory) {
            $0.poller.interval = .seconds(10)
            $0.poller.maxBackoff = .seconds(300)
        }
        #expect(serving.poller.loadCache()?.version == 1)
        #expect(serving.poller.nextDelay(afterSuccess: false, unit: 0.5) == .seconds(20))
        #expect(serving.poller.nextDelay(afterSuccess: false, unit: 0.5) == .seconds(40))
        #expect(serving.poller.nextDelay(afterSuccess: true, unit: 0.5) == .seconds(10))
        await serving.stop()
        await harness.stop()
    }
}
