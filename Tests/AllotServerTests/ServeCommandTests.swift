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
        let answer = try await onThread { () -> RawResponse in
            for _ in 0..<200 {
                let response = try HTTPConnection.get(port: port, "/v1/assign?user_id=qa-user")
                if response.status == 200 { return response }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return try HTTPConnection.get(port: port, "/v1/assign?user_id=qa-user")
        }
        #expect(answer.status == 200)
        #expect(
            answer.text == (try EdgeFixtures.compile(version: 3).bundle.answerJSON(units: ["user_id": "qa-user"], now: EdgeFixtures.now)))
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
        let ready = try await onThread { () -> Int in
            for _ in 0..<200 {
                if try HTTPConnection.get(port: firstPort, "/readyz").status == 200 { return 200 }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return 503
        }
        #expect(ready == 200)
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
        ])
    func usage(arguments: [String]) throws {
        let result = try ChildProcess.runStatus(AllotBinary.path, ["serve"] + arguments)
        #expect(result.status == 64, "\(result.output)")
    }

    @Test("without --trusted-key and without the development key, it says what to pass")
    func noKey() throws {
        let folder = Scratch.folder("serve")
        defer { Scratch.remove(folder) }
        let result = try ChildProcess.runStatus(AllotBinary.path, ["serve", "--store", folder], directory: folder)
        #expect(result.status == 64)
        #expect(result.output.contains("--trusted-key"))
    }
}

