import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotStore

/// Whoever answers at a store's address (a compromised or broken endpoint, or anyone on the path
/// of plain HTTP) must not be able to make a reader hold more than its limit or wait forever.
/// The servers here are raw sockets that misbehave on purpose (`HostileHTTPServer`).
@Suite("Hostile S3 endpoints")
struct HostileEndpointTests {
    func store(
        _ server: HostileHTTPServer, requestTimeout: Double = 10, minimumBytesPerSecond: Int = 1024, deadline: Double = 60
    ) throws -> S3Store {
        let configuration = S3Configuration(
            retry: .none, requestTimeout: requestTimeout, minimumBytesPerSecond: minimumBytesPerSecond, deadline: deadline)
        guard case .s3(let location) = try StoreLocation(parsing: "s3://bucket/prod?endpoint=\(server.endpoint)&region=us-east-1") else {
            throw ChildProcessError("not an S3 URL")
        }
        return S3Store(
            location, credentials: Regions.credentials, configuration: configuration, transport: configuration.makeTransport(),
            logger: Fixtures.logger)
    }

    /// What a reader may have received beyond its limit: libcurl's buffer plus the socket buffers.
    static let slack = 32 << 20

    @Test("an endless body is abandoned at the limit, not read until memory runs out")
    func endlessBody() async throws {
        let server = try HostileHTTPServer(.endlessBody)
        defer { server.stop() }
        let store = try store(server)
        await #expect { _ = try await store.get(StoreLayout.manifestKey, maxBytes: Manifest.maxEncodedBytes) } throws: {
            ($0 as? StoreError)?.code == .tooLarge
        }
        // The unbounded read too is capped (at the largest bundle), and a manifest fetch refuses
        // at the manifest's limit.
        let client = RegionClient(store: store, verifier: ManifestVerifier(trustedKeys: []), logger: Fixtures.logger)
        await #expect { _ = try await client.fetchManifest() } throws: { ($0 as? FetchError)?.code == "manifest_too_large" }
        #expect(server.bytesSent < Self.slack, "\(server.bytesSent) bytes were sent before the reader hung up")
    }

    @Test("a store that ignores Range and sends a 512 MiB object costs the reader its limit, not 512 MiB")
    func ignoresRange() async throws {
        let server = try HostileHTTPServer(.ignoresRange(size: 512 << 20))
        defer { server.stop() }
        let store = try store(server)
        await #expect { _ = try await store.get("bundles/x.bundle", maxBytes: 100_000) } throws: {
            ($0 as? StoreError)?.code == .tooLarge && "\($0)".contains("more than the 100000 accepted")
        }
        #expect(server.bytesSent < Self.slack, "\(server.bytesSent) bytes were sent before the reader hung up")
    }

    @Test("allot status and publish read a manifest at most its limit, whatever the store sends")
    func statusAndPublishBounded() async throws {
        let server = try HostileHTTPServer(.ignoresRange(size: 512 << 20))
        defer { server.stop() }
        let store = try store(server)
        let report = await StatusChecker(stores: [store], trustedKeys: [], logger: Fixtures.logger).check(now: 0)
        #expect(report.regions[0].state == .invalid)
        #expect(report.regions[0].error?.contains("accepted") == true, "\(report.regions[0].error ?? "")")
        let key = SigningKey.generate()
        let published = try await Publisher(stores: [store], key: key, logger: Fixtures.logger).publish(
            envelope: Fixtures.bundle(version: 2, key: key))
        #expect(published.regions[0].manifest == .failed, "\(published.regions[0])")
        #expect(published.regions[0].errorCode == "too_large", "\(published.regions[0])")
        #expect(server.bytesSent < 2 * Self.slack, "\(server.bytesSent) bytes were sent before the readers hung up")
    }

    @Test("a byte-a-second drip is a stall: the request fails after the stall timeout, not never")
    func drip() async throws {
        let server = try HostileHTTPServer(.drip(length: 600, interval: .seconds(1)))
        defer { server.stop() }
        let store = try store(server, requestTimeout: 2)
        let started = ContinuousClock.now
        await #expect { _ = try await store.get(StoreLayout.manifestKey, maxBytes: Manifest.maxEncodedBytes) } throws: {
            ($0 as? StoreError)?.code == .timeout
        }
        let elapsed = ContinuousClock.now - started
        // Two seconds below 1 KiB/s, then the transfer is abandoned: the drip (ten minutes long)
        // was cut off after a few bytes. Counted in bytes, not wall time, which a loaded machine
        // stretches while the test waits for a thread to resume on.
        #expect(elapsed >= .seconds(1), "\(elapsed)")
        #expect(server.bytesSent < 60, "\(server.bytesSent) of 600 bytes were sent")
    }

    @Test("a trickle fast enough to pass the speed check still ends at the overall deadline")
    func deadline() async throws {
        let server = try HostileHTTPServer(.drip(length: 100_000, interval: .milliseconds(5)))
        defer { server.stop() }
        let store = try store(server, requestTimeout: 5, minimumBytesPerSecond: 1, deadline: 3)
        let started = ContinuousClock.now
        await #expect { _ = try await store.get(StoreLayout.manifestKey, maxBytes: Manifest.maxEncodedBytes * 4) } throws: {
            ($0 as? StoreError)?.code == .timeout
        }
        let elapsed = ContinuousClock.now - started
        // About 3 s of a 500 s trickle (at most 200 bytes/s) was received: cut off at the deadline.
        #expect(elapsed >= .milliseconds(2500), "\(elapsed)")
        #expect(server.bytesSent < 6000, "\(server.bytesSent) of 100000 bytes were sent")
    }
}
