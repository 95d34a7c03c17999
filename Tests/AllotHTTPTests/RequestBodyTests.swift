import AllotHTTP
import AllotTestSupport
import Testing

/// Content-Length and chunked bodies, `Expect: 100-continue`.
@Suite struct RequestBodyTests {
    @Test func contentLengthBodyArrivingInPieces() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            let body = String(repeating: "0123456789", count: 10_000)
            try client.send("PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
            let bytes = Array(body.utf8)
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + 7919)
                try client.send(Array(bytes[offset..<end]))
                offset = end
            }
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.body == bytes)
        }
    }

    @Test func chunkedBodyIsDecoded() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            try client.send(
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "5\r\nhello\r\n1;ext=1\r\n \r\nA \r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n"
                    + "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "hello 0123456789")
            #expect(try client.readResponse().text == "hello")
        }
    }

    @Test func chunkedBodyByteByByte() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            var chunks = ""
            var expected = ""
            for index in 1...40 {
                let piece = String(repeating: Character(UnicodeScalar(UInt8(65 + index % 26))), count: index)
                chunks += String(index, radix: 16) + "\r\n" + piece + "\r\n"
                expected += piece
            }
            let request = "POST /echo HTTP/1.1\r\nHost: x\r\ntransfer-encoding: Chunked\r\n\r\n" + chunks + "0\r\n\r\n"
            for byte in request.utf8 { try client.send([byte]) }
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == expected)
        }
    }

    @Test func largeChunkedBodyWithinTheLimit() async throws {
        try await withTestServer({ $0.maxBodyBytes = 300_000 }) { server in
            let client = try RawClient(port: server.port)
            var request = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            for _ in 0..<100 { request += "BB8\r\n" + String(repeating: "z", count: 3000) + "\r\n" }
            request += "0\r\n\r\n"
            try client.send(request)
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.body.count == 300_000)
        }
    }

    @Test func expectContinue() async throws {
        try await withTestServer { server in
            let client = try RawClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            let interim = try client.readResponse()
            #expect(interim.status == 100)
            try client.send("data")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "data")
        }
    }

    @Test func expectContinueOverTheLimitGets413WithoutContinue() async throws {
        try await withTestServer({ $0.maxBodyBytes = 10 }) { server in
            let client = try RawClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 413)
            #expect(try client.isClosedByPeer())
        }
    }

    @Test func bodyExactlyAtTheLimit() async throws {
        try await withTestServer({ $0.maxBodyBytes = 10 }) { server in
            let client = try RawClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789")
            #expect(try client.readResponse().status == 200)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n")
            #expect(try client.readResponse().text == "0123456789")
        }
    }
}
