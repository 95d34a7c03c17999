import AllotHTTP
import AllotTestSupport
import Foundation
import Testing

/// The benchmark server (`allot-http-bench`: the engine alone), built beside `allot`.
enum BenchServerBinary {
    static var path: String { (AllotBinary.path as NSString).deletingLastPathComponent + "/allot-http-bench" }
    static var available: Bool { FileManager.default.isExecutableFile(atPath: path) }
    static let missing = "no allot-http-bench beside the allot binary: run `swift build` first (scripts/test does)"
    static var prlimit: String? {
        ["/usr/bin/prlimit", "/bin/prlimit"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// The engine in a child process whose open-descriptor limit is lowered with `prlimit`.
@Suite(
    .serialized, .enabled(if: BenchServerBinary.available && BenchServerBinary.prlimit != nil, Comment(rawValue: BenchServerBinary.missing))
)
struct DescriptorLimitTests {
    /// Opens `count` connections, sends a GET on each and reads one answer from each; keeps them.
    /// A status per connection: the answer's, -1 when the server closed or reset the connection
    /// (a refused connection's 503 can be lost to the reset our unread GET causes), 0 when no
    /// answer came within 15 s (the connection hangs: the failure these tests look for).
    /// Then asks again on the first connection and adds that answer's status at the end.
    static func connectAll(port: Int, count: Int) throws -> [Int] {
        var clients: [RawClient] = []
        var statuses: [Int] = []
        for _ in 0..<count {
            let client = try RawClient(port: port, timeout: 15)
            clients.append(client)
            try? client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            do {
                statuses.append(try client.readResponse().status)
            } catch let error as ClientError where error.description.hasPrefix("connection closed") {
                statuses.append(-1)
            } catch {
                statuses.append(0)
            }
        }
        try clients[0].send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        return statuses + [try clients[0].readResponse().status]
    }

    @Test func theConnectionCapIsLoweredToFitAndTheRestAreRefused() async throws {
        // Soft 64, hard 64: nothing to raise, so the cap comes down to 64 less the engine's own
        // descriptors, and the log says so.
        let server = try await ChildProcess.start(
            name: "http-bench", executable: BenchServerBinary.prlimit!,
            arguments: { ["--nofile=64:64", BenchServerBinary.path, "--port", "\($0)", "--threads", "1", "--reserved-descriptors", "16"] })
        defer { server.kill() }
        let port = server.port
        var statuses = try await onThread { try Self.connectAll(port: port, count: 70) }
        // The connections it holds still work.
        #expect(statuses.removeLast() == 200)
        // Every connection got an answer: served, or refused with 503. None waits in the backlog.
        #expect(statuses.allSatisfy { $0 == 200 || $0 == 503 || $0 == -1 }, "\(statuses)")
        // 64 - 16 reserved - 4 of the engine's = 44 (43 if the start-up probe is not closed yet).
        let served = statuses.filter { $0 == 200 }.count
        #expect((43...44).contains(served), "\(statuses)")
        #expect(server.log.contains("connection limit lowered to fit the open-descriptor limit"), "\(server.log)")
        #expect(server.log.contains("effective_max_connections=44"), "\(server.log)")
    }

    @Test func outOfDescriptorsNewConnectionsGet503InsteadOfHanging() async throws {
        // No reserve: the process runs out of descriptors before the cap (its runtime holds a few
        // of its own), and the loop's spare descriptor refuses the connections accept() cannot take.
        let server = try await ChildProcess.start(
            name: "http-bench", executable: BenchServerBinary.prlimit!,
            arguments: { ["--nofile=48:48", BenchServerBinary.path, "--port", "\($0)", "--threads", "1", "--reserved-descriptors", "0"] })
        defer { server.kill() }
        let port = server.port
        var statuses = try await onThread { try Self.connectAll(port: port, count: 60) }
        #expect(statuses.removeLast() == 200)
        #expect(statuses.allSatisfy { $0 == 200 || $0 == 503 || $0 == -1 }, "\(statuses)")
        #expect(statuses.contains(503))
        #expect(statuses.filter { $0 == 200 }.count >= 20)
    }

    @Test func theSoftLimitIsRaisedTowardTheHardOne() async throws {
        let server = try await ChildProcess.start(
            name: "http-bench", executable: BenchServerBinary.prlimit!,
            arguments: { ["--nofile=64:4096", BenchServerBinary.path, "--port", "\($0)", "--threads", "1", "--max-connections", "1000"] })
        defer { server.kill() }
        let status = try await ChildProcess.runStatus(
            "/usr/bin/prlimit", ["--pid", "\(server.pid)", "--nofile", "--output=SOFT", "--noheadings"])
        #expect(
            status.output.trimmingCharacters(in: .whitespacesAndNewlines) == "1068", "1000 connections + 64 reserved + 4 of the engine's")
        #expect(server.log.contains("raised the open-descriptor limit"), "\(server.log)")
        #expect(!server.log.contains("connection limit lowered"), "\(server.log)")
        let port = server.port
        let statuses = try await onThread { try Self.connectAll(port: port, count: 100) }
        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
    }
}
