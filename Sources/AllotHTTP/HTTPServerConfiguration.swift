#if canImport(Glibc)
    import Glibc
#endif

/// Everything the HTTP engine can be told, with defaults for an edge server.
public struct HTTPServerConfiguration: Sendable {
    /// Numeric address or name to listen on (`0.0.0.0`, `::`, `127.0.0.1`, `localhost`).
    public var host: String = "0.0.0.0"
    /// TCP port; 0 asks the kernel for a free one (see `HTTPServer.port`).
    public var port: Int = 8080
    /// Event-loop threads, each with its own epoll set and handler. Defaults to the core count.
    public var threads: Int = HTTPServerConfiguration.coreCount
    /// Open connections across all threads; further connections get a 503 and are closed.
    /// Lowered at start when the open-descriptor limit cannot hold this many (see
    /// `reservedDescriptors` and `HTTPServer.maxConnections`).
    public var maxConnections: Int = 10_000
    /// Connections over `maxConnections` answered with a 503 per second, across all threads.
    /// Beyond this rate the engine stops accepting for a moment instead: the excess waits in the
    /// kernel's backlog (and is answered when there is room or a refusal to spare) rather than
    /// costing the connections it serves a CPU spent accepting and refusing. 0 for no limit.
    public var connectionRefusalRate: Int = 1000
    /// Descriptors kept for the rest of the process (bundle poller, store connections, cache
    /// files, logs) when fitting connections under the open-descriptor limit.
    public var reservedDescriptors: Int = 64
    /// Request line plus header fields, in bytes; larger heads get 431.
    public var maxHeaderBytes: Int = 16 * 1024
    /// Header fields per request; more get 431.
    public var maxHeaderCount: Int = 100
    /// Request body, after chunked decoding; larger bodies get 413.
    public var maxBodyBytes: Int = 1 << 20
    /// Memory held for unfinished requests (heads and bodies not yet complete) across all
    /// connections. A request that would pass it is refused at once, with `Retry-After`: 413 for a
    /// body, 503 for a head. Must hold one largest request (`maxHeaderBytes + maxBodyBytes`
    /// plus 128 KiB of reads).
    public var maxBufferedBytes: Int = 64 << 20
    /// Time from a request's first byte (or from accepting the connection) to its complete head.
    /// A slow client gets 408 if it sent anything, and is closed.
    public var headerTimeout: Duration = .seconds(10)
    /// Time from a complete head to the complete body.
    public var bodyTimeout: Duration = .seconds(30)
    /// Time a keep-alive connection may sit between requests.
    public var idleTimeout: Duration = .seconds(60)
    /// Time a response may wait for the client to read it.
    public var writeTimeout: Duration = .seconds(30)
    /// On shutdown, time given to in-flight requests before connections are closed regardless.
    public var shutdownGracePeriod: Duration = .seconds(10)
    /// Requests served on one connection before it is closed; nil for no limit.
    public var maxRequestsPerConnection: Int? = nil
    /// `listen(2)` backlog.
    public var listenBacklog: Int = 1024
    /// Whether responses carry a `Date` header (formatted once per second per thread).
    public var sendsDateHeader: Bool = true
    /// A `Server` header value, or nil for none.
    public var serverName: String? = nil

    public init() {}

    /// A configuration listening on `host:port`.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Online cores.
    public static var coreCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Throws when a value is out of range.
    public func validate() throws(HTTPServerError) {
        func check(_ condition: Bool, _ message: String) throws(HTTPServerError) {
            if !condition { throw HTTPServerError(.invalidConfiguration, message) }
        }
        try check((0...65535).contains(port), "port \(port) is not in 0...65535")
        try check((1...256).contains(threads), "threads must be in 1...256, not \(threads)")
        try check(maxConnections >= 1, "maxConnections must be at least 1")
        try check(reservedDescriptors >= 0, "reservedDescriptors must not be negative")
        try check(connectionRefusalRate >= 0, "connectionRefusalRate must not be negative")
        try check((256...(1 << 20)).contains(maxHeaderBytes), "maxHeaderBytes must be in 256...1048576")
        try check((1...10_000).contains(maxHeaderCount), "maxHeaderCount must be in 1...10000")
        try check((0...(1 << 30)).contains(maxBodyBytes), "maxBodyBytes must be in 0...1073741824")
        try check(
            maxBufferedBytes >= maxHeaderBytes + maxBodyBytes + 128 * 1024,
            "maxBufferedBytes (\(maxBufferedBytes)) must hold one largest request: maxHeaderBytes + maxBodyBytes + 131072 "
                + "= \(maxHeaderBytes + maxBodyBytes + 128 * 1024)")
        for (name, value) in [
            ("headerTimeout", headerTimeout), ("bodyTimeout", bodyTimeout), ("idleTimeout", idleTimeout),
            ("writeTimeout", writeTimeout),
        ] {
            try check(value >= .milliseconds(1), "\(name) must be at least 1 ms")
        }
        try check(shutdownGracePeriod >= .zero, "shutdownGracePeriod must not be negative")
        try check((maxRequestsPerConnection ?? 1) >= 1, "maxRequestsPerConnection must be at least 1")
        if let serverName {
            try check(!serverName.utf8.contains { $0 < 0x20 || $0 == 0x7F }, "serverName holds control characters")
        }
    }
}

extension Duration {
    /// Whole milliseconds, at least 1 for positive durations.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        let value = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return value == 0 && attoseconds > 0 ? 1 : value
    }
}
