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
}

/// One worker thread's event loop: an epoll set with the shared listener (`EPOLLEXCLUSIVE`), an
/// eventfd for wake-ups, and the connections this thread accepted. Everything here is touched by
/// that thread alone, except `wake()`.
///
/// A readable connection is read into the loop's shared buffer; every complete request in it is
/// parsed in place, handed to the handler, and its response appended to the loop's output buffer;
/// the responses go out in one `send`. Only what is left over (a partial request, unsent output)
/// is copied into the connection's own buffers.
final class EventLoop: @unchecked Sendable {
    // @unchecked: after `run()` starts, only the loop's own thread touches its state; other
    // threads call `wake()`, which writes to the eventfd and nothing else.

    static let listenerToken = UInt64.max
    static let wakeToken = UInt64.max - 1
    static let readBufferSize = 64 * 1024
    static let flushThreshold = 64 * 1024
    static let lingerMilliseconds: Int64 = 2000

    let index: Int
    let configuration: HTTPServerConfiguration
    let shared: ServerShared
    let listener: Listener
    let poll: EventPoll
    let wakeFD: Int32
    let logger: Logger
    let metrics: HTTPServerMetrics
    let shard: MetricsShard

    var handler: any HTTPHandler
    var writer = HTTPResponseWriter()

    var connections: UnsafeMutablePointer<Connection>
    var connectionCapacity = 0
    var highWater = 0
    var freeHead = -1
    var openCount = 0

    let fields: UnsafeMutablePointer<HeaderField>
    let readBuffer: UnsafeMutablePointer<UInt8>
    var out = OwnedBuffer(capacity: 2 * EventLoop.flushThreshold)
    var date = DateHeader()
    let statusLines: [[UInt8]]
    let serverLine: [UInt8]

    var nowNanoseconds: UInt64 = 0
    var nowMilliseconds: Int64 = 0
    var nextSweep: Int64 = 0
    var draining = false
    var drainDeadline: Int64 = 0
    var listening = false
    var acceptPausedUntil: Int64 = 0

    let headerTimeout: Int64
    let bodyTimeout: Int64
    let idleTimeout: Int64
    let writeTimeout: Int64
    let sweepInterval: Int64
    let maxHeaderBytes: Int
    let maxBodyBytes: Int
    let maxRequests: Int

    init(
        index: Int, configuration: HTTPServerConfiguration, shared: ServerShared, listener: Listener,
        metrics: HTTPServerMetrics, logger: Logger, makeHandler: @Sendable (HTTPWorkerContext) -> any HTTPHandler
    ) throws(HTTPServerError) {
        self.index = index
        self.configuration = configuration
        self.shared = shared
        self.listener = listener
        self.metrics = metrics
        self.logger = logger
        self.poll = try EventPoll(capacity: 256)
        let wake = eventfd(0, DescriptorFlags.eventFD)
        guard wake >= 0 else {
            let saved = errno
            poll.close()
            throw HTTPServerError(.eventPoll, "eventfd", errno: saved)
        }
        wakeFD = wake
        shard = metrics.registry.makeShard()
        handler = makeHandler(HTTPWorkerContext(index: index, metrics: shard, serverMetrics: metrics, logger: logger))

        connectionCapacity = 64
        connections = .allocate(capacity: connectionCapacity)
        connections.initialize(repeating: Connection(), count: connectionCapacity)
        fields = .allocate(capacity: configuration.maxHeaderCount)
        readBuffer = .allocate(capacity: Self.readBufferSize)
        statusLines = StatusLines.table
        if let name = configuration.serverName {
            serverLine = Array("Server: \(name)\r\n".utf8)
        } else {
            serverLine = []
        }
        headerTimeout = configuration.headerTimeout.milliseconds
        bodyTimeout = configuration.bodyTimeout.milliseconds
        idleTimeout = configuration.idleTimeout.milliseconds
        writeTimeout = configuration.writeTimeout.milliseconds
        let shortest = min(headerTimeout, bodyTimeout, idleTimeout, writeTimeout, Self.lingerMilliseconds)
        sweepInterval = max(5, min(1000, shortest / 4))
        maxHeaderBytes = configuration.maxHeaderBytes
        maxBodyBytes = configuration.maxBodyBytes
        maxRequests = configuration.maxRequestsPerConnection ?? Int.max
    }

