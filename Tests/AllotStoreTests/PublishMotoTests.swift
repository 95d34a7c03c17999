import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotStore

/// The publish protocol against three real S3-compatible server processes, with failures injected.
@Suite("Publish to three moto regions", .enabled(if: Moto.available, Moto.skipReason), .serialized)
struct PublishMotoTests {
    let key = SigningKey.generate()

    func publisher(_ stores: [any ObjectStore], key: SigningKey? = nil, options: Publisher.Options = .init()) -> Publisher {
        Publisher(stores: stores, key: key ?? self.key, options: options, logger: Fixtures.logger)
    }

    func status(_ stores: [any ObjectStore]) async -> StatusReport {
        await StatusChecker(stores: stores, trustedKeys: [key.publicKey], logger: Fixtures.logger).check(now: 1_764_000_600)
    }

    func manifestBytes(_ regions: Regions, _ index: Int) async throws -> [UInt8]? {
        try await regions.bucketStore(index).getIfPresent("prod/manifest.json")?.bytes
    }

    @Test("publish to three regions: objects and manifests byte for byte, verified by the region client")
    func threeRegions() async throws {
        let regions = try await Regions.start(3)
        defer { regions.stop() }
        let v1 = Fixtures.bundle(version: 1, key: key)
        let manifest = try Manifest.describing(envelope: v1, key: key)
        let started = ContinuousClock.now
        let report = try await publisher(try regions.stores).publish(envelope: v1)
        let elapsed = ContinuousClock.now - started
        #expect(report.exitCode == 0, "\(report.text)")
        #expect(report.regions.allSatisfy { $0.object == .uploaded && $0.manifest == .created })
        print("publishing to 3 regions took \(elapsed)")  // a measurement, not a test: see docs/storage.md
        for index in 0..<3 {
            let bucket = try regions.bucketStore(index)
            #expect(try await bucket.get("prod/\(manifest.object)").bytes == v1)
            #expect(Fixtures.names(try await bucket.get("prod/manifest.json").bytes, manifest, key: key))
            #expect(try await bucket.list(prefix: "").map(\.key) == ["prod/\(manifest.object)", "prod/manifest.json"])

            let client = RegionClient(
                store: try regions.store(index), verifier: ManifestVerifier(trustedKeys: [key.publicKey]), logger: Fixtures.logger)
            guard case .manifest(let fetched, let etag) = try await client.fetchManifest() else {
                Issue.record("no manifest in region \(index)")
                continue
            }
            #expect(fetched.describesSameBundle(as: manifest) && fetched.freshness != nil)
            let bundle = try await client.fetchBundle(fetched)
            #expect(bundle.bytes == v1)
            #expect(bundle.header.version == 1)
            #expect(try await client.fetchManifest(ifNoneMatch: etag) == .notModified)
        }
        let status = await status(try regions.stores)
        #expect(status.exitCode == 0, "\(status.text)")
        #expect(status.agree)
        #expect(
            status.regions.allSatisfy { $0.version == 1 && $0.signature == "verified" && $0.objectPresent == true && $0.ageSeconds == 600 })

