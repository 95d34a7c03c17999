import AllotHTTP
import AllotTestSupport
import Logging
import ServiceLifecycle
import Testing

/// `run()` as a Service: graceful shutdown, cancellation, in-flight requests.
@Suite struct LifecycleTests {
    func makeServer(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws -> HTTPServer {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.threads = 2
        configure(&configuration)
        var logger = Logger(label: "allot.http.test")
        logger.logLevel = .error
        return try HTTPServer(
            configuration: configuration, metrics: HTTPServerMetrics(routes: testRoutes), logger: logger,
            makeHandler: { TestHandler($0) })
    }

    @Test func gracefulShutdownFinishesInFlightRequestsAndClosesIdleOnes() async throws {
        let server = try makeServer()
        let task = try await startRunning(server)
        let idle = try RawClient(port: server.port)
        try idle.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try idle.readResponse().status == 200)
        let busy = try RawClient(port: server.port)
        try busy.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhal")
        // In flight once the server holds its start (a fixed pause can pass before it has read it).
        try await waitForBuffered(server, atLeast: 1)

        server.shutdown()
        #expect(try idle.readUntilClosed().isEmpty)
        try busy.send("f!")
        let response = try busy.readResponse()
        #expect(response.status == 200)
        #expect(response.text == "half!")
        #expect(response.header("Connection") == "close")
        #expect(try busy.isClosedByPeer())
        try await task.value
        #expect(server.openConnections == 0)
        #expect((try? RawClient(port: server.port)) == nil)
    }

    @Test func shutdownGracePeriodBoundsTheWait() async throws {
        let server = try makeServer { $0.shutdownGracePeriod = .milliseconds(200) }
        let task = try await startRunning(server)
        let stuck = try RawClient(port: server.port)
        try stuck.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nnever finished")
        try await pause(milliseconds: 100)
        server.shutdown()
        try await task.value
        #expect(try stuck.readUntilClosed().isEmpty)
    }

    @Test func cancellationStopsTheServer() async throws {
        let server = try makeServer()
        let task = try await startRunning(server)
        let client = try RawClient(port: server.port)
        try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        task.cancel()
        try await task.value
        #expect(try client.readUntilClosed().isEmpty)
    }

    @Test func runsInAServiceGroup() async throws {
        let server = try makeServer()
        var logger = Logger(label: "allot.http.test")
        logger.logLevel = .error
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let task = Task { try await group.run() }
        while !server.isRunning { try await pause(milliseconds: 1) }
        let client = try RawClient(port: server.port)
        try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try client.readResponse().text == "hello")
        await group.triggerGracefulShutdown()
        try await task.value
        #expect(try client.readUntilClosed().isEmpty)
    }

    @Test func shutdownBeforeRunReturnsPromptly() async throws {
        let server = try makeServer()
        server.shutdown()
        // run() must return by itself; the deadline (generous, for a loaded machine) only keeps a
        // regression from hanging the suite: then the test fails and stops the server again.
        let returnedByItself = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await server.run()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(20))  // cancelled once run() returns
                return false
            }
            let first = try await group.next()!
            if !first { server.shutdown() }
            group.cancelAll()
            while try await group.next() != nil {}
            return first
        }
        #expect(returnedByItself, "run() did not return within 20 s of an earlier shutdown()")
        #expect(!server.isRunning)
        #expect((try? RawClient(port: server.port)) == nil, "nothing listens after run() returned")
    }

    @Test func runningTwiceIsAnError() async throws {
        let server = try makeServer()
        let task = try await startRunning(server)
        await #expect(throws: HTTPServerError.self) { try await server.run() }
        server.shutdown()
        try await task.value
    }

    @Test func portInUseIsReported() throws {
        let first = try makeServer()
        #expect {
            _ = try makeServer { $0.port = first.port }
        } throws: { error in
            (error as? HTTPServerError)?.code == .listen
        }
    }

    @Test func invalidConfigurationIsReported() throws {
        #expect(throws: HTTPServerError.self) { _ = try makeServer { $0.threads = 0 } }
        #expect(throws: HTTPServerError.self) { _ = try makeServer { $0.maxHeaderBytes = 10 } }
        #expect(throws: HTTPServerError.self) { _ = try makeServer { $0.host = "not an address!" } }
    }
}
