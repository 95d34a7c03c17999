import AllotHTTP
import AllotTestSupport
import Testing

/// Bytes from a hostile or broken client never crash the server or leave it stuck.
@Suite struct GarbageInputTests {
    static let fragments: [String] = [
        "GET ", "POST ", "/echo", "?a=%", " HTTP/1.1", " HTTP/1.0", "\r\n", "\n", "\r", "Host: x", "Content-Length: ", "5",
        "99999999999999999999", "Transfer-Encoding: chunked", "0\r\n\r\n", "ff;x\r\n", ": ", "\t", " ", "\u{0}", "é",
        "Expect: 100-continue",
        "Connection: close", "\r\n\r\n",
    ]

    @Test func randomRequestsGetAnAnswerOrAClose() async throws {
        try await withTestServer({
            $0.headerTimeout = .milliseconds(200)
            $0.bodyTimeout = .milliseconds(200)
            $0.idleTimeout = .milliseconds(200)
            $0.maxHeaderBytes = 1024
            $0.maxBodyBytes = 4096
        }) { server in
            let port = server.port
            // Blocking reads on their own thread: about 80 timeouts' worth must not hold the test
            // pool's few threads. Problems come back as text and are recorded here.
            let problems = try await onThread { () -> [String] in
                var problems: [String] = []
                var random = SeededRandom(seed: 20_261_129)  // deterministic, so a failure can be replayed
                for _ in 0..<80 {
                    var request: [UInt8] = []
                    for _ in 0..<Int.random(in: 1...24, using: &random) {
                        if Int.random(in: 0..<5, using: &random) == 0 {
                            request.append(UInt8.random(in: 0...255, using: &random))
                        } else {
                            request.append(contentsOf: Self.fragments.randomElement(using: &random)!.utf8)
                        }
                    }
                    let shown = String(decoding: request, as: UTF8.self).debugDescription
                    let client = try RawClient(port: port)
                    try client.send(request)
                    // Whatever came back must be HTTP responses, then a close (by the server's error
                    // handling or its timeouts); the read never hangs past the client timeout.
                    do {
                        let answer = try client.readUntilClosed()
                        if !answer.isEmpty, !answer.starts(with: Array("HTTP/1.1 ".utf8)) {
                            problems.append("not a response after \(shown): \(String(decoding: answer.prefix(80), as: UTF8.self))")
                        }
                    } catch {
                        problems.append("no close after \(shown): \(error)")
                    }
                }
                return problems
            }
            #expect(problems.isEmpty, "\(problems)")
            let check = try RawClient(port: server.port)
            try check.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try check.readResponse().text == "hello")
        }
    }
}
