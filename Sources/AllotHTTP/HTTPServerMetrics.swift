/// A route label for metrics: which handler route answered. Get one from
/// `HTTPServerMetrics.route(_:)` at setup and set `response.route` in the handler.
public struct HTTPRoute: Sendable, Hashable {
    let index: Int

    /// Requests no route claimed (404s, protocol errors answered by the engine).
    public static let unmatched = HTTPRoute(index: 0)
}

/// Why the engine turned a request or connection away.
public enum HTTPRejection: String, Sendable, CaseIterable {
    /// Request line and headers over `maxHeaderBytes` or `maxHeaderCount` (431).
    case headersTooLarge = "headers_too_large"
    /// Body over `maxBodyBytes` (413).
    case bodyTooLarge = "body_too_large"
    /// Malformed request line, header, framing or chunk (400).
    case badRequest = "bad_request"
    /// Unsupported version, transfer coding or expectation (505, 501, 417).
    case unsupported = "unsupported"
    /// Head or body not received in time (408, or a silent close).
    case timeout = "timeout"
    /// Connection refused over `maxConnections` (503).
    case connectionLimit = "connection_limit"
    /// A request refused because buffering it would pass `maxBufferedBytes` (413 for a body, 503
    /// for an unfinished head).
    case bufferBudget = "buffer_budget"

    var index: Int {
        switch self {
        case .headersTooLarge: 0
        case .bodyTooLarge: 1
        case .badRequest: 2
        case .unsupported: 3
        case .timeout: 4
        case .connectionLimit: 5
        case .bufferBudget: 6
        }
    }
}

/// The engine's metrics in a registry: requests by route and status class, latency by route,
/// open and accepted connections, rejections by reason.
public final class HTTPServerMetrics: Sendable {
    public let registry: MetricsRegistry
    /// Route names; index 0 is `unmatched`.
    public let routeNames: [String]
    let requests: [Counter]
    let latency: [Histogram]
    let openConnections: Gauge
    let acceptedConnections: Counter
    let acceptPauses: Counter
    let rejections: [Counter]
    let bufferedBytes: Gauge

    /// Latency buckets, in seconds: 50 µs to 1 s.
    public static let latencyBuckets: [Double] = [
        0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
    ]

    /// Registers the engine's metrics in `registry` with one label value per route in `routes`
    /// (besides `unmatched`), named `<prefix>_...`.
    public init(registry: MetricsRegistry = MetricsRegistry(), routes: [String], prefix: String = "allot_http") {
        self.registry = registry
        var names = ["unmatched"]
        for route in routes where !names.contains(route) { names.append(route) }
        routeNames = names
        var requests: [Counter] = []
        var latency: [Histogram] = []
        for route in names {
            for statusClass in 1...5 {
                requests.append(
                    registry.counter(
                        "\(prefix)_requests_total", help: "HTTP requests answered, by route and status class.",
                        labels: [("route", route), ("status", "\(statusClass)xx")]))
            }
            latency.append(
                registry.histogram(
                    "\(prefix)_request_duration_seconds",
                    help: "Time from reading a request to its response being ready to send, by route.",
                    buckets: Self.latencyBuckets, labels: [("route", route)]))
        }
        self.requests = requests
        self.latency = latency
        openConnections = registry.gauge("\(prefix)_open_connections", help: "Open client connections.")
        acceptedConnections = registry.counter("\(prefix)_connections_total", help: "Client connections accepted.")
        acceptPauses = registry.counter(
            "\(prefix)_accept_pauses_total",
            help: "Times a thread stopped accepting for a moment: over the connection limit and out of refusals for now.")
        bufferedBytes = registry.gauge(
            "\(prefix)_buffered_request_bytes", help: "Memory held for unfinished requests (heads and bodies), across connections.")
        rejections = HTTPRejection.allCases.map { reason in
            registry.counter(
                "\(prefix)_rejections_total", help: "Requests and connections the engine turned away, by reason.",
                labels: [("reason", reason.rawValue)])
        }
    }

    /// The label for route `name`; `.unmatched` for names not given at init.
    public func route(_ name: String) -> HTTPRoute {
        HTTPRoute(index: routeNames.firstIndex(of: name) ?? 0)
    }

    @inline(__always)
    func recordResponse(_ shard: MetricsShard, route: HTTPRoute, status: HTTPStatus, seconds: Double) {
        let routeIndex = route.index < routeNames.count ? route.index : 0
        let statusClass = min(max(status.code / 100, 1), 5)
        shard.increment(requests[routeIndex * 5 + statusClass - 1])
        shard.observe(latency[routeIndex], seconds)
    }

    @inline(__always)
    func recordRejection(_ shard: MetricsShard, _ reason: HTTPRejection) {
        shard.increment(rejections[reason.index])
    }

    /// The total for `reason` so far.
    public func rejections(_ reason: HTTPRejection) -> UInt64 {
        registry.value(of: rejections[reason.index])
    }

    /// Requests answered so far for `route` in status class `statusClass` (2 for 2xx).
    public func requests(route: HTTPRoute, statusClass: Int) -> UInt64 {
        registry.value(of: requests[route.index * 5 + statusClass - 1])
    }

    /// Times accepting paused because connections over the limit came faster than the
    /// refusal rate.
    public var acceptPauseCount: UInt64 {
        registry.value(of: acceptPauses)
    }

    /// Open connections now.
    public var openConnectionCount: Int {
        Int(registry.value(of: openConnections))
    }

    /// Bytes held for unfinished requests now.
    public var bufferedRequestBytes: Int {
        Int(registry.value(of: bufferedBytes))
    }
}
