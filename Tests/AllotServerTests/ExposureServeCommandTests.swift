import AllotCore
import AllotStore
import AllotTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The exposure log of the built `allot serve` binary: flags, SIGTERM under load, restarts after a
/// clean stop and after `kill -9`.
@Suite("allot serve's exposure log (the binary)", .serialized, .enabled(if: ExposureBinary.available, ExposureBinary.needs))
struct ExposureServeCommandTests {
    let serve = ServeCommandTests()

    func arguments(_ folder: String, store: String, key: String, exposures: [String]) -> [String] {
        ["--store", store, "--trusted-key", key, "--cache-dir", folder + "/cache", "--poll-interval", "0.1"] + exposures
    }

    /// Waits until the server answers assignments.
    func waitReady(_ port: Int) async throws {
        let ready = try await pollOnThread { (try? HTTPConnection.get(port: port, "/readyz"))?.status == 200 ? true : nil }
        guard ready == true else { throw FixtureError(message: "the server did not become ready") }
    }

    /// Waits until the server's `/metrics` shows at least `count` exposure events written into
    /// segments.
    func waitForEvents(_ port: Int, atLeast count: Int) async throws {
        let written = try await pollOnThread(every: 0.02) { () -> Bool? in
            guard let page = try? HTTPConnection.get(port: port, "/metrics") else { return nil }
            return LogHarness.sample(page.text, "allot_exposure_events_total") >= Double(count) ? true : nil
        }
        guard written == true else { throw FixtureError(message: "the server did not write \(count) exposure events") }
    }

    /// `count` requests for distinct users; the records their answers promise.
    func send(_ port: Int, prefix: String, count: Int) async throws -> [String] {
        try await onThread {
            let connection = try HTTPConnection(port: port)
            return try (0..<count).flatMap { i in
                let units = ["user_id": "\(prefix)-\(i)", "device_id": "\(prefix)-d\(i)"]
                let answer = try connection.get("/v1/assign?user_id=\(prefix)-\(i)&device_id=\(prefix)-d\(i)&country=US")
                #expect(answer.status == 200)
                return ExpectedExposures.from(answer: answer.json, units: units, api: "native")
            }
        }
    }

    @Test("SIGTERM under load: every answer a client received is in the shipped log exactly once, and nothing else")
    func sigtermUnderLoad() async throws {
        let (folder, store, key) = try await serve.setUp(version: 3)
        defer { Scratch.remove(folder) }
        let exposureStore = folder + "/exposure-store"
        let server = try await serve.start(
            arguments(
                folder, store: store, key: key,
                exposures: [
                    "--exposure-spool", folder + "/spool", "--exposure-store", exposureStore, "--region", "eu-west", "--server-id",
                    "edge-t",
                    "--exposure-segment-age", "0.3",
                    // "Exactly once" holds when nothing is dropped: the default writer (nice 19)
                    // drops under CPU saturation, which a loaded test run can be (docs/server.md).
                    "--exposure-writer-nice", "0",
                ]), in: folder)
        defer { server.kill() }
        let port = server.port
        try await waitReady(port)
        // Four clients send requests as fast as they can until the server stops answering.
        let answered = AnswerCount()
        let clients = (0..<4).map { client in
            Task {
                try await onThread { () -> [String] in
                    var mine: [String] = []
                    // Under load a client may start after the signal: then it has nothing to count.
                    guard var connection = try? HTTPConnection(port: port) else { return mine }
                    for i in 0..<1_000_000 {
                        let units = ["user_id": "c\(client)-\(i)", "device_id": "c\(client)-d\(i)"]
                        guard let answer = try? connection.get("/v1/assign?user_id=c\(client)-\(i)&device_id=c\(client)-d\(i)&country=US")
                        else {
                            // Closed by the server: try a new connection; refused means it is gone.
                            guard let fresh = try? HTTPConnection(port: port) else { break }
                            connection = fresh
                            continue
                        }
                        if answer.status == 200 {
                            mine += ExpectedExposures.from(answer: answer.json, units: units, api: "native")
                            answered.add()
                        }
                    }
                    return mine
                }
            }
        }
        // The signal comes under load: once the clients have been answered a few hundred times (a
        // loaded test run may start them late; a fixed pause then signalled an idle server).
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while answered.value < 400, clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let status = try await server.terminate(signal: SIGTERM)
        #expect(status == 0, "\(server.log)")
        var promised: [String] = []
        for client in clients { promised += try await client.value }
        #expect(promised.count > 100)
        let report = try await ExposureReader.read(exposureStore)
        #expect(report.errors.isEmpty, "\(report.errors)")
        #expect(report.decisions == promised.sorted())
        #expect(report.duckDBCount == promised.count)
        #expect(server.log.contains("exposure segments all shipped"), "\(server.log)")
    }

