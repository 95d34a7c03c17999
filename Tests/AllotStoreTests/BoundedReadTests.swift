import AllotCore
import AllotTestSupport
import Foundation
import Synchronization
import Testing

@testable import AllotStore

/// `get(_:ifNoneMatch:maxBytes:)`: whoever can write to a store must not be able to make a reader
/// download and hold what they like. The region client reads manifests and bundles this way.
@Suite("Bounded reads")
struct BoundedReadTests {
    let key = SigningKey.generate()

    /// The same expectations for every store.
    func checkBoundedReads(_ store: any ObjectStore) async throws {
        let ten = Array("0123456789".utf8)
        let tag = try await store.put("objects/ten", bytes: ten, condition: .none)
        let emptyTag = try await store.put("objects/empty", bytes: [], condition: .none)
        let big = [UInt8](repeating: 7, count: 3_000_000)
        _ = try await store.put("objects/big", bytes: big, condition: .none)

        for limit in [10, 11, 1000] {
            #expect(try await store.get("objects/ten", maxBytes: limit) == StoredObject(key: "objects/ten", bytes: ten, etag: tag))
        }
        for limit in [0, 1, 9] {
            await #expect { _ = try await store.get("objects/ten", maxBytes: limit) } throws: {
                ($0 as? StoreError)?.code == .tooLarge && "\($0)".contains("10 bytes, more than the \(limit) accepted")
            }
        }
        await #expect { _ = try await store.get("objects/big", maxBytes: 65_536) } throws: {
            ($0 as? StoreError)?.code == .tooLarge && "\($0)".contains("3000000 bytes")
        }
        // An empty object (S3 answers a ranged GET of it with 416).
        #expect(try await store.get("objects/empty", maxBytes: 0) == StoredObject(key: "objects/empty", bytes: [], etag: emptyTag))
        #expect(try await store.get("objects/empty", ifNoneMatch: emptyTag, maxBytes: 5) == .notModified)
        // Conditional reads still answer 304 for the current tag, whatever the size.
        #expect(try await store.get("objects/ten", ifNoneMatch: tag, maxBytes: 10) == .notModified)
        #expect(
            try await store.get("objects/ten", ifNoneMatch: ETag("\"other\""), maxBytes: 10)
                == .object(StoredObject(key: "objects/ten", bytes: ten, etag: tag)))
        await #expect { _ = try await store.get("objects/missing", maxBytes: 10) } throws: { ($0 as? StoreError)?.code == .notFound }
    }

    /// A region client over `store` refuses an oversized manifest, and a bundle larger than its
    /// manifest says, with the verification reasons the server counts (`too_large`, `size_mismatch`).
    func checkRegionClient(_ store: any ObjectStore) async throws {
        let client = RegionClient(store: store, verifier: ManifestVerifier(trustedKeys: [key.publicKey]), logger: Fixtures.logger)
        let envelope = Fixtures.bundle(version: 3, key: key)
        let manifest = try Manifest.describing(envelope: envelope, key: key)
        _ = try await store.put(manifest.object, bytes: envelope + [UInt8](repeating: 0, count: 1 << 20), condition: .none)
        _ = try await store.put(StoreLayout.manifestKey, bytes: manifest.encoded(), condition: .none)
        await #expect { _ = try await client.fetchBundle(manifest) } throws: {
            ($0 as? FetchError)?.code == "manifest_size_mismatch" && "\($0)".contains("larger than the \(envelope.count) bytes")
        }
        _ = try await store.put(manifest.object, bytes: envelope, condition: .none)
        #expect(try await client.fetchBundle(manifest).bytes == envelope)

        let padded = manifest.encoded() + [UInt8](repeating: 0x20, count: Manifest.maxEncodedBytes)
        _ = try await store.put(StoreLayout.manifestKey, bytes: padded, condition: .none)
        await #expect { _ = try await client.fetchManifest() } throws: {
            ($0 as? FetchError)?.code == "manifest_too_large" && "\($0)".contains("\(padded.count) bytes")
        }
    }

    @Test("a local folder store refuses objects over the limit, answers those within it")
    func local() async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        try await checkBoundedReads(LocalStore(root: root))
        try await checkRegionClient(LocalStore(root: root))
    }

    @Test(
        "an S3 store reads at most the limit plus one byte (a ranged GET) and refuses larger objects",
        .enabled(if: Moto.available, Moto.skipReason))
    func s3() async throws {
        let regions = try await Regions.start(1)
        defer { regions.stop() }
        try await checkBoundedReads(try regions.store(0))
        try await checkRegionClient(try regions.store(0))
    }
}

