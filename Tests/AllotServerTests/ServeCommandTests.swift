import AllotCore
import AllotStore
import AllotTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built `allot serve` binary (`ALLOT_BINARY`, or `.build/debug/allot`; `scripts/test` builds
/// it first): flags, signals, the cache across restarts.
@Suite("allot serve (the binary)", .serialized, .enabled(if: AllotBinary.available, Comment(rawValue: AllotBinary.missing)))
struct ServeCommandTests {
    /// A folder with a key pair and a local store holding `version`.
    func setUp(version: UInt64) async throws -> (folder: String, store: String, key: String) {
        let folder = Scratch.folder("serve")
        let keyPath = folder + "/signing.pub"
        try EdgeFixtures.key.publicKey.fileText.write(toFile: keyPath, atomically: true, encoding: .utf8)
        let store = folder + "/store"
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        let compiled = try EdgeFixtures.compile(version: version)
        try await EdgeFixtures.publish(compiled.envelope, to: [LocalStore(root: store)])
        return (folder, store, keyPath)
    }

    func start(_ arguments: [String], in folder: String) async throws -> ChildProcess {
        try await ChildProcess.start(
            name: "allot-serve", executable: AllotBinary.path,
            arguments: { ["serve", "--listen", "127.0.0.1:\($0)", "--threads", "1"] + arguments },
            environment: ["PWD": folder])
    }

    @Test("serves the store's bundle, answers like the library, and exits 0 on SIGTERM after draining")
    func servesAndStops() async throws {
        let (folder, store, key) = try await setUp(version: 3)
        defer { Scratch.remove(folder) }
        let server = try await start(
            ["--store", store, "--trusted-key", key, "--cache-dir", folder + "/cache", "--poll-interval", "0.1", "--log-format", "json"],
            in: folder)
        defer { server.kill() }
        let port = server.port
        let answer = try await pollOnThread { () -> RawResponse? in
            let response = try HTTPConnection.get(port: port, "/v1/assign?user_id=qa-user")
            return response.status == 200 ? response : nil
        }
        #expect(answer?.status == 200, "\(server.log)")
        #expect(
            answer?.text == (try EdgeFixtures.compile(version: 3).bundle.answerJSON(units: ["user_id": "qa-user"], now: EdgeFixtures.now)))
        let status = try await server.terminate(signal: SIGTERM)
        #expect(status == 0)
        let log = server.log
        #expect(log.contains(#""msg":"bundle swapped in""#), "\(log)")
        #expect(log.contains(#""msg":"allot serve stopped""#), "\(log)")
        // One JSON object per line.
        for line in log.split(separator: "\n") {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "\(line)")
        }
    }

    @Test("a restart with the store gone serves the cached bundle at once")
    func restartWithStoreGone() async throws {
        let (folder, store, key) = try await setUp(version: 5)
        defer { Scratch.remove(folder) }
        let arguments = ["--store", store, "--trusted-key", key, "--cache-dir", folder + "/cache", "--poll-interval", "0.1"]
        let first = try await start(arguments, in: folder)
        let firstPort = first.port
        let ready = try await pollOnThread { try HTTPConnection.get(port: firstPort, "/readyz").status == 200 ? 200 : nil }
        #expect(ready == 200, "\(first.log)")
        first.kill()
        try FileManager.default.removeItem(atPath: store)

        let second = try await start(arguments, in: folder)
        defer { second.kill() }
        let secondPort = second.port
        // The cache is loaded before the server answers its first request.
        let (readyz, info) = try await onThread {
            (try HTTPConnection.get(port: secondPort, "/readyz"), try HTTPConnection.get(port: secondPort, "/v1/bundle"))
        }
        #expect(readyz.status == 200)
        #expect(info.json["version"] as? Int == 5)
        #expect(info.json["source"] as? String == "cache")
        _ = try await second.terminate(signal: SIGINT)
        #expect(second.log.contains("store read failed"))
    }

    @Test(
        "bad flags are usage errors (exit 64)",
        arguments: [
            ["--store", "s3://"], ["--store", "x", "--listen", "nowhere"], ["--store", "x", "--listen", "1.2.3.4:99999"],
            ["--store", "x", "--poll-interval", "0"], ["--store", "x", "--threads", "0"], ["--store", "x", "--log-level", "loud"],
            ["--store", "x", "--fallback-store", "x"], ["--store", "x", "--max-batch", "0"],
            ["--store", "x", "--max-buffered-bytes", "1000"], ["--store", "x", "--reserved-descriptors", "-1"],
        ])
    func usage(arguments: [String]) async throws {
        let result = try await ChildProcess.runStatus(AllotBinary.path, ["serve"] + arguments)
        #expect(result.status == 64, "\(result.output)")
    }

    @Test("without --trusted-key and without the development key, it says what to pass")
    func noKey() async throws {
        let folder = Scratch.folder("serve")
        defer { Scratch.remove(folder) }
        let result = try await ChildProcess.runStatus(AllotBinary.path, ["serve", "--store", folder], directory: folder)
        #expect(result.status == 64)
        #expect(result.output.contains("--trusted-key"))
    }

    @Test("under a low open-file limit: soft limit raised, connection cap fitted, the rest refused, bundles still swapped")
    func lowDescriptorLimit() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit") else { return }
        let (folder, store, key) = try await setUp(version: 1)
        defer { Scratch.remove(folder) }
        // Soft 100, hard 160: raised to 160; 160 - 64 reserved - 4 of the engine's = 92 connections.
        let server = try await ChildProcess.start(
            name: "allot-serve", executable: "/usr/bin/prlimit",
            arguments: {
                [
                    "--nofile=100:160", AllotBinary.path, "serve", "--listen", "127.0.0.1:\($0)", "--threads", "1", "--store", store,
                    "--trusted-key", key, "--cache-dir", folder + "/cache", "--poll-interval", "0.1",
                ]
            },
            environment: ["PWD": folder])
        defer { server.kill() }
        let port = server.port
        let held = HeldConnections()
        let statuses = try await onThread { try held.open(port: port, count: 100, target: "/healthz") }
        #expect(statuses.allSatisfy { $0 == 200 || $0 == 503 || $0 == -1 }, "\(statuses)")
        #expect((91...92).contains(statuses.filter { $0 == 200 }.count), "\(statuses)")
        #expect(server.log.contains("raised the open-descriptor limit"), "\(server.log)")
        #expect(server.log.contains("effective_max_connections=92"), "\(server.log)")

        // With every connection it may hold taken, the poller still opens what it needs.
        let compiled = try EdgeFixtures.compile(version: 2)
        try await EdgeFixtures.publish(compiled.envelope, to: [LocalStore(root: store)])
        let version = try await pollOnThread { try held.first.request("GET", "/v1/bundle").json["version"] as? Int == 2 ? 2 : nil }
        #expect(version == 2, "\(server.log)")
        #expect(!server.log.contains("Too many open files"), "\(server.log)")
    }
}

/// Connections a test keeps open across its steps (used from one thread at a time).
final class HeldConnections: @unchecked Sendable {
    private(set) var connections: [HTTPConnection] = []
    var first: HTTPConnection { connections[0] }

    /// Opens `count` connections and asks for `target` on each. A status per connection: the
    /// answer's, or -1 when the server closed or reset it (a refused connection's 503 can be lost
    /// to the reset our unread request causes). Only the served ones are kept.
    func open(port: Int, count: Int, target: String) throws -> [Int] {
        var statuses: [Int] = []
        for _ in 0..<count {
            let connection = try HTTPConnection(port: port)
            do {
                let status = try connection.get(target).status
                statuses.append(status)
                if status == 200 { connections.append(connection) }
            } catch let error as ClientError where error.description.hasPrefix("connection closed") {
                statuses.append(-1)
            }
        }
        return statuses
    }
}