    @Test("a restart ships what previous processes left: closed segments, and the open one a kill -9 cut short")
    func restartAfterKill() async throws {
        let (folder, store, key) = try await serve.setUp(version: 3)
        defer { Scratch.remove(folder) }
        let exposureStore = folder + "/exposure-store"
        // The writer at nice 0: at the default 19 a saturated machine may not run it before the kill.
        let common = [
            "--exposure-spool", folder + "/spool", "--region", "eu-west", "--server-id", "edge-k", "--exposure-writer-nice", "0",
        ]
        // First: no store, a clean stop: its segments are closed and stay in the spool.
        let first = try await serve.start(arguments(folder, store: store, key: key, exposures: common), in: folder)
        try await waitReady(first.port)
        var expected = try await send(first.port, prefix: "closed", count: 100)
        #expect(try await first.terminate(signal: SIGTERM) == 0)
        // Second: no store, killed once its events are flushed: its segment is left open.
        let second = try await serve.start(arguments(folder, store: store, key: key, exposures: common), in: folder)
        try await waitReady(second.port)
        expected += try await send(second.port, prefix: "open", count: 100)
        // Counted once written; the same writer cycle flushes them. Then several flush intervals.
        try await waitForEvents(second.port, atLeast: 100)
        try await Task.sleep(for: .milliseconds(300))
        second.kill()
        let openFiles = FileManager.default.enumerator(atPath: folder + "/spool/open")?.allObjects.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".ndjson.zst") }
        #expect(openFiles?.count == 1, "\(openFiles ?? [])")

        // Third, with the store: ships both, and its own.
        let third = try await serve.start(
            arguments(folder, store: store, key: key, exposures: common + ["--exposure-store", exposureStore]), in: folder)
        defer { third.kill() }
        try await waitReady(third.port)
        expected += try await send(third.port, prefix: "third", count: 50)
        #expect(try await third.terminate(signal: SIGTERM) == 0)
        #expect(third.log.contains("recovered an exposure segment left open"), "\(third.log)")
        let report = try await ExposureReader.read(exposureStore)
        #expect(report.errors.isEmpty, "\(report.errors)")
        #expect(report.decisions == expected.sorted())
        // Segments of the three processes: three boot times in the names.
        let boots = Set(report.segments.map { $0.key.split(separator: "-").dropLast().last.map(String.init) ?? "" })
        #expect(boots.count == 3, "\(report.segments)")
    }

    @Test("SIGTERM with an exposure store that never answers: the server stops within its graces, and the segments stay in the spool")
    func sigtermWithAHungStore() async throws {
        let (folder, store, key) = try await serve.setUp(version: 3)
        defer { Scratch.remove(folder) }
        // Accepts connections (the kernel does) and never answers a byte.
        let silent = try SilentListener()
        defer { silent.close() }
        let server = try await ChildProcess.start(
            name: "allot-serve", executable: AllotBinary.path,
            arguments: {
                ["serve", "--listen", "127.0.0.1:\($0)", "--threads", "1", "--shutdown-grace", "1"]
                    + self.arguments(
                        folder, store: store, key: key,
                        exposures: [
                            "--exposure-spool", folder + "/spool", "--region", "eu-west", "--server-id", "edge-h",
                            "--exposure-store", "s3://exposures/log?endpoint=http://127.0.0.1:\(silent.port)&region=us-east-1",
                            "--exposure-segment-age", "0.2", "--exposure-ship-grace", "1", "--exposure-writer-nice", "0",
                            // Without the ship grace, the stop would wait out the store timeout.
                            "--store-timeout", "30",
                        ])
            },
            environment: ["PWD": folder, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"])
        defer { server.kill() }
        try await waitReady(server.port)
        let expected = try await send(server.port, prefix: "hung", count: 50)
        // Segments close after 0.2 s; wait until the uploader is stuck on the first put.
        try await Task.sleep(for: .milliseconds(1500))
        let clock = ContinuousClock()
        let start = clock.now
        let status = try await server.terminate(signal: SIGTERM)
        let took = clock.now - start
        #expect(status == 0, "\(server.log)")
        // docs/server.md: at most --shutdown-grace + a flush + --exposure-ship-grace (1 + 1 here);
        // a missing ship grace would wait out --store-timeout (30 s). Room for a loaded machine.
        #expect(took < .seconds(15), "the stop took \(took): \(server.log)")
        #expect(server.log.contains("exposure segments left in the spool at shutdown"), "\(server.log)")
        // Nothing lost: the records are in the spool's segments, for the next start to ship.
        let report = try await ExposureReader.read(folder + "/spool")
        #expect(report.decisions == expected.sorted(), "\(report.errors)")
    }

    @Test("flags: the log's flags are refused without it, the exposure store cannot be a bundle store, a spool in use is refused")
    func flags() async throws {
        let (folder, store, key) = try await serve.setUp(version: 3)
        defer { Scratch.remove(folder) }
        let base = ["serve", "--store", store, "--trusted-key", key, "--cache-dir", folder + "/cache", "--listen", "127.0.0.1:0"]
        for (extra, message) in [
            (["--region", "eu"], "need the exposure log"),
            (["--exposure-spool", folder + "/s"], "--region NAME is required"),
            (["--exposure-store", store, "--region", "eu"], "must not be a bundle store"),
            (["--exposure-spool", folder + "/s", "--region", "eu/west"], "region 'eu/west' must be"),
            (["--exposure-spool", folder + "/s", "--region", "eu", "--server-id", ".hidden"], "server id '.hidden' must be"),
            (["--exposure-spool", folder + "/s", "--region", "eu", "--exposure-segment-bytes", "1000"], "segment size limit"),
            (["--exposure-store", "ftp://x", "--region", "eu"], "--exposure-store"),
        ] {
            let result = try await runProcess(AllotBinary.path, base + extra)
            #expect(result.status == 64, "\(extra): \(result.output)")
            #expect(result.output.contains(message), "\(extra): \(result.output)")
        }
        let spool = ["--exposure-spool", folder + "/spool", "--region", "eu-west"]
        let first = try await serve.start(arguments(folder, store: store, key: key, exposures: spool), in: folder)
        defer { first.kill() }
        let second = try await runProcess(
            AllotBinary.path, ["serve", "--listen", "127.0.0.1:0"] + arguments(folder, store: store, key: key, exposures: spool),
            directory: folder)
        #expect(second.status == 4, "\(second.output)")  // unavailable (docs/cli.md)
        #expect(second.output.contains("another process uses this exposure spool"), "\(second.output)")
    }
}

/// What the binary's exposure tests need.
enum ExposureBinary {
    static let available = AllotBinary.available && ExposureReader.available
    static let needs: Comment = "needs the allot binary (swift build) and the Python readers (scripts/install-deps)"
}

/// A TCP listener that never accepts: connections complete in the kernel's backlog, and requests
/// sent on them are never answered (a store that hangs).
final class SilentListener: Sendable {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        guard descriptor >= 0 else { throw FixtureError(message: "socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(descriptor, 64) == 0 else { throw FixtureError(message: "bind or listen failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(descriptor) }
}

/// Answers received by the clients of a test, across their threads.
final class AnswerCount: @unchecked Sendable {  // @unchecked: the count is only read and written under the lock.
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func add() { lock.withLock { count += 1 } }
}