/// A folder store's objects are opened without following links and read only if they are regular
/// files: a link to `/dev/zero` or a FIFO in place of the manifest or a bundle must neither
/// exhaust memory nor block the reader.
@Suite("Local store: only regular files")
struct LocalStoreFileTypeTests {
    let key = SigningKey.generate()

    /// Whether `body` finishes within `seconds`: a read that blocks (a FIFO without a writer)
    /// fails the test instead of hanging it. Nothing here blocks a thread of the shared pool.
    func finishes(within seconds: Double, _ body: @escaping @Sendable () async -> Void) async -> Bool {
        final class Once: Sendable {
            let done = Mutex(false)
            func first() -> Bool {
                done.withLock { done in
                    defer { done = true }; return !done
                }
            }
        }
        let once = Once()
        return await withCheckedContinuation { continuation in
            Task {
                await body()
                if once.first() { continuation.resume(returning: true) }
            }
            Task {
                try? await Task.sleep(for: .seconds(seconds))
                if once.first() { continuation.resume(returning: false) }
            }
        }
    }

    @Test("a manifest that is a symbolic link to /dev/zero is refused, not read", arguments: ["/dev/zero", "/dev/urandom"])
    func symlinkedManifest(target: String) async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let store = LocalStore(root: root)
        #expect(symlink(target, root + "/" + StoreLayout.manifestKey) == 0)
        let client = RegionClient(store: store, verifier: ManifestVerifier(trustedKeys: [key.publicKey]), logger: Fixtures.logger)
        await #expect { _ = try await client.fetchManifest() } throws: {
            ($0 as? FetchError)?.code == "store_not_regular_file" && "\($0)".contains("symbolic link")
        }
        // Unbounded reads, HEAD and the publisher's and status's reads refuse it too.
        await #expect { _ = try await store.get(StoreLayout.manifestKey) } throws: { ($0 as? StoreError)?.code == .notRegularFile }
        await #expect { _ = try await store.head(StoreLayout.manifestKey) } throws: { ($0 as? StoreError)?.code == .notRegularFile }
        let report = await StatusChecker(stores: [store], trustedKeys: [key.publicKey], logger: Fixtures.logger).check(now: 0)
        #expect(report.regions[0].state == .invalid)
    }

    @Test("a bundle object that is a symbolic link is refused, even to a valid bundle")
    func symlinkedObject() async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let store = LocalStore(root: root)
        let envelope = Fixtures.bundle(version: 3, key: key)
        let manifest = try Manifest.describing(envelope: envelope, key: key)
        let elsewhere = Scratch.folder("elsewhere")
        defer { Scratch.remove(elsewhere) }
        _ = FileManager.default.createFile(atPath: elsewhere + "/bundle", contents: Data(envelope))
        try FileManager.default.createDirectory(atPath: root + "/bundles", withIntermediateDirectories: true)
        #expect(symlink(elsewhere + "/bundle", root + "/" + manifest.object) == 0)
        let client = RegionClient(store: store, verifier: ManifestVerifier(trustedKeys: [key.publicKey]), logger: Fixtures.logger)
        await #expect { _ = try await client.fetchBundle(manifest) } throws: { ($0 as? FetchError)?.code == "store_not_regular_file" }
    }

    @Test("a FIFO in place of the manifest or a bundle answers at once with an error, never blocks")
    func fifo() async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let store = LocalStore(root: root)
        #expect(mkfifo(root + "/" + StoreLayout.manifestKey, 0o644) == 0)
        try FileManager.default.createDirectory(atPath: root + "/bundles", withIntermediateDirectories: true)
        #expect(mkfifo(root + "/bundles/x.bundle", 0o644) == 0)
        let verifier = ManifestVerifier(trustedKeys: [key.publicKey])
        let finished = await finishes(within: 300) {
            let client = RegionClient(store: store, verifier: verifier, logger: Fixtures.logger)
            await #expect { _ = try await client.fetchManifest() } throws: {
                ($0 as? FetchError)?.code == "store_not_regular_file" && "\($0)".contains("FIFO")
            }
            await #expect { _ = try await store.get("bundles/x.bundle", maxBytes: 1000) } throws: {
                ($0 as? StoreError)?.code == .notRegularFile
            }
            await #expect { _ = try await store.get(StoreLayout.manifestKey) } throws: { ($0 as? StoreError)?.code == .notRegularFile }
        }
        #expect(finished, "a read of a FIFO blocked")
    }
}
