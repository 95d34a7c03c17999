import CAllotLinux
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// State every event loop of one server shares.
final class ServerShared: Sendable {
    let openConnections = Atomic<Int>(0)
    let draining = Atomic<Bool>(false)
    /// Connections the server holds at once: `maxConnections`, or fewer to fit the descriptor limit.
    let maxConnections: Int
    /// Input-buffer bytes held by connections for unfinished requests, and the most allowed.
    let bufferedBytes = Atomic<Int>(0)
    let maxBufferedBytes: Int

    init(maxConnections: Int, maxBufferedBytes: Int) {
        self.maxConnections = maxConnections
        self.maxBufferedBytes = maxBufferedBytes
    }

    /// Takes `bytes` from the buffer budget; false, taking nothing, when that would pass it.
    @inline(__always)
    func chargeBuffer(_ bytes: Int) -> Bool {
        if bufferedBytes.wrappingAdd(bytes, ordering: .relaxed).newValue <= maxBufferedBytes { return true }
        bufferedBytes.wrappingSubtract(bytes, ordering: .relaxed)
        return false
    }

    /// Gives `bytes` back to the buffer budget (negative: takes them regardless of the limit).
    @inline(__always)
    func releaseBuffer(_ bytes: Int) {
        bufferedBytes.wrappingSubtract(bytes, ordering: .relaxed)
    }
}

/// One worker thread's event loop: the thread's entry (`run`) and the one thing other threads may
/// do to it (`wake`). The loop itself is a `LoopWorker` value, moved onto the thread's stack when
/// `run()` starts and released when it returns.
final class EventLoop: @unchecked Sendable {
    // @unchecked: `worker` is set in init and taken once by `run()` on the loop's thread; other
    // threads only call `wake()`, which goes to the poller's wake-up descriptor.

    let index: Int
    let poller: PlatformPoller
    private var worker: LoopWorker?

    init(
        index: Int, configuration: HTTPServerConfiguration, shared: ServerShared, listener: Listener,
        metrics: HTTPServerMetrics, logger: Logger, makeHandler: @Sendable (HTTPWorkerContext) -> any HTTPHandler
    ) throws(HTTPServerError) {
        self.index = index
        poller = try PlatformPoller(capacity: 256)
        let shard = metrics.registry.makeShard()
        let handler = makeHandler(HTTPWorkerContext(index: index, metrics: shard, serverMetrics: metrics, logger: logger))
        worker = LoopWorker(
            index: index, configuration: configuration, shared: shared, listener: listener, poller: poller, metrics: metrics,
            shard: shard, logger: logger, handler: handler)
    }

    /// Wakes the loop from another thread (to notice shutdown).
    func wake() {
        poller.wake()
    }

    /// Runs the loop on the calling thread until the server has shut down and every connection
    /// is closed. Once only.
    func run() {
        _ = pthread_setname_np(pthread_self(), "allot-http-\(index)")
        guard var worker = worker.take() else { return }
        worker.run()
    }
}

/// The loop proper: waits on the poller, accepts connections from the shared listener (one new
/// connection wakes one loop), passes every other event to the `ConnectionDriver` with the
/// connection it names, and sweeps deadlines.
struct LoopWorker: ~Copyable {
    static let listenerToken = UInt64.max

    /// The answer to a connection over `maxConnections`.
    static let connectionLimitResponse = HTTPResponseWriter.refusal(
        .serviceUnavailable, code: "too_many_connections", message: "the server is at its connection limit; retry later", retryAfter: 1)

    let index: Int
    let configuration: HTTPServerConfiguration
    let shared: ServerShared
    let listener: Listener
    let poller: PlatformPoller
    let logger: Logger
    let metrics: HTTPServerMetrics
    let shard: MetricsShard
    let sweepInterval: Int64

    var connections = ConnectionTable()
    var driver: ConnectionDriver
    var nextSweep: Int64 = 0
    var drainDeadline: Int64 = 0
    var listening = false
    var acceptPausedUntil: Int64 = 0
    /// Refusals this thread may still send now (a token bucket refilled at its share of
    /// `connectionRefusalRate`, holding at most a tenth of a second's worth).
    var refusals = RefusalBudget(perSecond: 0, threads: 1)
    var lastAcceptWarning: Int64 = -10_000
    /// A descriptor held in reserve: when the process runs out, it is closed to accept one
    /// waiting connection, refuse it with a 503, and opened again (-1 when it could not be).
    var spare: Int32 = Socket.openSpare()

    init(
        index: Int, configuration: HTTPServerConfiguration, shared: ServerShared, listener: Listener, poller: PlatformPoller,
        metrics: HTTPServerMetrics, shard: MetricsShard, logger: Logger, handler: any HTTPHandler
    ) {
        self.index = index
        self.configuration = configuration
        self.shared = shared
        self.listener = listener
        self.poller = poller
        self.metrics = metrics
        self.shard = shard
        self.logger = logger
        driver = ConnectionDriver(
            configuration: configuration, poller: poller, shared: shared, metrics: metrics, shard: shard, handler: handler)
        refusals = RefusalBudget(perSecond: configuration.connectionRefusalRate, threads: configuration.threads)
        let shortest = min(
            driver.headerTimeout, driver.bodyTimeout, driver.idleTimeout, driver.writeTimeout, ConnectionDriver.lingerMilliseconds)
        sweepInterval = max(5, min(1000, shortest / 4))
    }

    deinit {
        if spare >= 0 { Socket.close(spare) }
    }

    var nowMilliseconds: Int64 { driver.nowMilliseconds }

