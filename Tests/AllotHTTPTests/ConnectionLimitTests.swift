import AllotHTTP
import AllotTestSupport
import Testing

/// Timeouts and the connection cap: slow or idle clients cannot hold the server.
@Suite struct ConnectionLimitTests {
    @Test func slowHeadersGet408AndClose() async throws {
        try await withTestServer({ $0.headerTimeout = .milliseconds(300) }) { server in
            let client = try RawClient(port: server.port)
            try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n")
            // Slowloris: a header line now and then, never the blank line.
            try await pause(milliseconds: 100)
            // A loaded machine may resume us after the server has answered and closed: a line sent
            // then would be reset, taking the 408 with it.
            if server.metrics.rejections(.timeout) == 0 { try? client.send("X-A: 1\r\n") }
            let response = try client.readResponse()
            #expect(response.status == 408)
            #expect(response.text.contains("\"code\":\"request_timeout\""))
            #expect(try client.isClosedByPeer())
            #expect(server.metrics.rejections(.timeout) >= 1)
        }
    }

    @Test func silentConnectionsAreClosedWithoutAResponse() async throws {
        try await withTestServer({ $0.headerTimeout = .milliseconds(200) }) { server in
            let client = try RawClient(port: server.port)
            #expect(try client.readUntilClosed().isEmpty)
        }
    }

    @Test func slowBodyGets408() async throws {
        try await withTestServer({ $0.bodyTimeout = .milliseconds(300) }) { server in
            let client = try RawClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            let response = try client.readResponse()
            #expect(response.status == 408)
            #expect(try client.isClosedByPeer())
        }
    }

    @Test func idleKeepAliveConnectionsAreClosed() async throws {
        try await withTestServer({ $0.idleTimeout = .milliseconds(300) }) { server in
            let client = try RawClient(port: server.port)
            try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().status == 200)
            // Nothing more is sent: the server closes without another response.
            #expect(try client.readUntilClosed().isEmpty)
            // The count drops right after the close the client saw.
            for _ in 0..<500 where server.openConnections > 0 { try await pause(milliseconds: 10) }
            #expect(server.openConnections == 0)
        }
    }

    @Test func connectionsOverTheCapAreTurnedAway() async throws {
        try await withTestServer({ $0.maxConnections = 2 }) { server in
            let first = try RawClient(port: server.port)
            let second = try RawClient(port: server.port)
            for client in [first, second] {
                try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try client.readResponse().status == 200)
            }
            let third = try RawClient(port: server.port)
            let refused = try third.readUntilClosed()
            let text = String(decoding: refused, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
            #expect(text.contains("\"code\":\"too_many_connections\""))
            #expect(server.metrics.rejections(.connectionLimit) == 1)
            // The existing connections are undisturbed.
            for client in [first, second] {
                try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try client.readResponse().text == "hello")
            }
        }
    }

    /// A connection that has been served, holding the server's one connection (`maxConnections = 1`).
    func holdTheOnlyConnection(_ server: HTTPServer) throws -> RawClient {
        let held = try RawClient(port: server.port)
        try held.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try held.readResponse().status == 200)
        return held
    }

    @Test("over the cap, refusals come at the refusal rate; the rest wait in the backlog, each answered 503 in turn")
    func refusalsAreRateLimited() async throws {
        try await withTestServer({
            $0.maxConnections = 1
            $0.connectionRefusalRate = 20
        }) { server in
            let held = try holdTheOnlyConnection(server)
            let clock = ContinuousClock()
            let start = clock.now
            let waiting = try (0..<30).map { _ in try RawClient(port: server.port) }
            try await pause(milliseconds: 300)
            // The pause shows once the server's thread has run (a loaded machine may delay it).
            for _ in 0..<1000 where server.metrics.acceptPauseCount == 0 { try await pause(milliseconds: 10) }
            let refusedSoFar = server.metrics.rejections(.connectionLimit)
            let elapsed = (clock.now - start).components
            let milliseconds = Int(elapsed.seconds) * 1000 + Int(elapsed.attoseconds / 1_000_000_000_000_000)
            // Two at once (a tenth of a second's worth, at least one), then 20 a second.
            #expect(refusedSoFar <= UInt64(2 + 1 + milliseconds * 20 / 1000), "\(refusedSoFar) refused in \(milliseconds) ms")
            #expect(server.metrics.acceptPauseCount >= 1)
            // None is dropped or reset: every one gets its 503 as refusals come due.
            for client in waiting {
                let text = String(decoding: try client.readUntilClosed(), as: UTF8.self)
                #expect(text.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
                #expect(text.contains("Retry-After: 1\r\n"))
            }
            #expect(server.metrics.rejections(.connectionLimit) == 30)
            // The connection inside the cap was served throughout.
            try held.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try held.readResponse().text == "hello")
        }
    }

    @Test("a refusal rate of 0 refuses every connection over the cap at once, without pausing")
    func unlimitedRefusals() async throws {
        try await withTestServer({
            $0.maxConnections = 1
            $0.connectionRefusalRate = 0
        }) { server in
            let held = try holdTheOnlyConnection(server)
            let waiting = try (0..<30).map { _ in try RawClient(port: server.port) }
            for client in waiting { #expect(String(decoding: try client.readUntilClosed(), as: UTF8.self).hasPrefix("HTTP/1.1 503")) }
            #expect(server.metrics.acceptPauseCount == 0)
            withExtendedLifetime(held) {}  // the cap stays taken until here
        }
    }

    @Test func capacityReturnsWhenConnectionsClose() async throws {
        try await withTestServer({ $0.maxConnections = 1 }) { server in
            for _ in 0..<5 {
                do {
                    let client = try RawClient(port: server.port)
                    try client.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    #expect(try client.readResponse().status == 200)
                    #expect(try client.isClosedByPeer())
                }
                // The client has closed its socket; wait until the server has noticed.
                for _ in 0..<500 where server.openConnections > 0 { try await pause(milliseconds: 10) }
            }
        }
    }
}