    /// Wakes the loop from another thread (to notice shutdown).
    func wake() {
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    // MARK: - Running

    func run() {
        _ = pthread_setname_np(pthread_self(), "allot-http-\(index)")
        updateClock()
        poll.add(wakeFD, events: PollEvents.input, data: Self.wakeToken)
        startListening()
        nextSweep = nowMilliseconds + sweepInterval
        if shared.draining.load(ordering: .acquiring) { beginDraining() }

        while !(draining && openCount == 0) {
            let timeout = Int32(clamping: max(0, nextSweep - nowMilliseconds))
            let ready = poll.wait(timeoutMilliseconds: timeout)
            updateClock()
            for event in 0..<ready {
                let data = poll.eventData(at: event)
                let bits = poll.eventBits(at: event)
                if data == Self.listenerToken {
                    acceptConnections()
                } else if data == Self.wakeToken {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                    if shared.draining.load(ordering: .acquiring) { beginDraining() }
                } else {
                    let slot = Int(truncatingIfNeeded: data & 0xFFFF_FFFF)
                    guard slot < highWater else { continue }
                    let c = connections + slot
                    guard c.pointee.fd >= 0, c.pointee.generation == UInt32(truncatingIfNeeded: data >> 32) else { continue }
                    handleEvent(c, bits)
                }
            }
            if nowMilliseconds >= nextSweep {
                sweep()
                nextSweep = nowMilliseconds + sweepInterval
            }
        }
        tearDown()
    }

    @inline(__always)
    private func updateClock() {
        nowNanoseconds = Clock.nanoseconds()
        nowMilliseconds = Int64(nowNanoseconds / 1_000_000)
        if configuration.sendsDateHeader { date.update(unixSeconds: Clock.unixSeconds()) }
    }

    /// Releases everything of a loop whose thread never started.
    func discard() {
        tearDown()
    }

    private func tearDown() {
        for slot in 0..<highWater where connections[slot].fd >= 0 {
            closeConnection(connections + slot)
        }
        if listening { poll.remove(listener.fd) }
        poll.close()
        close(wakeFD)
        connections.deinitialize(count: connectionCapacity)
        connections.deallocate()
        fields.deallocate()
        readBuffer.deallocate()
        out.release()
        date.release()
    }

    private func startListening() {
        guard !listening, !draining else { return }
        listening = poll.add(listener.fd, events: PollEvents.input | PollEvents.exclusive, data: Self.listenerToken) == 0
    }

    private func stopListening() {
        guard listening else { return }
        poll.remove(listener.fd)
        listening = false
    }

    private func beginDraining() {
        guard !draining else { return }
        draining = true
        drainDeadline = nowMilliseconds + configuration.shutdownGracePeriod.milliseconds
        stopListening()
        // Idle connections go now; the others finish their request and close after the response.
        for slot in 0..<highWater {
            let c = connections + slot
            guard c.pointee.fd >= 0, !c.pointee.lingering, !c.pointee.writeBlocked, c.pointee.input.isEmpty else { continue }
            closeConnection(c)
        }
    }

    // MARK: - Accepting

    private func acceptConnections() {
        for _ in 0..<64 {
            let fd = accept4(listener.fd, nil, nil, DescriptorFlags.socket)
            if fd < 0 {
                switch errno {
                case EAGAIN, EWOULDBLOCK:
                    return
                case EINTR, ECONNABORTED, EPROTO:
                    continue
                default:
                    // Out of descriptors or memory: stop accepting for a moment instead of spinning.
                    logger.warning("accept failed; pausing accepts", metadata: ["errno": "\(errno)", "thread": "\(index)"])
                    stopListening()
                    acceptPausedUntil = nowMilliseconds + 100
                    return
                }
            }
            if shared.openConnections.wrappingAdd(1, ordering: .relaxed).newValue > configuration.maxConnections {
                shared.openConnections.wrappingSubtract(1, ordering: .relaxed)
                rejectConnection(fd)
                continue
            }
            SocketOptions.setNoDelay(fd)
            let slot = allocateSlot()
            let c = connections + slot
            c.pointee.fd = fd
            c.pointee.deadline = nowMilliseconds + headerTimeout
            openCount += 1
            shard.add(metrics.openConnections, 1)
            shard.increment(metrics.acceptedConnections)
            poll.add(fd, events: PollEvents.input, data: token(slot))
        }
    }

    /// Answers a connection over the limit with a canned 503 and closes it.
    private func rejectConnection(_ fd: Int32) {
        metrics.recordRejection(shard, .connectionLimit)
        Self.connectionLimitResponse.withUnsafeBytes { bytes in
            _ = send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        }
        shutdown(fd, Int32(SHUT_WR))
        close(fd)
    }

    static let connectionLimitResponse: [UInt8] = {
        var body: [UInt8] = []
        ErrorBody.write(code: "too_many_connections".utf8, message: "the server is at its connection limit; retry later".utf8, into: &body)
        return Array(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: \(body.count)\r\n\r\n"
                .utf8) + body
    }()

    @inline(__always)
    private func token(_ slot: Int) -> UInt64 {
        UInt64(slot) | UInt64(connections[slot].generation) << 32
    }

    private func allocateSlot() -> Int {
        if freeHead >= 0 {
            let slot = freeHead
            freeHead = connections[slot].nextFree
            connections[slot].nextFree = -1
            return slot
        }
        if highWater == connectionCapacity {
            let grown = connectionCapacity * 2
            let bigger = UnsafeMutablePointer<Connection>.allocate(capacity: grown)
            bigger.moveInitialize(from: connections, count: connectionCapacity)
            (bigger + connectionCapacity).initialize(repeating: Connection(), count: grown - connectionCapacity)
            connections.deallocate()
            connections = bigger
            connectionCapacity = grown
        }
        highWater += 1
        return highWater - 1
    }

    private func closeConnection(_ c: UnsafeMutablePointer<Connection>) {
        close(c.pointee.fd)
        c.pointee.input.release()
        c.pointee.output.release()
        let generation = c.pointee.generation &+ 1
        c.pointee = Connection()
        c.pointee.generation = generation
        c.pointee.nextFree = freeHead
        freeHead = c - connections
        openCount -= 1
        shared.openConnections.wrappingSubtract(1, ordering: .relaxed)
        shard.add(metrics.openConnections, -1)
    }

    // MARK: - Events

    @inline(__always)
    private func handleEvent(_ c: UnsafeMutablePointer<Connection>, _ bits: UInt32) {
        if c.pointee.lingering {
            drainLingering(c)
            return
        }
        if c.pointee.writeBlocked {
            if bits & (PollEvents.output | PollEvents.error | PollEvents.hangUp) != 0 { writable(c) }
            return
        }
        if bits & (PollEvents.input | PollEvents.error | PollEvents.hangUp) != 0 { readable(c) }
    }

    @inline(__always)
    private func readable(_ c: UnsafeMutablePointer<Connection>) {
        let fd = c.pointee.fd
        if c.pointee.input.isEmpty {
            let received = recv(fd, readBuffer, Self.readBufferSize, 0)
            if received > 0 {
                process(c, base: readBuffer, count: received, fromInput: false)
            } else {
                readEnded(c, received)
            }
            return
        }
        // A request is partly buffered: read after it. The buffer is bounded by the head or body
        // limit plus one read; the checks in `process` reject anything larger first.
        let limit = maxHeaderBytes + maxBodyBytes + 2 * Self.readBufferSize
        let room = min(Self.readBufferSize, limit - c.pointee.input.count)
        guard room > 0 else {
            reject(c, .bodyTooLarge)
            finishOutput(c)
            return
        }
        c.pointee.input.reserve(c.pointee.input.count + room)
        let received = recv(fd, c.pointee.input.base! + c.pointee.input.count, room, 0)
        if received > 0 {
            c.pointee.input.count += received
            process(c, base: c.pointee.input.base!.assumingMemoryBound(to: UInt8.self), count: c.pointee.input.count, fromInput: true)
        } else {
            readEnded(c, received)
        }
    }

    private func readEnded(_ c: UnsafeMutablePointer<Connection>, _ result: Int) {
        if result < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
        // The client closed (or reset) the connection; whatever it left unfinished is dropped.
        closeConnection(c)
    }

    private func writable(_ c: UnsafeMutablePointer<Connection>) {
        let fd = c.pointee.fd
        while c.pointee.outputSent < c.pointee.output.count {
            let sent = send(
                fd, c.pointee.output.base! + c.pointee.outputSent, c.pointee.output.count - c.pointee.outputSent, Int32(MSG_NOSIGNAL))
            if sent > 0 {
                c.pointee.outputSent += sent
                c.pointee.deadline = nowMilliseconds + writeTimeout
                continue
            }
            if sent < 0, errno == EINTR { continue }
            if sent < 0, errno == EAGAIN || errno == EWOULDBLOCK { return }
            closeConnection(c)
            return
        }
        c.pointee.output.count = 0
        c.pointee.outputSent = 0
        c.pointee.output.shrinkIfEmpty(keeping: 64 * 1024)
        c.pointee.writeBlocked = false
        if c.pointee.closeAfterWrite {
            startLingeringClose(c)
            return
        }
        poll.modify(fd, events: PollEvents.input, data: token(c - connections))
        // Deadlines for a buffered partial request start over: the wait was the server's doing.
        c.pointee.partial = false
        c.pointee.inBody = false
        setIdleOrPartialDeadline(c)
        if !c.pointee.input.isEmpty {
            // Pipelined requests were left waiting while the output drained.
            process(c, base: c.pointee.input.base!.assumingMemoryBound(to: UInt8.self), count: c.pointee.input.count, fromInput: true)
        }
    }

    // MARK: - Requests

    /// Answers every complete request in `base[0..<count]`, keeps what is left, sends the responses.
    private func process(_ c: UnsafeMutablePointer<Connection>, base: UnsafeMutablePointer<UInt8>, count initialCount: Int, fromInput: Bool)
    {
        var count = initialCount
        var offset = 0
        var fieldsFresh = false
        var blocked = false

        parsing: while offset < count, !c.pointee.closeAfterWrite {
            let p = base + offset
            let available = count - offset
            if c.pointee.headLength == 0 {
                if c.pointee.scanFrom == 0, p[0] == 0x0D || p[0] == 0x0A {
                    // Blank lines before a request line are ignored (RFC 9112 §2.2).
                    offset += 1
                    continue parsing
                }
                let window = min(available, maxHeaderBytes)
                guard let headLength = RequestHeadParser.findHeadEnd(p, from: c.pointee.scanFrom, count: window) else {
                    if available > maxHeaderBytes {
                        reject(c, .headersTooLarge)
                    } else {
                        c.pointee.scanFrom = max(0, available - 3)
                    }
                    break parsing
                }
                switch RequestHeadParser.parse(p, length: headLength, fields: fields, maxFields: configuration.maxHeaderCount) {
                case .failure(let error):
                    reject(c, error)
                    break parsing
                case .success(let head):
                    c.pointee.head = head
                    c.pointee.headLength = headLength
                    c.pointee.scanFrom = 0
                    fieldsFresh = true
                    if head.contentLength > maxBodyBytes {
                        reject(c, .bodyTooLarge)
                        break parsing
                    }
                    if head.chunked { c.pointee.chunk = ChunkedDecoder() }
                }
            }

            let headLength = c.pointee.headLength
            var bodyCount = 0
            var rawLength = headLength
            if c.pointee.head.chunked {
                let outcome = c.pointee.chunk.decode(
                    p + headLength, available: available - headLength, maxBody: maxBodyBytes, maxTrailers: maxHeaderBytes)
                switch outcome {
                case .needMore(let bodyAvailable):
                    count = offset + headLength + bodyAvailable
                    awaitBody(c)
                    break parsing
                case .done(let decoded, let consumed):
                    bodyCount = decoded
                    rawLength = headLength + consumed
                case .failure(let error):
                    reject(c, error)
                    break parsing
                }
            } else if c.pointee.head.contentLength > 0 {
                guard available - headLength >= c.pointee.head.contentLength else {
                    awaitBody(c)
                    break parsing
                }
                bodyCount = c.pointee.head.contentLength
                rawLength += bodyCount
            }

            if !fieldsFresh {
                // The head was parsed during an earlier read; the field table has been reused since.
                _ = RequestHeadParser.parse(p, length: headLength, fields: fields, maxFields: configuration.maxHeaderCount)
            }
            dispatch(c, p, body: UnsafeRawBufferPointer(start: p + headLength, count: bodyCount))
            offset += rawLength
            fieldsFresh = false
            c.pointee.headLength = 0
            c.pointee.continueSent = false
            c.pointee.partial = false
            c.pointee.inBody = false

            if out.count >= Self.flushThreshold, !c.pointee.closeAfterWrite {
                switch flush(c) {
                case .closed: return
                case .pending:
                    blocked = true
                    break parsing
                case .sent: break
                }
            }
        }

        // Keep what is left of an incomplete request (or of pipelined requests, while blocked).
        if c.pointee.closeAfterWrite {
            if fromInput { c.pointee.input.count = 0 }
        } else if fromInput {
            c.pointee.input.count = count
            c.pointee.input.removeFirst(offset)
            c.pointee.input.shrinkIfEmpty(keeping: 64 * 1024)
        } else if offset < count {
            c.pointee.input.append(base + offset, count - offset)
        }
        if !blocked { setIdleOrPartialDeadline(c) }
        finishOutput(c)
    }

    /// Sends what `out` holds and closes if the last response said so.
    @inline(__always)
    private func finishOutput(_ c: UnsafeMutablePointer<Connection>) {
        switch flush(c) {
        case .closed, .pending:
            return
        case .sent:
            if c.pointee.closeAfterWrite { startLingeringClose(c) }
        }
    }

    @inline(__always)
    private func setIdleOrPartialDeadline(_ c: UnsafeMutablePointer<Connection>) {
        if c.pointee.input.isEmpty {
            c.pointee.deadline = nowMilliseconds + idleTimeout
        } else if c.pointee.headLength > 0 {
            if !c.pointee.inBody {
                c.pointee.inBody = true
                c.pointee.partial = true
                c.pointee.deadline = nowMilliseconds + bodyTimeout
            }
        } else if !c.pointee.partial {
            c.pointee.partial = true
            c.pointee.deadline = nowMilliseconds + headerTimeout
        }
    }

    /// The head is in, the body is not: answer `Expect: 100-continue` once.
    private func awaitBody(_ c: UnsafeMutablePointer<Connection>) {
        if c.pointee.head.expectContinue, !c.pointee.continueSent {
            c.pointee.continueSent = true
            Self.continueLine.withUnsafeBytes { out.append($0) }
        }
    }

    static let continueLine = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// Runs the handler for one complete request and appends its response to `out`.
    @inline(__always)
    private func dispatch(_ c: UnsafeMutablePointer<Connection>, _ p: UnsafeMutablePointer<UInt8>, body: UnsafeRawBufferPointer) {
        let head = c.pointee.head
        writer.reset()
        let request = HTTPRequest(head: p, parsed: head, fields: fields, body: body)
        handler.handle(request, &writer)
        c.pointee.requests += 1
        let keepAlive = head.keepAlive && !writer.closeRequested && !draining && c.pointee.requests < maxRequests
        writeResponse(version: head.version, isHead: head.method == .head, keepAlive: keepAlive)
        if !keepAlive { c.pointee.closeAfterWrite = true }
        let seconds = Double(Clock.nanoseconds() &- nowNanoseconds) * 1e-9
        metrics.recordResponse(shard, route: writer.route, status: writer.status, seconds: seconds)
    }

    /// Answers a request the engine refuses itself, and marks the connection for closing.
    private func reject(_ c: UnsafeMutablePointer<Connection>, _ error: ProtocolError) {
        writer.reset()
        writer.status = error.status
        writer.setContentType("application/json")
        ErrorBody.write(
            code: UnsafeBufferPointer(start: error.code.utf8Start, count: error.code.utf8CodeUnitCount),
            message: UnsafeBufferPointer(start: error.message.utf8Start, count: error.message.utf8CodeUnitCount),
            into: &writer.body)
        let version = c.pointee.headLength > 0 ? c.pointee.head.version : .http11
        writeResponse(version: version, isHead: false, keepAlive: false)
        c.pointee.closeAfterWrite = true
        let reason: HTTPRejection =
            switch error.status.code {
            case 431: .headersTooLarge
            case 413: .bodyTooLarge
            case 408: .timeout
            case 400: .badRequest
            default: .unsupported
            }
        metrics.recordRejection(shard, reason)
        metrics.recordResponse(shard, route: .unmatched, status: error.status, seconds: 0)
    }

    /// Serializes the writer's response into `out`.
    @inline(__always)
    private func writeResponse(version: HTTPVersion, isHead: Bool, keepAlive: Bool) {
        let status = writer.status
        let code = (200...599).contains(status.code) ? status.code : 500
        statusLines[code].withUnsafeBytes { out.append($0) }
        if configuration.sendsDateHeader { out.append(date.line.bytes) }
        if !serverLine.isEmpty { serverLine.withUnsafeBytes { out.append($0) } }
        writer.headerLines.withUnsafeBytes { out.append($0) }
        let hasBody = !HTTPStatus(code).forbidsBody
        if hasBody {
            Self.contentLengthPrefix.withUnsafeBytes { out.append($0) }
            out.appendDecimal(writer.body.count)
            out.append(byte: 0x0D)
            out.append(byte: 0x0A)
        }
        if !keepAlive {
            Self.connectionClose.withUnsafeBytes { out.append($0) }
        } else if version == .http10 {
            Self.connectionKeepAlive.withUnsafeBytes { out.append($0) }
        }
        out.append(byte: 0x0D)
        out.append(byte: 0x0A)
        if hasBody, !isHead { writer.body.withUnsafeBytes { out.append($0) } }
    }

    static let contentLengthPrefix = Array("Content-Length: ".utf8)
    static let connectionClose = Array("Connection: close\r\n".utf8)
    static let connectionKeepAlive = Array("Connection: keep-alive\r\n".utf8)

    // MARK: - Output

    enum FlushResult {
        case sent, pending, closed
    }

    /// Sends `out`; what the socket does not take moves to the connection's output buffer and the
    /// connection waits for writability.
    @inline(__always)
    private func flush(_ c: UnsafeMutablePointer<Connection>) -> FlushResult {
        guard out.count > 0 else { return c.pointee.writeBlocked ? .pending : .sent }
        if c.pointee.writeBlocked {
            c.pointee.output.append(out.base!, out.count)
            out.count = 0
            return .pending
        }
        var sent = 0
        while sent < out.count {
            let result = send(c.pointee.fd, out.base! + sent, out.count - sent, Int32(MSG_NOSIGNAL))
            if result > 0 {
                sent += result
                continue
            }
            if result < 0, errno == EINTR { continue }
            if result < 0, errno == EAGAIN || errno == EWOULDBLOCK { break }
            out.count = 0
            closeConnection(c)
            return .closed
        }
        if sent == out.count {
            out.count = 0
            return .sent
        }
        c.pointee.output.append(out.base! + sent, out.count - sent)
        out.count = 0
        c.pointee.writeBlocked = true
        c.pointee.deadline = nowMilliseconds + writeTimeout
        poll.modify(c.pointee.fd, events: PollEvents.output, data: token(c - connections))
        return .pending
    }

    /// Our last response is sent: shut down our side and read until the client closes, so the
    /// kernel does not reset the connection (and lose that response) over unread request bytes.
    private func startLingeringClose(_ c: UnsafeMutablePointer<Connection>) {
        shutdown(c.pointee.fd, Int32(SHUT_WR))
        c.pointee.lingering = true
        c.pointee.input.release()
        c.pointee.deadline = nowMilliseconds + Self.lingerMilliseconds
        drainLingering(c)
    }

    private func drainLingering(_ c: UnsafeMutablePointer<Connection>) {
        for _ in 0..<16 {
            let received = recv(c.pointee.fd, readBuffer, Self.readBufferSize, 0)
            if received > 0 { continue }
            if received < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
            break
        }
        closeConnection(c)
    }

    // MARK: - Timers

    private func sweep() {
        if !listening, !draining, acceptPausedUntil > 0, nowMilliseconds >= acceptPausedUntil {
            acceptPausedUntil = 0
            startListening()
        }
        let forceClose = draining && nowMilliseconds >= drainDeadline
        for slot in 0..<highWater {
            let c = connections + slot
            guard c.pointee.fd >= 0 else { continue }
            if forceClose {
                closeConnection(c)
                continue
            }
            guard c.pointee.deadline <= nowMilliseconds else { continue }
            if c.pointee.lingering || c.pointee.writeBlocked {
                closeConnection(c)
            } else if !c.pointee.input.isEmpty {
                // Something arrived but not a whole request in time: 408, then close.
                reject(c, .timeout)
                finishOutput(c)
            } else {
                if c.pointee.requests == 0 { metrics.recordRejection(shard, .timeout) }
                closeConnection(c)
            }
        }
    }
}
