import AllotHTTP
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The engine through a real HTTP client (Foundation's URLSession, libcurl underneath).
@Suite struct URLSessionTests {
    @Test func getAndPost() async throws {
        try await withTestServer({ $0.threads = 2 }) { server in
            let session = URLSession(configuration: .ephemeral)
            let base = "http://127.0.0.1:\(server.port)"
            let (data, response) = try await session.data(from: URL(string: "\(base)/hello")!)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            #expect(String(decoding: data, as: UTF8.self) == "hello")

            var post = URLRequest(url: URL(string: "\(base)/echo?x=1")!)
            post.httpMethod = "POST"
            post.httpBody = Data(repeating: 0x41, count: 100_000)
            let (echoed, echoResponse) = try await session.data(for: post)
            let http = try #require(echoResponse as? HTTPURLResponse)
            #expect(http.statusCode == 200)
            #expect(http.value(forHTTPHeaderField: "X-Query") == "x=1")
            #expect(echoed == Data(repeating: 0x41, count: 100_000))

            let (_, missing) = try await session.data(from: URL(string: "\(base)/nothing")!)
            #expect((missing as? HTTPURLResponse)?.statusCode == 404)
        }
    }

    @Test func concurrentRequests() async throws {
        try await withTestServer({ $0.threads = 2 }) { server in
            let session = URLSession(configuration: .ephemeral)
            let port = server.port
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let (data, _) = try await session.data(from: URL(string: "http://127.0.0.1:\(port)/query?i=\(index)")!)
                        return String(decoding: data, as: UTF8.self) == "i=\(index)\n"
                    }
                }
                var good = 0
                for try await ok in group where ok { good += 1 }
                #expect(good == 40)
            }
        }
    }
}
