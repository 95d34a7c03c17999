public import Logging

/// Answers requests. The server makes one handler per worker thread (the factory given to
/// `HTTPServer.init` runs once per worker when `run()` starts), and only that worker ever calls it,
/// so a handler may keep per-thread scratch state (evaluator input, buffers) without locks.
///
/// `handle` runs on the event loop: it must not block (no file or network I/O, no waiting on
/// locks held for long). Write the response into `response`; the request's byte views are valid
/// only during the call.
public protocol HTTPHandler {
    mutating func handle(_ request: borrowing HTTPRequest, _ response: inout HTTPResponseWriter)
}

/// What a worker thread gives the handler it creates.
public struct HTTPWorkerContext: Sendable {
    /// The worker's index, 0..<threads.
    public let index: Int
    /// This thread's metrics shard: update metrics from the handler without contention.
    public let metrics: MetricsShard
    /// The server's metrics (registry, route labels).
    public let serverMetrics: HTTPServerMetrics
    public let logger: Logger
}