    mutating func run() {
        driver.updateClock()
        startListening()
        nextSweep = nowMilliseconds + sweepInterval
        if shared.draining.load(ordering: .acquiring) { beginDraining() }

        while !(driver.draining && connections.openCount == 0) {
            let wakeAt = acceptPausedUntil > 0 ? min(nextSweep, acceptPausedUntil) : nextSweep
            let timeout = Int32(clamping: max(0, wakeAt - nowMilliseconds))
            let ready = poller.wait(timeoutMilliseconds: timeout)
            driver.updateClock()
            for index in 0..<ready {
                let event = poller.event(at: index)
                switch event.token {
                case Self.listenerToken:
                    acceptConnections()
                case PlatformPoller.wakeToken:
                    if shared.draining.load(ordering: .acquiring) { beginDraining() }
                default:
                    _ = connections.withConnection(token: event.token) { c in driver.handleEvent(&c, event) }
                }
            }
            resumeAcceptsIfDue()
            if nowMilliseconds >= nextSweep {
                sweep()
                nextSweep = nowMilliseconds + sweepInterval
            }
        }
        connections.forEachOpen { c in driver.closeConnection(&c) }
        stopListening()
        driver.release()
    }

    private mutating func startListening() {
        guard !listening, !driver.draining else { return }
        listening = poller.register(listener.fd, interest: .exclusiveInput, token: Self.listenerToken) == 0
    }

    private mutating func stopListening() {
        guard listening else { return }
        poller.remove(listener.fd)
        listening = false
    }

    private mutating func beginDraining() {
        guard !driver.draining else { return }
        driver.draining = true
        drainDeadline = nowMilliseconds + configuration.shutdownGracePeriod.milliseconds
        stopListening()
        // Idle connections go now; the others finish their request and close after the response.
        connections.forEachOpen { c in driver.closeIfIdle(&c) }
    }

    private mutating func acceptConnections() {
        for _ in 0..<64 {
            switch Socket.accept(listener.fd) {
            case .empty:
                return
            case .retry:
                continue
            case .failed(let code) where (code == EMFILE || code == ENFILE) && spare >= 0:
                // Out of descriptors: the spare one takes the waiting connection, which gets a
                // 503 instead of hanging in the backlog.
                Socket.close(spare)
                if case .accepted(let fd) = Socket.accept(listener.fd) { rejectConnection(fd) }
                spare = Socket.openSpare()
                warnAboutAccepts(code, "out of descriptors; refusing new connections with 503")
            case .failed(let code):
                // Out of memory, or of descriptors with no spare: stop accepting for a moment
                // instead of spinning.
                warnAboutAccepts(code, "accept failed; pausing accepts")
                stopListening()
                acceptPausedUntil = nowMilliseconds + 100
                return
            case .accepted(let fd):
                if shared.openConnections.wrappingAdd(1, ordering: .relaxed).newValue > shared.maxConnections {
                    shared.openConnections.wrappingSubtract(1, ordering: .relaxed)
                    rejectConnection(fd)
                    if let wait = refusals.take(now: nowMilliseconds) {
                        // Out of refusals: the rest wait in the backlog until one is due.
                        stopListening()
                        acceptPausedUntil = nowMilliseconds + wait
                        shard.increment(metrics.acceptPauses)
                        return
                    }
                    continue
                }
                Socket.setNoDelay(fd)
                // The first request's header deadline runs from the accept.
                let token = connections.open(fd: fd, deadline: nowMilliseconds + driver.headerTimeout)
                shard.add(metrics.openConnections, 1)
                shard.increment(metrics.acceptedConnections)
                poller.register(fd, interest: .input, token: token)
            }
        }
    }

    /// Logs an accept failure, at most once every 10 s per loop.
    private mutating func warnAboutAccepts(_ code: Int32, _ message: Logger.Message) {
        guard nowMilliseconds - lastAcceptWarning >= 10_000 else { return }
        lastAcceptWarning = nowMilliseconds
        logger.warning(message, metadata: ["errno": "\(code)", "thread": "\(index)", "open_connections": "\(connections.openCount)"])
    }

    /// Answers a connection over the limit with a canned 503 and closes it.
    private func rejectConnection(_ fd: Int32) {
        metrics.recordRejection(shard, .connectionLimit)
        Socket.sendOnce(fd, Self.connectionLimitResponse)
        Socket.shutdownWrite(fd)
        Socket.close(fd)
    }

    /// Listens again once a pause in accepting is over.
    private mutating func resumeAcceptsIfDue() {
        if !listening, !driver.draining, acceptPausedUntil > 0, nowMilliseconds >= acceptPausedUntil {
            acceptPausedUntil = 0
            startListening()
        }
    }

    private mutating func sweep() {
        let force = driver.draining && nowMilliseconds >= drainDeadline
        connections.forEachOpen { c in driver.expire(&c, force: force) }
    }
}

/// How many connections over the limit a thread may still refuse: a token bucket holding at most
/// a tenth of a second of its share of the rate (at least one), refilled as time passes.
struct RefusalBudget {
    /// Refusals per second for this thread; 0 for no limit.
    let perSecond: Int
    let capacity: Double
    var tokens: Double
    var refilledAt: Int64 = 0

    init(perSecond total: Int, threads: Int) {
        perSecond = total == 0 ? 0 : max(1, total / max(1, threads))
        capacity = max(1, Double(perSecond) / 10)
        tokens = capacity
    }

    /// Spends one refusal; nil while there are refusals to spare, else the milliseconds until
    /// the next one (at least 5: accepting again sooner would only refuse again).
    mutating func take(now: Int64) -> Int64? {
        guard perSecond > 0 else { return nil }
        tokens = min(capacity, tokens + Double(max(0, now - refilledAt)) * Double(perSecond) / 1000)
        refilledAt = now
        tokens -= 1
        guard tokens < 0 else { return nil }
        return max(5, Int64((-tokens * 1000 / Double(perSecond)).rounded(.up)))
    }
}
