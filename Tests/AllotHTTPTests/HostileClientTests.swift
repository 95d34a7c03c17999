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
        // The header timeout (30 s) is longer than the read timeout (15 s), so waiting for it (the old
        // behaviour) fails the test.
        try await withTestServer({ $0.headerTimeout = .seconds(30) }) { server in
            let client = try RawClient(port: server.port, timeout: 15)
            try client.send("GET /hello HTTP/1.1\nHost: x\n\n")
            let response = try client.readResponse()
            #expect(response.status == 400)
            #expect(response.text.contains("\"code\":\"bad_line_ending\""))
            #expect(try client.isClosedByPeer())
        }
    }

    @Test func bareLineFeedInAnUnfinishedHeadIsRefusedAtOnce() async throws {
        try await withTestServer({ $0.headerTimeout = .seconds(30) }) { server in
            let client = try RawClient(port: server.port, timeout: 15)
            // The head has not ended, but its second line already ends wrongly.
            try client.send("GET /hello HTTP/1.1\r\nHost: x\nX-A: 1\r\n")
            let response = try client.readResponse()
            #expect(response.status == 400)
            #expect(response.text.contains("\"code\":\"bad_line_ending\""))
        }
    }

    /// A POST head announcing `length` body bytes, and the first `sent` of them.
    static func stalledUpload(port: Int, length: Int, sent: Int) throws -> RawClient {
        let client = try RawClient(port: port)
        try client.send(
            Array("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \(length)\r\n\r\n".utf8)
                + Array(repeating: UInt8(ascii: "u"), count: sent))
        return client
    }

    @Test func uploadsOverTheBufferBudgetAreRefusedAtOnce() async throws {
        // Five stalled 60 KiB uploads hold 64 KiB each: the whole 320 KiB budget.
        try await withTestServer({
            $0.maxHeaderBytes = 4096
            $0.maxBodyBytes = 64 * 1024
            $0.maxBufferedBytes = 320 * 1024
            $0.bodyTimeout = .seconds(60)
        }) { server in
            var stalled: [RawClient] = []
            for _ in 0..<5 { stalled.append(try Self.stalledUpload(port: server.port, length: 60 * 1024, sent: 1024)) }
            try await waitForBuffered(server, atLeast: 320 * 1024)

            // One more upload is refused as soon as its head is read, not after the body timeout.
            let refused = try Self.stalledUpload(port: server.port, length: 60 * 1024, sent: 1024)
            let response = try refused.readResponse()
            #expect(response.status == 413)
            #expect(response.header("Retry-After") == "1")
            #expect(response.text.contains("\"code\":\"buffers_full\""))
            #expect(try refused.isClosedByPeer())

            // An unfinished head has nowhere to wait either: 503.
            let partialHead = try RawClient(port: server.port)
            try partialHead.send("GET /hello HTTP/1.1\r\nHost: x\r\n")
            let busy = try partialHead.readResponse()
            #expect(busy.status == 503)
            #expect(busy.header("Retry-After") == "1")
            #expect(busy.text.contains("\"code\":\"buffers_full\""))

            // Requests that arrive whole need no buffering and are served as usual.
            let reader = try RawClient(port: server.port)
            try reader.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try reader.readResponse().text == "hello")
            #expect(server.metrics.rejections(.bufferBudget) == 2)

            // The stalled uploads go: their memory returns to the budget, and uploads work again.
            stalled.removeAll()
            for _ in 0..<500 where server.metrics.bufferedRequestBytes > 0 { try await pause(milliseconds: 10) }
            #expect(server.metrics.bufferedRequestBytes == 0)
            let upload = try Self.stalledUpload(port: server.port, length: 60 * 1024, sent: 1024)
            try upload.send(Array(repeating: UInt8(ascii: "u"), count: 59 * 1024))
            let echoed = try upload.readResponse()
            #expect(echoed.status == 200)
            #expect(echoed.body.count == 60 * 1024)
        }
    }

    @Test func aBodyIsBufferedInOneExactAllocation() async throws {
        // A 1 MiB upload sent in pieces is held in pages for exactly its head and body, charged once.
        try await withTestServer({ $0.bodyTimeout = .seconds(60) }) { server in
            let length = 1 << 20
            let upload = try Self.stalledUpload(port: server.port, length: length, sent: 4096)
            try await waitForBuffered(server, atLeast: length)
            let held = server.metrics.bufferedRequestBytes
            #expect(held < length + 8192, "\(held) bytes held for a 1 MiB body")
            for _ in 0..<16 { try upload.send(Array(repeating: UInt8(ascii: "u"), count: (length - 4096) / 16)) }
            let response = try upload.readResponse()
            #expect(response.status == 200)
            #expect(response.body.count == length)
            for _ in 0..<500 where server.metrics.bufferedRequestBytes > 0 { try await pause(milliseconds: 10) }
            #expect(server.metrics.bufferedRequestBytes == 0)
        }
    }

    @Test func theBudgetMustHoldOneLargestRequest() {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.maxBodyBytes = 1 << 20
        configuration.maxBufferedBytes = 1 << 20
        #expect(throws: HTTPServerError.self) { try configuration.validate() }
        configuration.maxBufferedBytes = (1 << 20) + configuration.maxHeaderBytes + 128 * 1024
        #expect(throws: Never.self) { try configuration.validate() }
    }
}
