import AllotCore
public import Logging
public import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The HTTP/1.1 engine: one epoll event loop per thread over a shared listening socket, requests
/// parsed in place and answered synchronously by a per-thread `HTTPHandler`.
///
/// The socket is bound in `init`, so `port` is known before `run()` (useful with port 0). `run()`
/// starts the threads and returns once they have stopped: on graceful shutdown or cancellation
/// the server stops accepting, closes idle connections, lets in-flight requests finish (up to
/// `shutdownGracePeriod`) and joins its threads.
public final class HTTPServer: Service, Sendable {
    public let configuration: HTTPServerConfiguration
    /// The bound port.
    public let port: Int
    /// The engine's metrics (and their registry).
    public let metrics: HTTPServerMetrics
    /// Connections taken at once: `configuration.maxConnections`, or fewer when the
    /// open-descriptor limit (raised toward its hard limit at init) cannot hold that many.
    public let maxConnections: Int

    let listener: Listener
    let logger: Logger
    let makeHandler: @Sendable (HTTPWorkerContext) -> any HTTPHandler
    let shared: ServerShared
    let state = Mutex(RunState())

    struct RunState: ~Copyable {
        var started = false
        var shutdownRequested = false
        var listenerClosed = false
        var loops: [EventLoop] = []
        var running = 0
        var finished = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    /// Binds the listening socket. `makeHandler` is called once per worker thread, with that
    /// thread's context, to make the handler the thread uses for all its requests.
    public init(
        configuration: HTTPServerConfiguration,
        metrics: HTTPServerMetrics? = nil,
        logger: Logger = Logger(label: "allot.http"),
        makeHandler: @escaping @Sendable (HTTPWorkerContext) -> any HTTPHandler
    ) throws(HTTPServerError) {
        try configuration.validate()
        self.configuration = configuration
        self.metrics = metrics ?? HTTPServerMetrics(routes: [])
        self.logger = logger
        self.makeHandler = makeHandler
        maxConnections = try Self.fitConnections(configuration, logger: logger)
        shared = ServerShared(maxConnections: maxConnections, maxBufferedBytes: configuration.maxBufferedBytes)
        listener = try Listener.bind(host: configuration.host, port: configuration.port, backlog: configuration.listenBacklog)
        port = listener.port
    }

    /// Binds the listening socket; every thread uses a copy of `handler`.
    public convenience init(
        configuration: HTTPServerConfiguration,
        metrics: HTTPServerMetrics? = nil,
        logger: Logger = Logger(label: "allot.http"),
        handler: some HTTPHandler & Sendable
    ) throws(HTTPServerError) {
        try self.init(configuration: configuration, metrics: metrics, logger: logger) { _ in handler }
    }

    deinit {
        let closeListener = state.withLock { state in
            defer { state.listenerClosed = true }
            return !state.listenerClosed
        }
        if closeListener { listener.close() }
    }

    /// Descriptors the engine itself keeps open: the listener, and per loop its poller's two and
    /// a spare for refusing connections when the process is out of descriptors.
    static func engineDescriptors(threads: Int) -> Int { 1 + 3 * threads }

    /// Raises the open-descriptor limit toward what `maxConnections` needs and returns how many
    /// connections fit under it, saying so in the log when that is fewer.
    private static func fitConnections(_ configuration: HTTPServerConfiguration, logger: Logger) throws(HTTPServerError) -> Int {
        let kept = configuration.reservedDescriptors + engineDescriptors(threads: configuration.threads)
        let (wanted, overflow) = configuration.maxConnections.addingReportingOverflow(kept)
        let limit = DescriptorLimit.raise(toward: overflow ? .max : wanted)
        if limit.soft > limit.before {
            logger.info(
                "raised the open-descriptor limit",
                metadata: ["from": "\(limit.before)", "to": "\(limit.soft)", "hard_limit": "\(limit.hard)"])
        }
        let fitting = limit.soft == .max ? configuration.maxConnections : limit.soft - kept
        guard fitting >= 1 else {
            throw HTTPServerError(
                .descriptorLimit,
                "the open-descriptor limit (\(limit.soft), hard \(limit.hard)) leaves no room for connections: \(kept) are kept "
                    + "for the engine and the rest of the process (reservedDescriptors \(configuration.reservedDescriptors))")
        }
        guard fitting < configuration.maxConnections else { return configuration.maxConnections }
        logger.warning(
            "connection limit lowered to fit the open-descriptor limit",
            metadata: [
                "max_connections": "\(configuration.maxConnections)", "effective_max_connections": "\(fitting)",
                "descriptor_limit": "\(limit.soft)", "hard_limit": "\(limit.hard)", "reserved_descriptors": "\(kept)",
            ])
        return fitting
    }

