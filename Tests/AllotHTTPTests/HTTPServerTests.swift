import AllotHTTP
import AllotTestSupport
import Testing

/// Requests and responses on a real socket: keep-alive, pipelining, versions, HEAD, bodies.
@Suite struct HTTPServerTests {
    @Test func bindsAKernelChosenPort() async throws {
        try await withTestServer { server in
            #expect(server.port > 0)
            let client = try RawClient(port: server.port)
            try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "hello")
            #expect(response.header("Content-Length") == "5")
            #expect(response.header("Content-Type") == "text/plain")
            #expect(response.header("Date")?.hasSuffix("GMT") == true)
            #expect(response.header("Connection") == nil)
        }
    }

    @Test func serverAndDateHeadersAreConfigurable() async throws {
        try await withTestServer({
            $0.serverName = "allot-test"
            $0.sendsDateHeader = false
        }) { server in
            let client = try RawClient(port: server.port)
            try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.header("Server") == "allot-test")
            #expect(response.header("Date") == nil)
        }
    }

    @Test func handlersCannotSetEngineHeadersOrInjectLines() {
        var accepted: [Bool] = []
        // Engine-owned names, non-token names and control characters in values are refused.
        for (name, value) in [
            ("Content-Length", "1"), ("transfer-encoding", "chunked"), ("Connection", "close"), ("Date", "x"),
            ("X-Ok", "fine"), ("X-Bad", "a\r\nInjected: yes"), ("Bad Name", "x"),
        ] {
            accepted.append(HTTPResponseWriter.accepts(name: name, value: value))
        }
        #expect(accepted == [false, false, false, false, true, false, false])
    }

    @Test func keepsConnectionsAliveByDefault() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            for index in 1...5 {
                try client.send("GET /echo?n=\(index) HTTP/1.1\r\nHost: x\r\n\r\n")
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.header("X-Query") == "n=\(index)")
                #expect(response.header("X-Request") == "\(index)")
            }
        }
    }

    @Test func answersPipelinedRequestsInOrder() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            var batch = ""
            for index in 0..<200 {
                let body = String(repeating: "b", count: index % 7)
                batch += "POST /echo?i=\(index) HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }
            try client.send(batch)
            for index in 0..<200 {
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.header("X-Query") == "i=\(index)")
                #expect(response.text == String(repeating: "b", count: index % 7))
            }
        }
    }

    @Test func bodiesWrittenInPlaceKeepTheirOrderAndLength() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            // Pipelined on one connection: each response starts from an empty body, whatever the
            // previous one wrote in place.
            let counts = [7, 0, 1, 2, 30, 3, 0, 12]
            try client.send(counts.map { "GET /pieces?n=\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined())
            for count in counts {
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.text == piecesBody(count), "n=\(count)")
                #expect(response.header("Content-Length") == "\(piecesBody(count).utf8.count)")
            }
            try client.send("HEAD /pieces?n=9 HTTP/1.1\r\nHost: x\r\n\r\nGET /pieces?n=5&error=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try client.readHeadResponse()
            #expect(head.header("Content-Length") == "\(piecesBody(9).utf8.count)")
            let replaced = try client.readResponse()
            #expect(replaced.status == 409)
            #expect(replaced.text == #"{"error":{"code":"pieces","message":"replaced"}}"#)
            try client.send("GET /pieces?n=4 HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().text == piecesBody(4))
            // clearBody drops what was written in place too; room over 64 KiB is given back
            // after its response and taken again for the next.
            try client.send("GET /pieces?n=6&clear=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().text == "cleared")
            for big in [200_000, 10, 300_000] {
                try client.send("GET /pieces?n=3&big=\(big) HTTP/1.1\r\nHost: x\r\n\r\nGET /pieces?n=2 HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try client.readResponse().text == piecesBody(3) + String(repeating: "z", count: big))
                #expect(try client.readResponse().text == piecesBody(2))
            }
        }
    }

    @Test func pipelinedRequestsSplitAtEveryByteBoundary() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            let request = "POST /echo?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
            for byte in request.utf8 {
                try client.send([byte])
            }
            let first = try client.readResponse()
            #expect(first.text == "abc")
            #expect(first.header("X-Query") == "q=1")
            let second = try client.readResponse()
            #expect(second.text == "hello")
        }
    }

    @Test func closesWhenTheClientAsks() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            try client.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.header("Connection") == "close")
            #expect(try client.isClosedByPeer())
        }
    }

    @Test func closesWhenTheHandlerAsks() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            try client.send("GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.text == "bye")
            #expect(response.header("Connection") == "close")
            #expect(try client.isClosedByPeer())
        }
    }

    @Test func http10ClosesUnlessKeepAliveIsAsked() async throws {
        try await withTestServer { server in
            let plain = try RawClient(port: server.port)
            try plain.send("GET /echo HTTP/1.0\r\n\r\n")
            let response = try plain.readResponse()
            #expect(response.status == 200)
            #expect(response.header("X-Version") == "HTTP/1.0")
            #expect(response.header("Connection") == "close")
            #expect(try plain.isClosedByPeer())

            let keepAlive = try RawClient(port: server.port)
            for _ in 0..<3 {
                try keepAlive.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let answer = try keepAlive.readResponse()
                #expect(answer.status == 200)
                #expect(answer.header("Connection") == "keep-alive")
            }
        }
    }

    @Test func headAnswersHeadersWithoutTheBody() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            try client.send("HEAD /big?size=1000 HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try client.readHeadResponse()
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == "1000")
            let next = try client.readResponse()
            #expect(next.text == "hello")
        }
    }

    @Test func statusWithoutBodyHasNoContentLength() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            try client.send(
                "GET /status/204 HTTP/1.1\r\nHost: x\r\n\r\nGET /status/304 HTTP/1.1\r\nHost: x\r\n\r\nGET /status/418 HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            let noContent = try client.readResponse()
            #expect(noContent.status == 204)
            #expect(noContent.header("Content-Length") == nil)
            let notModified = try client.readResponse()
            #expect(notModified.status == 304)
            #expect(notModified.header("Content-Length") == nil)
            let teapot = try client.readResponse()
            #expect(teapot.status == 418)
            #expect(teapot.header("Content-Length") == "0")
        }
    }

    @Test func headerNamesAreCaseInsensitive() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            try client.send("GET /header?name=x-custom-thing HTTP/1.1\r\nhOsT: x\r\nX-CUSTOM-Thing:   spaced value \t\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "spaced value")
            try client.send("GET /header?name=absent HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().status == 404)
        }
    }

    @Test func responseHeadersFromTheHandler() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            try client.send("GET /cache HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.header("ETag") == "\"v42\"")
            #expect(response.header("Cache-Control") == "max-age=5")
            #expect(response.header("Retry-After") == "3")
        }
    }

    @Test func decodesQueryStrings() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            try client.send("GET /query?a=1&b=hello+world&c=%2Fx%20y&&d&e=%E2%9C%93 HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.text == "a=1\nb=hello world\nc=/x y\nd=\ne=✓\n")
            try client.send("GET /query?a=%zz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().status == 400)
        }
    }

    @Test func absoluteFormTargets() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            try client.send("GET http://example.com/echo?z=9 HTTP/1.1\r\nHost: example.com\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.header("X-Path") == "/echo")
            #expect(response.header("X-Query") == "z=9")
        }
    }

    @Test func unknownMethodsReachTheHandler() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            try client.send("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 501)
            #expect(response.text.contains("\"code\":\"not_implemented\""))
            // The connection stays usable after a handler error.
            try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().text == "hello")
        }
    }

    @Test func ignoresBlankLinesBeforeARequest() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            try client.send("\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().text == "hello")
        }
    }

    @Test func maxRequestsPerConnection() async throws {
        try await withTestServer({ $0.maxRequestsPerConnection = 2 }) { server in
            let client = try RawClient(port: server.port)
            try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().header("Connection") == nil)
            try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().header("Connection") == "close")
            #expect(try client.isClosedByPeer())
        }
    }

    @Test func largeResponsesToASlowReader() async throws {
        try await withTestServer { server in
            // A debug build under a full suite's load moves 9 MB slowly: reads wait up to 30 s.
            let client = try RawClient(port: server.port, timeout: 30)
            // Several megabytes pipelined: the socket buffer fills and the engine waits for writability.
            try client.send(String(repeating: "GET /big?size=3000000 HTTP/1.1\r\nHost: x\r\n\r\n", count: 3))
            try await pause(milliseconds: 200)
            for _ in 0..<3 {
                let response = try client.readResponse()
                #expect(response.body.count == 3_000_000)
                #expect(response.body.allSatisfy { $0 == UInt8(ascii: "a") })
            }
            try client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().text == "hello")
        }
    }

    @Test func manyConnectionsOnSeveralThreads() async throws {
        try await withTestServer({ $0.threads = 2 }) { server in
            let port = server.port
            try await withThrowingTaskGroup(of: Int.self) { group in
                for worker in 0..<16 {
                    // Each client on its own thread, not on the test pool's few.
                    group.addTask {
                        try await onThread {
                            let client = try RawClient(port: port)
                            var ok = 0
                            for index in 0..<50 {
                                try client.send(
                                    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n\(String(format3(worker)))\(String(format3(index)))"
                                )
                                let response = try client.readResponse()
                                if response.status == 200, response.text == format3(worker) + format3(index) { ok += 1 }
                            }
                            return ok
                        }
                    }
                }
                var total = 0
                for try await ok in group { total += ok }
                #expect(total == 16 * 50)
            }
        }
    }
}

func format3(_ value: Int) -> String {
    let text = String(value)
    return String(repeating: "0", count: max(0, 3 - text.count)) + text
}
