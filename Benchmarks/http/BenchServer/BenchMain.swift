// Entry point of the benchmark server: the engine (AllotHTTP) answering a fixed body.
// Usage: allot-http-bench [--host H] [--port P] [--threads N] [--body-size BYTES]
import AllotHTTP
import Logging
import ServiceLifecycle

@main
enum BenchMain {
    static func main() async throws {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 8080)
        var bodySize = 200
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let flag = arguments.next() {
            guard let value = arguments.next() else { fatalError("missing value for \(flag)") }
            switch flag {
            case "--host": configuration.host = value
            case "--port": configuration.port = Int(value)!
            case "--threads": configuration.threads = Int(value)!
            case "--body-size": bodySize = Int(value)!
            default: fatalError("unknown flag \(flag)")
            }
        }
        let metrics = HTTPServerMetrics(routes: ["fixed"])
        let handler = FixedResponseHandler(body: FixedResponseHandler.jsonBody(size: bodySize), route: metrics.route("fixed"))
        var logger = Logger(label: "allot.http.bench")
        logger.logLevel = .warning
        let server = try HTTPServer(configuration: configuration, metrics: metrics, logger: logger, handler: handler)
        print("listening on \(configuration.host):\(server.port) threads=\(configuration.threads) body=\(bodySize)")
        let group = ServiceGroup(
            configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        let summary = metrics.registry.render().split(separator: "\n").filter {
            $0.hasPrefix("allot_http_requests_total{route=\"fixed\",status=\"2xx\"}") || $0.hasPrefix("allot_http_rejections_total")
        }
        print(summary.joined(separator: "\n"))
    }
}
