import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotStore

@Suite("Local folder store")
struct LocalStoreTests {
    @Test("put, get, head and list, with tags that follow the content")
    func basics() async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let store = LocalStore(root: root + "/")
        let tag = try await store.put("bundles/a b.bundle", bytes: [1, 2, 3], condition: .none)
        #expect(Scratch.read(root + "/bundles/a b.bundle") == [1, 2, 3])
        let object = try await store.get("bundles/a b.bundle")
        #expect(object.bytes == [1, 2, 3])
        #expect(object.etag == tag)
        #expect(try await store.head("bundles/a b.bundle") == ObjectInfo(key: "bundles/a b.bundle", size: 3, etag: tag))
        #expect(try await store.head("bundles/missing") == nil)
        let other = try await store.put("manifest.json", bytes: [9], condition: .none)
        #expect(other != tag)
        // Same content, same tag (like S3's MD5 tags).
        #expect(try await store.put("copy", bytes: [1, 2, 3], condition: .none) == tag)
        #expect(try await store.list(prefix: "").map(\.key) == ["bundles/a b.bundle", "copy", "manifest.json"])
        #expect(try await store.list(prefix: "bundles/").map(\.key) == ["bundles/a b.bundle"])
        #expect(try await store.list(prefix: "bun").map(\.key) == ["bundles/a b.bundle"])
        #expect(try await store.list(prefix: "zzz").isEmpty)
        // The store's own files never show.
        #expect(FileManager.default.fileExists(atPath: root + "/.allot-lock"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/.allot-tmp").isEmpty)
    }

    @Test("missing objects and a missing folder are told apart")
    func missing() async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let store = LocalStore(root: root)
        await #expect { _ = try await store.get("manifest.json") } throws: { ($0 as? StoreError)?.code == .notFound }
        #expect(try await store.getIfPresent("manifest.json") == nil)
        let gone = LocalStore(root: root + "/does-not-exist")
        await #expect { _ = try await gone.get("manifest.json") } throws: {
            ($0 as? StoreError)?.code == .unreachable && "\($0)".contains("does not exist")
        }
        await #expect { _ = try await gone.list(prefix: "") } throws: { ($0 as? StoreError)?.code == .unreachable }
        // Writing creates the folder.
        _ = try await gone.put("manifest.json", bytes: [1], condition: .ifAbsent)
        #expect(try await gone.get("manifest.json").bytes == [1])
    }

    @Test("conditional get answers not-modified for the current tag only")
    func conditionalGet() async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let store = LocalStore(root: root)
        let tag = try await store.put("m", bytes: [1], condition: .none)
        #expect(try await store.get("m", ifNoneMatch: tag) == .notModified)
        let newTag = try await store.put("m", bytes: [2], condition: .none)
        #expect(try await store.get("m", ifNoneMatch: tag) == .object(StoredObject(key: "m", bytes: [2], etag: newTag)))
    }

    @Test("If-None-Match: * and If-Match preconditions, and nothing changes when they fail")
    func preconditions() async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let store = LocalStore(root: root)
        let first = try await store.put("m", bytes: [1], condition: .ifAbsent)
        await #expect { _ = try await store.put("m", bytes: [2], condition: .ifAbsent) } throws: {
            ($0 as? StoreError)?.code == .preconditionFailed
        }
        #expect(try await store.get("m").bytes == [1])
        let second = try await store.put("m", bytes: [3], condition: .ifMatch(first))
        await #expect { _ = try await store.put("m", bytes: [4], condition: .ifMatch(first)) } throws: {
            ($0 as? StoreError)?.code == .preconditionFailed && "\($0)".contains("changed")
        }
        #expect(try await store.get("m").bytes == [3])
        #expect(try await store.get("m").etag == second)
        await #expect { _ = try await store.put("absent", bytes: [4], condition: .ifMatch(first)) } throws: {
            ($0 as? StoreError)?.code == .notFound
        }
        #expect(try await store.head("absent") == nil)
        // Failed writes leave no temporary files behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/.allot-tmp").isEmpty)
    }

    @Test("concurrent creators: exactly one If-None-Match: * wins")
    func concurrentCreate() async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        var store = LocalStore(root: root)
        // Hold the lock 20 ms between check and rename: without the lock, several would "win".
        store.testingCommitDelay = 20_000
        let outcomes = await withTaskGroup(of: (UInt8, Bool).self) { [store] group in
            for writer in UInt8(0)..<8 {
                group.addTask {
                    do {
                        _ = try await store.put("m", bytes: [writer], condition: .ifAbsent)
                        return (writer, true)
                    } catch {
                        #expect((error as? StoreError)?.code == .preconditionFailed)
                        return (writer, false)
                    }
                }
            }
            return await group.reduce(into: [(UInt8, Bool)]()) { $0.append($1) }
        }
        let winners = outcomes.filter { $0.1 }
        #expect(winners.count == 1)
        #expect(try await store.get("m").bytes == [winners[0].0])
    }

    @Test("concurrent updaters of one version: exactly one If-Match wins")
    func concurrentUpdate() async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let store = LocalStore(root: root)
        let base = try await store.put("m", bytes: [0], condition: .none)
        let winners = await withTaskGroup(of: UInt8?.self) { group in
            for writer in UInt8(1)...8 {
                group.addTask {
                    // Separate instances, each with its own lock descriptor, as separate processes would.
                    var store = LocalStore(root: root)
                    store.testingCommitDelay = 20_000
                    return (try? await store.put("m", bytes: [writer], condition: .ifMatch(base))) != nil ? writer : nil
                }
            }
            return await group.compactMap { $0 }.reduce(into: [UInt8]()) { $0.append($1) }
        }
        #expect(winners.count == 1)
        #expect(try await store.get("m").bytes == winners)
    }

    @Test("keys that could escape the folder are rejected")
    func escapes() async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let store = LocalStore(root: root + "/inner")
        for key in ["../outside", "/etc/passwd", "a/../../b", ".allot-lock"] {
            await #expect { _ = try await store.put(key, bytes: [1], condition: .none) } throws: {
                ($0 as? StoreError)?.code == .invalidKey
            }
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/outside"))
    }
}
