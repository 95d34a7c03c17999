import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotStore

/// The S3 client against a real S3-compatible server process (moto) over HTTP.
@Suite("S3 store against moto", .enabled(if: Moto.available, Moto.skipReason), .serialized)
struct S3StoreMotoTests {
    static let oddKeys = [
        "manifest.json",
        "bundles/dir with space/a+b=c&d?e#f%g~h'i(j)k*l!m,n;o:p@q$r[s]t",
        "ünïcødé/日本語/ファイル.bundle",
    ]

    @Test("put, get, head and list round-trip bytes under the store prefix, with odd keys")
    func roundTrip() async throws {
        let regions = try await Regions.start(1)
        defer { regions.stop() }
        let store = try regions.store(0)
        var tags: [String: ETag] = [:]
        for (index, key) in Self.oddKeys.enumerated() {
            let bytes = Array("object \(index) ✓".utf8) + [0, 255]
            tags[key] = try await store.put(key, bytes: bytes, condition: .none)
            let object = try await store.get(key)
            #expect(object.bytes == bytes)
            #expect(object.etag == tags[key])
            #expect(try await store.head(key) == ObjectInfo(key: key, size: bytes.count, etag: tags[key]!))
        }
        let listed = try await store.list(prefix: "")
        #expect(listed.map(\.key) == Self.oddKeys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(listed.allSatisfy { tags[$0.key] == $0.etag })
        #expect(try await store.list(prefix: "bundles/dir with").map(\.key) == [Self.oddKeys[1]])
        // The prefix is really applied in the bucket.
        let everything = try await regions.bucketStore(0).list(prefix: "").map(\.key)
        #expect(everything.allSatisfy { $0.hasPrefix("prod/") })
        #expect(everything.count == Self.oddKeys.count)
    }

    @Test("a 3 MB object survives the trip")
    func large() async throws {
        let regions = try await Regions.start(1)
        defer { regions.stop() }
        let store = try regions.store(0)
        let bytes = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        _ = try await store.put("bundles/large.bundle", bytes: bytes, condition: .ifAbsent)
        #expect(try await store.get("bundles/large.bundle").bytes == bytes)
        #expect(try await store.head("bundles/large.bundle")?.size == bytes.count)
    }

    @Test("conditional reads and writes behave like S3")
    func conditions() async throws {
        let regions = try await Regions.start(1)
        defer { regions.stop() }
        let store = try regions.store(0)
        let first = try await store.put("manifest.json", bytes: [1], condition: .ifAbsent)
        await #expect { _ = try await store.put("manifest.json", bytes: [2], condition: .ifAbsent) } throws: {
            ($0 as? StoreError)?.code == .preconditionFailed && ($0 as? StoreError)?.httpStatus == 412
        }
        #expect(try await store.get("manifest.json", ifNoneMatch: first) == .notModified)
        let second = try await store.put("manifest.json", bytes: [3], condition: .ifMatch(first))
        await #expect { _ = try await store.put("manifest.json", bytes: [4], condition: .ifMatch(first)) } throws: {
            ($0 as? StoreError)?.code == .preconditionFailed
        }
        #expect(
            try await store.get("manifest.json", ifNoneMatch: first)
                == .object(StoredObject(key: "manifest.json", bytes: [3], etag: second)))
        await #expect { _ = try await store.put("absent.json", bytes: [5], condition: .ifMatch(first)) } throws: {
            let code = ($0 as? StoreError)?.code
            return code == .notFound || code == .preconditionFailed
        }
        #expect(try await store.head("absent.json") == nil)
        await #expect { _ = try await store.get("absent.json") } throws: { ($0 as? StoreError)?.code == .notFound }
    }

    @Test("listing pages through continuation tokens")
    func pagination() async throws {
        let regions = try await Regions.start(1)
        defer { regions.stop() }
        guard case .s3(let location) = try StoreLocation(parsing: regions.url(0)) else { return }
        var configuration = Regions.configuration
        configuration.listPageSize = 2
        let store = S3Store(
            location, credentials: Regions.credentials, configuration: configuration, transport: regions.transport, logger: Fixtures.logger)
        let keys = (0..<7).map { "bundles/\($0).bundle" }
        for key in keys { _ = try await store.put(key, bytes: [1], condition: .none) }
        #expect(try await store.list(prefix: "bundles/").map(\.key) == keys)
    }

    @Test("a missing bucket and a dead endpoint give clear errors")
    func missing() async throws {
        let regions = try await Regions.start(1)
        defer { regions.stop() }
        let noBucket = try Regions.s3Store(
            "s3://no-such-bucket?endpoint=http://127.0.0.1:\(regions.servers[0].port)", transport: regions.transport)
        await #expect { _ = try await noBucket.list(prefix: "") } throws: {
            ($0 as? StoreError)?.code == .notFound && "\($0)".contains("bucket 'no-such-bucket' does not exist")
        }
        let port = regions.servers[0].port
        regions.stop()
        let dead = try regions.store(0, port: port)
        await #expect { _ = try await dead.get("manifest.json") } throws: {
            ($0 as? StoreError)?.code == .unreachable && ($0 as? StoreError)?.attempts == Regions.configuration.retry.maxAttempts
        }
    }

    @Test("a store that never answers times out, is retried, and is reported as a timeout")
    func timeout() async throws {
        let proxy = try await FaultProxy.start(.hang)
        defer { proxy.child.kill() }
        guard case .s3(let location) = try StoreLocation(parsing: "s3://allot-hang?endpoint=\(proxy.endpoint)") else { return }
        let store = S3Store(
            location, credentials: Regions.credentials,
            configuration: S3Configuration(retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.01, maxDelay: 0.02), requestTimeout: 1),
            logger: Fixtures.logger)
        let started = ContinuousClock.now
        await #expect { _ = try await store.get("manifest.json") } throws: {
            ($0 as? StoreError)?.code == .timeout && ($0 as? StoreError)?.attempts == 2
        }
        // Two attempts of one second each: never an instant failure, and far from the two
        // 60 s waits the default would take (a bound loose enough for a loaded machine).
        let elapsed = ContinuousClock.now - started
        #expect(elapsed > .milliseconds(1900) && elapsed < .seconds(60), "\(elapsed)")
        #expect(try await proxy.stats().requests == 2)
        // libcurl's stall window is in whole seconds: sub-second timeouts are rounded up.
        #expect(CurlTransport.wholeSeconds(0.5) == 1)
        #expect(CurlTransport.wholeSeconds(2.2) == 3)
    }
}
