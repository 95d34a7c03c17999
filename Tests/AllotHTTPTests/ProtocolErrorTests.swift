import AllotHTTP
import AllotTestSupport
import Testing

/// Requests the engine refuses itself: each gets its status, a JSON error body, and a close.
@Suite struct ProtocolErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let request: String
        let status: Int
        let code: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "request line without version", request: "GET /\r\nHost: x\r\n\r\n", status: 400, code: "bad_request_line"),
        Case(name: "lowercase version", request: "GET / http/1.1\r\nHost: x\r\n\r\n", status: 400, code: "bad_version"),
        Case(name: "two spaces", request: "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", status: 400, code: "bad_request_line"),
        Case(name: "control byte in target", request: "GET /a\u{1}b HTTP/1.1\r\nHost: x\r\n\r\n", status: 400, code: "bad_request_target"),
        Case(name: "non-token method", request: "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", status: 400, code: "bad_request_line"),
        Case(name: "relative target", request: "GET hello HTTP/1.1\r\nHost: x\r\n\r\n", status: 400, code: "bad_request_target"),
        Case(name: "HTTP/2.0", request: "GET / HTTP/2.0\r\nHost: x\r\n\r\n", status: 505, code: "unsupported_version"),
        Case(name: "space before colon", request: "GET / HTTP/1.1\r\nHost : x\r\n\r\n", status: 400, code: "bad_header"),
        Case(name: "header without colon", request: "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", status: 400, code: "bad_header"),
        Case(
            name: "obsolete line folding", request: "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n", status: 400,
            code: "bad_header"),
        Case(name: "bare CR in value", request: "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r2\r\n\r\n", status: 400, code: "bad_header"),
        Case(name: "bare LF line ending", request: "GET / HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n", status: 400, code: "bad_line_ending"),
        Case(name: "missing Host", request: "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", status: 400, code: "bad_host"),
        Case(name: "two Hosts", request: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400, code: "bad_host"),
        Case(
            name: "non-numeric Content-Length", request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", status: 400,
            code: "bad_content_length"),
        Case(
            name: "negative Content-Length", request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", status: 400,
            code: "bad_content_length"),
        Case(
            name: "conflicting Content-Lengths", request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            status: 400, code: "bad_content_length"),
        Case(
            name: "Content-Length and Transfer-Encoding",
            request: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400,
            code: "conflicting_framing"),
        Case(
            name: "unsupported transfer coding", request: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            status: 501, code: "unsupported_transfer_encoding"),
        Case(
            name: "Transfer-Encoding in HTTP/1.0", request: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400,
            code: "bad_transfer_encoding"),
        Case(
            name: "chunk size not hex",
            request: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
            status: 400, code: "bad_chunk"),
        Case(
            name: "chunk size overflow",
            request: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\nx\r\n0\r\n\r\n",
            status: 400,
            code: "bad_chunk"),
        Case(
            name: "chunk data longer than its size",
            request: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", status: 400,
            code: "bad_chunk"),
        Case(
            name: "chunk line without CR",
            request: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n",
            status: 400, code: "bad_chunk"),
        Case(
            name: "unsupported expectation", request: "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx",
            status: 417, code: "unsupported_expectation"),
        Case(
            name: "body over the limit", request: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n", status: 413,
            code: "body_too_large"),
        Case(
            name: "chunked body over the limit",
            request: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + String(repeating: "a", count: 1024)
                + "\r\n1\r\na\r\n0\r\n\r\n", status: 413, code: "body_too_large"),
        Case(
            name: "headers over the limit",
            request: "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "h", count: 5000) + "\r\n\r\n",
            status: 431, code: "headers_too_large"),
        Case(
            name: "request line over the limit", request: "GET /" + String(repeating: "p", count: 5000) + " HTTP/1.1\r\nHost: x\r\n\r\n",
            status: 431, code: "headers_too_large"),
        Case(
            name: "bare LF on every line", request: "GET / HTTP/1.1\nHost: x\n\n", status: 400, code: "bad_line_ending"),
        Case(
            name: "bare LF after the request line", request: "GET / HTTP/1.1\nHost: x\r\n\r\n", status: 400, code: "bad_line_ending"),
        Case(
            name: "too many blank lines before the request line",
            request: String(repeating: "\r\n", count: 9) + "GET / HTTP/1.1\r\nHost: x\r\n\r\n", status: 400, code: "bad_request_line"),
        Case(name: "Host with space, slash and at", request: "GET / HTTP/1.1\r\nHost: a b/c@d\r\n\r\n", status: 400, code: "bad_host"),
        Case(name: "Host with userinfo", request: "GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n", status: 400, code: "bad_host"),
        Case(name: "Host with a path", request: "GET / HTTP/1.1\r\nHost: example.com/admin\r\n\r\n", status: 400, code: "bad_host"),
        Case(name: "Host with a bad port", request: "GET / HTTP/1.1\r\nHost: example.com:80a\r\n\r\n", status: 400, code: "bad_host"),
        Case(name: "Host with two ports", request: "GET / HTTP/1.1\r\nHost: example.com:80:81\r\n\r\n", status: 400, code: "bad_host"),
        Case(name: "Host with an open IP literal", request: "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", status: 400, code: "bad_host"),
        Case(name: "Host with a bad IP literal", request: "GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n", status: 400, code: "bad_host"),
        Case(name: "Host with a bad escape", request: "GET / HTTP/1.1\r\nHost: a%zzb\r\n\r\n", status: 400, code: "bad_host"),
        Case(name: "Host with non-ASCII bytes", request: "GET / HTTP/1.1\r\nHost: bücher.example\r\n\r\n", status: 400, code: "bad_host"),
        Case(name: "two Hosts in HTTP/1.0", request: "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", status: 400, code: "bad_host"),
        Case(name: "bad Host in HTTP/1.0", request: "GET / HTTP/1.0\r\nHost: a b\r\n\r\n", status: 400, code: "bad_host"),
        Case(
            name: "trailer without a colon",
            request: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Trailer\r\n\r\n",
            status: 400, code: "bad_chunk"),
        Case(
            name: "trailer with space before the colon",
            request: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Trailer : 1\r\n\r\n",
            status: 400, code: "bad_chunk"),
        Case(
            name: "trailer with a control byte",
            request: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Trailer: 1\u{1}2\r\n\r\n",
            status: 400, code: "bad_chunk"),
        Case(
            name: "trailer with a bare CR",
            request: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Trailer: 1\r2\r\n\r\n",
            status: 400, code: "bad_chunk"),
        Case(
            name: "trailer folded onto a second line",
            request: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-Trailer: 1\r\n 2\r\n\r\n",
            status: 400, code: "bad_chunk"),
        Case(
            name: "too many header fields",
            request: "GET / HTTP/1.1\r\nHost: x\r\n" + (0..<40).map { "X-\($0): 1\r\n" }.joined() + "\r\n", status: 431,
            code: "too_many_headers"),
    ]

    @Test(arguments: cases)
    func refusesWithJSONErrorAndCloses(_ testCase: Case) async throws {
        try await withTestServer({
            $0.maxHeaderBytes = 4096
            $0.maxHeaderCount = 32
            $0.maxBodyBytes = 1024
        }) { server in
            let client = try RawClient(port: server.port)
            try client.send(testCase.request)
            let response = try client.readResponse()
            #expect(response.status == testCase.status)
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.header("Connection") == "close")
            #expect(response.text.hasPrefix("{\"error\":{\"code\":\"\(testCase.code)\",\"message\":\""))
            #expect(response.text.hasSuffix("\"}}"))
            #expect(try client.isClosedByPeer())
        }
    }

    @Test(arguments: [
        "example.com", "example.com:8080", "EXAMPLE.com:", "127.0.0.1:80", "[::1]:8080", "[2001:db8::7]", "[::ffff:192.0.2.1]",
        "[v1.fe80::a+en1]", "", "xn--bcher-kva.example", "a%20b", "_srv.example", "sub-delims!$&'()*+,;=",
    ])
    func validHostsAreAccepted(_ host: String) async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            try client.send("GET /hello HTTP/1.1\r\nHost: \(host)\r\n\r\n")
            #expect(try client.readResponse().text == "hello")
            try client.send("GET /hello HTTP/1.0\r\nHost: \(host)\r\n\r\n")
            #expect(try client.readResponse().text == "hello")
        }
    }

    @Test func wellFormedTrailersAreAccepted() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            try client.send(
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
                    + "X-Checksum: 1234\r\nX-Empty:\r\nX-Spaced:  v  \r\n\r\n")
            #expect(try client.readResponse().text == "abc")
        }
    }

    @Test func headersOverTheLimitWithoutEverEnding() async throws {
        try await withTestServer({ $0.maxHeaderBytes = 1024 }) { server in
            let client = try RawClient(port: server.port)
            // No blank line at all: the engine must give up once the limit is passed.
            try client.send("GET / HTTP/1.1\r\nHost: x\r\nX-Endless: " + String(repeating: "e", count: 3000))
            let response = try client.readResponse()
            #expect(response.status == 431)
            #expect(try client.isClosedByPeer())
        }
    }

    @Test func errorsAreCountedByReason() async throws {
        try await withTestServer({ $0.maxBodyBytes = 10 }) { server in
            for request in [
                "GET / HTTP/1.1\r\n\r\n", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", "GET / HTTP/3.0\r\nHost: x\r\n\r\n",
            ] {
                let client = try RawClient(port: server.port)
                try client.send(request)
                _ = try client.readResponse()
                _ = try client.isClosedByPeer()
            }
            #expect(server.metrics.rejections(.badRequest) == 1)
            #expect(server.metrics.rejections(.bodyTooLarge) == 1)
            #expect(server.metrics.rejections(.unsupported) == 1)
            #expect(server.metrics.requests(route: .unmatched, statusClass: 4) == 2)
            #expect(server.metrics.requests(route: .unmatched, statusClass: 5) == 1)
        }
    }
}
