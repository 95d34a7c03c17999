import AllotHTTP
import AllotTestSupport
import Testing

/// What a hostile-client battery found against the engine: each test here failed before its fix.
@Suite struct HostileClientTests {
    /// Sends `bytes` every `interval` until the server closes the connection (a send fails) or
    /// `attempts` sends went through; returns whether the server closed it.
    static func trickle(_ bytes: String, to client: RawClient, every interval: Int, attempts: Int) async throws -> Bool {
        for _ in 0..<attempts {
            do {
                try client.send(bytes)
            } catch {
                return true
            }
            try await pause(milliseconds: interval)
        }
        return false
    }

    @Test func blankLinesDoNotHoldAConnectionOpen() async throws {
        // Idle connections may stay a minute; a request (blank lines count as its start) must be
        // in within 300 ms. A CRLF every 100 ms is no progress and must not extend the deadline.
        try await withTestServer({
            $0.headerTimeout = .milliseconds(300)
            $0.idleTimeout = .seconds(60)
        }) { server in
            let client = try RawClient(port: server.port)
            let closed = try await Self.trickle("\r\n", to: client, every: 100, attempts: 60)
            #expect(closed, "a CRLF every 100 ms kept the connection open for 6 s")
            #expect(server.metrics.rejections(.timeout) >= 1)
        }
    }

    @Test func blankLinesAfterARequestDoNotHoldAConnectionOpen() async throws {
        try await withTestServer({
            $0.headerTimeout = .milliseconds(300)
            $0.idleTimeout = .seconds(60)
        }) { server in
            let client = try RawClient(port: server.port)
            try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().text == "hello")
            let closed = try await Self.trickle("\r\n", to: client, every: 100, attempts: 60)
            #expect(closed, "a CRLF every 100 ms after a request kept the connection open for 6 s")
        }
    }

    @Test func aFewBlankLinesBeforeARequestAreStillIgnored() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            for lines in ["\r\n", "\r\n\r\n\r\n", "\n\n", String(repeating: "\r\n", count: 8)] {
                try client.send(lines + "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try client.readResponse().text == "hello")
            }
        }
    }

    @Test func headWithOnlyBareLineFeedsIsRefusedAtOnce() async throws {
        // The header timeout is long, so waiting for it (the old behaviour) fails the test.
        try await withTestServer({ $0.headerTimeout = .seconds(30) }) { server in
            let client = try RawClient(port: server.port, timeout: 5)
            try client.send("GET /hello HTTP/1.1\nHost: x\n\n")
            let response = try client.readResponse()
            #expect(response.status == 400)
            #expect(response.text.contains("\"code\":\"bad_line_ending\""))
            #expect(try client.isClosedByPeer())
        }
    }

    @Test func bareLineFeedInAnUnfinishedHeadIsRefusedAtOnce() async throws {
        try await withTestServer({ $0.headerTimeout = .seconds(30) }) { server in
            let client = try RawClient(port: server.port, timeout: 5)
            // The head has not ended, but its second line already ends wrongly.
            try client.send("GET /hello HTTP/1.1\r\nHost: x\nX-A: 1\r\n")
            let response = try client.readResponse()
            #expect(response.status == 400)
            #expect(response.text.contains("\"code\":\"bad_line_ending\""))
        }
    }
}
