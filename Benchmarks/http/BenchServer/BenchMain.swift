// Entry point of the benchmark server: the engine (AllotHTTP) answering a fixed body.
// Usage: allot-http-bench [--host H] [--port P] [--threads N] [--body-size BYTES] [--max-connections N] [--connection-refusal-rate N]
//                         [--reserved-descriptors N] [--max-buffered-bytes BYTES]
//
// The main function is synchronous and waits for the service group on a semaphore: an `async`
// main parks the main thread in libdispatch's `sigsuspend`, which valgrind 3.19 cannot run, and
// Benchmarks/http/count-instructions.sh runs this server under callgrind.
import AllotHTTP
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

@main
enum BenchMain {
    static func main() throws {
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
            case "--max-connections": configuration.maxConnections = Int(value)!
            case "--connection-refusal-rate": configuration.connectionRefusalRate = Int(value)!
            case "--reserved-descriptors": configuration.reservedDescriptors = Int(value)!
            case "--max-buffered-bytes": configuration.maxBufferedBytes = Int(value)!
            default: fatalError("unknown flag \(flag)")
            }
        }
        let metrics = HTTPServerMetrics(routes: ["fixed"])
        let handler = FixedResponseHandler(body: FixedResponseHandler.jsonBody(size: bodySize), route: metrics.route("fixed"))
        var logger = Logger(label: "allot.http.bench")
        logger.logLevel = .info
        let server = try HTTPServer(configuration: configuration, metrics: metrics, logger: logger, handler: handler)
        print(
            "listening on \(configuration.host):\(server.port) threads=\(configuration.threads) body=\(bodySize) "
                + "max_connections=\(server.maxConnections)")
        let group = ServiceGroup(
            configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let finished = Finished()
        Task.detached {
            do {
                try await group.run()
            } catch {
                print("server failed: \(error)")
            }
            finished.signal()
        }
        finished.wait()
        let summary = metrics.registry.render().split(separator: "\n").filter {
            $0.hasPrefix("allot_http_requests_total{route=\"fixed\",status=\"2xx\"}") || $0.hasPrefix("allot_http_rejections_total")
        }
        print(summary.joined(separator: "\n"))
    }
}

/// A one-shot signal from the service group's task to the main thread (which sleeps in
/// `sem_wait`, spending no instructions while the server runs).
final class Finished: @unchecked Sendable {
    // @unchecked: the semaphore is made in init, then only posted and waited on (both thread-safe).
    private let state = Mutex(false)
    private let semaphore: UnsafeMutablePointer<sem_t>

    init() {
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, 0)
    }

    func signal() {
        state.withLock { $0 = true }
        sem_post(semaphore)
    }

    func wait() {
        while !state.withLock({ $0 }) { sem_wait(semaphore) }
    }
}
