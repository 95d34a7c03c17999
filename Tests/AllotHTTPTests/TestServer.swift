import AllotHTTP
import AllotTestSupport
import Logging
import Testing

/// The routes the test handler answers, also its metrics route labels.
let testRoutes = ["hello", "echo", "header", "query", "close", "status", "big", "cache", "pieces"]

/// A handler exercising the engine's request and response API.
///
/// - `/hello`: 200 `hello`
/// - `/echo`: the body back, with `X-Method`, `X-Path`, `X-Query`, `X-Version`, `X-Request` (per-thread count)
/// - `/header?name=N`: the value of request header N, 404 if absent
/// - `/query?...`: decoded pairs, one `key=value` line each; 400 on a bad escape
/// - `/close`: `Connection: close` requested by the handler
/// - `/status/NNN`: an empty response with that status
/// - `/big?size=N`: N bytes of `a`
/// - `/cache`: ETag, Cache-Control and Retry-After
/// - `/pieces?n=N[&big=K][&clear=1][&error=1]`: `piecesBody(N)`, built from appends to `body` (even
///   pieces) and writes in place with `appendBody` (odd ones, into more room than they use), then
///   K bytes of `z` written in place; with `clear=1` the body is then cleared and `cleared`
///   written; with `error=1` replaced by a 409 error afterwards
/// - anything else 404; methods outside GET/HEAD/POST/PUT 501
struct TestHandler: HTTPHandler {
    let routes: [String: HTTPRoute]
    var requestCount = 0
    var scratch: [UInt8] = []

    init(_ context: HTTPWorkerContext) {
        var routes: [String: HTTPRoute] = [:]
        for name in testRoutes { routes[name] = context.serverMetrics.route(name) }
        self.routes = routes
    }

    mutating func handle(_ request: borrowing HTTPRequest, _ response: inout HTTPResponseWriter) {
        requestCount += 1
        switch request.method {
        case .get, .head, .post, .put: break
        default:
            response.writeError(
                .notImplemented, code: "not_implemented",
                message: "method \(String(decoding: request.methodBytes, as: UTF8.self)) is not implemented")
            return
        }
        let path = request.pathString
        response.setContentType("text/plain")
        switch path {
        case "/hello":
            response.route = routes["hello"]!
            response.write("hello")
        case "/echo":
            response.route = routes["echo"]!
            response.addHeader("X-Method", String(decoding: request.methodBytes, as: UTF8.self))
            response.addHeader("X-Path", request.pathString)
            response.addHeader("X-Query", String(decoding: request.query, as: UTF8.self))
            response.addHeader("X-Version", request.version.description)
            response.addHeader("X-Request", String(requestCount))
            response.write(request.body)
        case "/header":
            response.route = routes["header"]!
            let items = HTTPQuery.items(request.query) ?? []
            guard let name = items.first(where: { $0.key == "name" })?.value, let value = request.headerString(name) else {
                response.writeError(.notFound, code: "no_header", message: "no such header")
                return
            }
            response.write(value)
        case "/query":
            response.route = routes["query"]!
            var lines = ""
            let valid = HTTPQuery.forEachPair(request.query, scratch: &scratch) { key, value in
                lines += String(decoding: key, as: UTF8.self) + "=" + String(decoding: value, as: UTF8.self) + "\n"
            }
            guard valid else {
                response.writeError(.badRequest, code: "bad_query", message: "malformed percent escape")
                return
            }
            response.write(lines)
        case "/close":
            response.route = routes["close"]!
            response.closeConnection()
            response.write("bye")
        case "/big":
            response.route = routes["big"]!
            let size = HTTPQuery.items(request.query)?.first { $0.key == "size" }.flatMap { Int($0.value) } ?? 0
            // Built in one fill: element by element, a debug build spends seconds on 3 MB under load.
            response.body.append(contentsOf: [UInt8](repeating: UInt8(ascii: "a"), count: size))
        case "/pieces":
            response.route = routes["pieces"]!
            let items = HTTPQuery.items(request.query) ?? []
            let count = items.first { $0.key == "n" }.flatMap { Int($0.value) } ?? 0
            for index in 0..<count {
                let piece = Array(bodyPiece(index).utf8)
                if index % 2 == 0 {
                    response.body.append(contentsOf: piece)
                } else {
                    response.appendBody(maxLength: piece.count + index * 100) { room in
                        room.copyBytes(from: piece)
                        return piece.count
                    }
                }
            }
            let big = items.first { $0.key == "big" }.flatMap { Int($0.value) } ?? 0
            if big > 0 {
                response.appendBody(maxLength: big) { room in
                    room.initializeMemory(as: UInt8.self, repeating: UInt8(ascii: "z"))
                    return big
                }
            }
            if items.contains(where: { $0.key == "clear" }) {
                response.clearBody()
                response.write("cleared")
            }
            if items.contains(where: { $0.key == "error" }) {
                response.writeError(.conflict, code: "pieces", message: "replaced")
            }
        case "/cache":
            response.route = routes["cache"]!
            response.addHeader("ETag", "\"v42\"")
            response.addHeader("Cache-Control", "max-age=5")
            response.setRetryAfter(seconds: 3)
            response.write("{}")
        default:
            if path.hasPrefix("/status/"), let code = Int(path.dropFirst(8)) {
                response.route = routes["status"]!
                response.status = HTTPStatus(code)
                return
            }
            response.writeError(.notFound, code: "not_found", message: "no route for \(path)")
        }
    }
}

/// Piece `index` of `/pieces`.
func bodyPiece(_ index: Int) -> String { index % 2 == 0 ? "<\(index)>" : "[\(index)]" }

/// What `/pieces?n=N` answers.
func piecesBody(_ count: Int) -> String { (0..<count).map(bodyPiece).joined() }

/// Waits until `server` holds `bytes` for unfinished requests (its loop has read them).
func waitForBuffered(_ server: HTTPServer, atLeast bytes: Int) async throws {
    for _ in 0..<500 where server.metrics.bufferedRequestBytes < bytes { try await pause(milliseconds: 10) }
    #expect(server.metrics.bufferedRequestBytes >= bytes)
}

/// Runs an `HTTPServer` on 127.0.0.1 with a kernel-chosen port for the duration of `body`, then
/// shuts it down and waits for `run()` to return.
func withTestServer(
    _ configure: (inout HTTPServerConfiguration) -> Void = { _ in },
    _ body: (HTTPServer) async throws -> Void
) async throws {
    var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
    configuration.threads = 1
    configure(&configuration)
    var logger = Logger(label: "allot.http.test")
    logger.logLevel = .error
    let server = try HTTPServer(
        configuration: configuration, metrics: HTTPServerMetrics(routes: testRoutes), logger: logger,
        makeHandler: { TestHandler($0) })
    let task = try await startRunning(server)
    do {
        try await body(server)
    } catch {
        server.shutdown()
        try? await task.value
        throw error
    }
    server.shutdown()
    try await task.value
}

/// Sleeps on the test's task.
func pause(milliseconds: Int) async throws {
    try await Task.sleep(for: .milliseconds(milliseconds))
}