    /// Serves until graceful shutdown or cancellation, then drains and returns.
    public func run() async throws {
        let threads = try start()
        logger.info(
            "HTTP server listening",
            metadata: ["host": "\(configuration.host)", "port": "\(port)", "threads": "\(configuration.threads)"])
        await withTaskCancellationOrGracefulShutdownHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = state.withLock { state in
                    if state.finished { return true }
                    state.waiter = continuation
                    return false
                }
                if done { continuation.resume() }
            }
        } onCancelOrGracefulShutdown: {
            self.shutdown()
        }
        for thread in threads { pthread_join(thread, nil) }
        let closeListener = state.withLock { state in
            defer { state.listenerClosed = true }
            return !state.listenerClosed
        }
        if closeListener { listener.close() }
        logger.info("HTTP server stopped", metadata: ["port": "\(port)"])
    }

    /// Starts graceful shutdown: stop accepting, finish in-flight requests, close. Idempotent;
    /// `run()` returns when it is complete.
    public func shutdown() {
        let loops = state.withLock { state -> [EventLoop] in
            if state.shutdownRequested { return [] }
            state.shutdownRequested = true
            return state.loops
        }
        shared.draining.store(true, ordering: .releasing)
        for loop in loops { loop.wake() }
    }

    /// Whether the event loops are running (started by `run()`, not yet stopped). Connections made
    /// before are queued by the kernel and served once the loops start.
    public var isRunning: Bool {
        state.withLock { $0.started && !$0.finished && $0.running > 0 }
    }

    /// Connections open right now, across threads.
    public var openConnections: Int {
        shared.openConnections.load(ordering: .relaxed)
    }

    private func start() throws(HTTPServerError) -> [pthread_t] {
        let alreadyStarted = state.withLock { state in
            defer { state.started = true }
            return state.started
        }
        guard !alreadyStarted else { throw HTTPServerError(.alreadyRunning, "the server is already running") }

        // A loop that never runs releases its poller and buffers when it is dropped.
        var loops: [EventLoop] = []
        for index in 0..<configuration.threads {
            loops.append(
                try EventLoop(
                    index: index, configuration: configuration, shared: shared, listener: listener, metrics: metrics,
                    logger: logger, makeHandler: makeHandler))
        }
        state.withLock { state in
            state.loops = loops
            state.running = loops.count
        }
        var threads: [pthread_t] = []
        for loop in loops {
            let thread: pthread_t
            do throws(SystemError) {
                thread = try PlatformThread.start { [self] in
                    loop.run()
                    self.loopFinished()
                }
            } catch {
                // Threads already running stop through the normal shutdown path.
                shutdown()
                state.withLock { $0.running -= loops.count - threads.count }
                for running in threads { pthread_join(running, nil) }
                throw HTTPServerError(.thread, "pthread_create", errno: error.errno)
            }
            threads.append(thread)
        }
        let wakeNow = state.withLock { $0.shutdownRequested }
        if wakeNow { for loop in loops { loop.wake() } }
        return threads
    }

    private func loopFinished() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.running -= 1
            guard state.running == 0 else { return nil }
            state.finished = true
            // The loops are done: let them (their pollers and buffers) go.
            state.loops = []
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}