        // The next version moves all three; the old object stays.
        let v2 = Fixtures.bundle(version: 2, key: key)
        let second = try await publisher(try regions.stores).publish(envelope: v2)
        #expect(second.regions.allSatisfy { $0.manifest == .moved && $0.previousVersion == 1 })
        for index in 0..<3 {
            #expect(Fixtures.names(try await manifestBytes(regions, index), try Manifest.describing(envelope: v2, key: key), key: key))
            #expect(try await regions.bucketStore(index).head("prod/\(manifest.object)")?.size == v1.count)
        }
    }

    @Test("rerunning a publish is idempotent: nothing is rewritten")
    func rerun() async throws {
        let regions = try await Regions.start(3)
        defer { regions.stop() }
        let v1 = Fixtures.bundle(version: 1, key: key)
        _ = try await publisher(try regions.stores).publish(envelope: v1)
        var tags: [ETag?] = []
        for index in 0..<3 { tags.append(try await regions.bucketStore(index).head("prod/manifest.json")?.etag) }
        let again = try await publisher(try regions.stores).publish(envelope: v1)
        #expect(again.exitCode == 0)
        #expect(again.regions.allSatisfy { $0.object == .alreadyPresent && $0.manifest == .alreadyCurrent })
        for index in 0..<3 { #expect(try await regions.bucketStore(index).head("prod/manifest.json")?.etag == tags[index]) }
    }

    @Test("a region already at a newer version refuses, untouched; the others move")
    func newerVersion() async throws {
        let regions = try await Regions.start(3)
        defer { regions.stop() }
        _ = try await publisher(try regions.stores).publish(envelope: Fixtures.bundle(version: 1, key: key))
        _ = try await publisher([try regions.store(1)]).publish(envelope: Fixtures.bundle(version: 9, key: key))
        let before = try await manifestBytes(regions, 1)
        let v2 = Fixtures.bundle(version: 2, key: key)
        let report = try await publisher(try regions.stores).publish(envelope: v2)
        #expect(report.exitCode == 3)
        #expect(report.regions.map(\.manifest) == [.moved, .refused, .moved])
        #expect(report.regions[1].previousVersion == 9)
        #expect(try await manifestBytes(regions, 1) == before)
        let object = try Manifest.describing(envelope: v2, key: key).object
        #expect(try await regions.bucketStore(1).head("prod/\(object)") == nil)
        let status = await status(try regions.stores)
        #expect(status.exitCode == 3)
        #expect(!status.agree)
        #expect(status.newestVersion == 9)
        #expect(status.text.contains("DISAGREE"))
    }

    @Test("one region down: the others move, it is reported, status says unreachable, a rerun finishes the rest")
    func regionDown() async throws {
        let regions = try await Regions.start(3)
        defer { regions.stop() }
        _ = try await publisher(try regions.stores).publish(envelope: Fixtures.bundle(version: 1, key: key))
        regions.servers[2].kill()
        let v2 = Fixtures.bundle(version: 2, key: key)
        let report = try await publisher(try regions.stores).publish(envelope: v2)
        #expect(report.exitCode == 2)
        #expect(report.regions[0].manifest == .moved)
        #expect(report.regions[1].manifest == .moved)
        #expect(report.regions[2].manifest == .failed)
        #expect(report.regions[2].errorCode == "unreachable")
        #expect(report.regions[2].reason?.contains("cannot connect") == true)
        #expect(report.text.contains("FAILED"))
        let status = await status(try regions.stores)
        #expect(status.exitCode == 4)
        #expect(status.regions[2].state == .unreachable)
        #expect(status.regions[0].version == 2)
        // Rerun on the regions that are up: nothing left to do.
        let rerun = try await publisher([try regions.store(0), try regions.store(1)]).publish(envelope: v2)
        #expect(rerun.regions.allSatisfy { $0.manifest == .alreadyCurrent })
    }

    @Test("all-or-nothing: with one region down, no manifest moves anywhere")
    func allOrNothingRegionDown() async throws {
        let regions = try await Regions.start(3)
        defer { regions.stop() }
        _ = try await publisher(try regions.stores).publish(envelope: Fixtures.bundle(version: 1, key: key))
        var before: [[UInt8]?] = []
        for index in 0..<2 { before.append(try await manifestBytes(regions, index)) }
        regions.servers[2].kill()
        let report = try await publisher(try regions.stores, options: .init(requireAllRegions: true))
            .publish(envelope: Fixtures.bundle(version: 2, key: key))
        #expect(report.exitCode == 2)
        #expect(report.regions.allSatisfy { !$0.succeeded })
        for index in 0..<2 { #expect(try await manifestBytes(regions, index) == before[index]) }
    }

    @Test("a region answering 500s fails after bounded retries; the others move")
    func serverErrors() async throws {
        let regions = try await Regions.start(3)
        defer { regions.stop() }
        _ = try await publisher(try regions.stores).publish(envelope: Fixtures.bundle(version: 1, key: key))
        let before = try await manifestBytes(regions, 2)
        let proxy = try await FaultProxy.start(.alwaysFail)
        defer { proxy.child.kill() }
        let stores = [try regions.store(0), try regions.store(1), try regions.store(2, port: proxy.child.port)]
        let report = try await publisher(stores).publish(envelope: Fixtures.bundle(version: 2, key: key))
        #expect(report.exitCode == 2)
        #expect(report.regions[0].manifest == .moved && report.regions[1].manifest == .moved)
        #expect(report.regions[2].manifest == .failed)
        #expect(report.regions[2].errorCode == "server_error")
        #expect(report.regions[2].reason?.contains("500") == true)
        // The manifest read was tried exactly maxAttempts times, then the region given up.
        #expect(try await proxy.stats().requests == Regions.configuration.retry.maxAttempts)
        #expect(try await manifestBytes(regions, 2) == before)
    }

    @Test("a region failing its first requests recovers through retries")
    func transientErrors() async throws {
        let regions = try await Regions.start(1)
        defer { regions.stop() }
        let proxy = try await FaultProxy.start(.failFirst(2), upstream: regions.servers[0].port)
        defer { proxy.child.kill() }
        let v1 = Fixtures.bundle(version: 1, key: key)
        let report = try await publisher([try regions.store(0, port: proxy.child.port)]).publish(envelope: v1)
        #expect(report.exitCode == 0, "\(report.text)")
        #expect(try await proxy.stats().failed == 2)
        #expect(Fixtures.names(try await manifestBytes(regions, 0), try Manifest.describing(envelope: v1, key: key), key: key))
    }

    @Test("two publishers of one version race: exactly one wins each region, nothing is broken")
    func raceSameVersion() async throws {
        let regions = try await Regions.start(3)
        defer { regions.stop() }
        let a = Fixtures.bundle(version: 7, key: key, payload: "A")
        let b = Fixtures.bundle(version: 7, key: key, payload: "B")
        async let first = publisher(try regions.stores).publish(envelope: a)
        async let second = publisher(try regions.stores).publish(envelope: b)
        let reports = try await [first, second]
        await PublishLocalTests.checkOneWinnerPerRegion(reports, envelopes: [a, b], key: key) { index in
            (try? await manifestBytes(regions, index)) ?? []
        }
        try await checkEveryRegionServes(regions)
    }

    @Test("two publishers of different versions race: the newer always ends current, the older never breaks it")
    func raceNewer() async throws {
        let regions = try await Regions.start(3)
        defer { regions.stop() }
        _ = try await publisher(try regions.stores).publish(envelope: Fixtures.bundle(version: 1, key: key))
        let v2 = Fixtures.bundle(version: 2, key: key)
        let v3 = Fixtures.bundle(version: 3, key: key)
        async let older = publisher(try regions.stores).publish(envelope: v2)
        async let newer = publisher(try regions.stores).publish(envelope: v3)
        let (olderReport, newerReport) = try await (older, newer)
        #expect(newerReport.succeeded, "\(newerReport.text)")
        #expect(olderReport.regions.allSatisfy { $0.manifest == .moved || $0.manifest == .refused }, "\(olderReport.text)")
        for index in 0..<3 {
            #expect(Fixtures.names(try await manifestBytes(regions, index), try Manifest.describing(envelope: v3, key: key), key: key))
        }
        try await checkEveryRegionServes(regions)
    }

    @Test("a tampered manifest is rejected by the region client and status, never used for ordering by publish, and repaired")
    func tamperedManifest() async throws {
        let regions = try await Regions.start(1)
        defer { regions.stop() }
        _ = try await publisher([try regions.store(0)]).publish(envelope: Fixtures.bundle(version: 1, key: key))
        let original = try await manifestBytes(regions, 0)!
        let tampered = Array(
            String(decoding: original, as: UTF8.self).replacingOccurrences(of: "\"version\": 1,", with: "\"version\": 99,").utf8)
        #expect(tampered != original)
        _ = try await regions.bucketStore(0).put("prod/manifest.json", bytes: tampered, condition: .none)

        let client = RegionClient(
            store: try regions.store(0), verifier: ManifestVerifier(trustedKeys: [key.publicKey]), logger: Fixtures.logger)
        await #expect { _ = try await client.fetchManifest() } throws: { ($0 as? FetchError)?.code == "manifest_bad_signature" }
        let status = await status([try regions.store(0)])
        #expect(status.regions[0].state == .invalid)
        #expect(status.exitCode == 4)
        // Its claimed version 99 does not hold version 2 back: the region is repaired, loudly.
        let v2 = Fixtures.bundle(version: 2, key: key)
        let report = try await publisher([try regions.store(0)]).publish(envelope: v2)
        #expect(report.regions[0].manifest == .repaired, "\(report.text)")
        #expect(report.regions[0].reason?.contains("bad_signature") == true)
        #expect(Fixtures.names(try await manifestBytes(regions, 0), try Manifest.describing(envelope: v2, key: key), key: key))
    }

    @Test("a manifest signed by an untrusted key is rejected by the region client")
    func foreignManifest() async throws {
        let regions = try await Regions.start(1)
        defer { regions.stop() }
        let intruder = SigningKey.generate()
        let theirs = Fixtures.bundle(version: 50, key: intruder)
        _ = try await publisher([try regions.store(0)], key: intruder).publish(envelope: theirs)
        let client = RegionClient(
            store: try regions.store(0), verifier: ManifestVerifier(trustedKeys: [key.publicKey]), logger: Fixtures.logger)
        await #expect { _ = try await client.fetchManifest() } throws: { ($0 as? FetchError)?.code == "manifest_untrusted_key" }
        // Status with our key calls the region invalid.
        #expect(await status([try regions.store(0)]).regions[0].state == .invalid)
    }

    /// Every region's manifest verifies and its object matches: no broken state.
    func checkEveryRegionServes(_ regions: Regions) async throws {
        for index in regions.servers.indices {
            let client = RegionClient(
                store: try regions.store(index), verifier: ManifestVerifier(trustedKeys: [key.publicKey]), logger: Fixtures.logger)
            guard case .manifest(let manifest, _) = try await client.fetchManifest() else {
                Issue.record("region \(index) has no manifest")
                continue
            }
            _ = try await client.fetchBundle(manifest)
        }
    }
}
