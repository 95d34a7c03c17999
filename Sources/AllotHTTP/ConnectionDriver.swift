import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// What an event loop does for one connection: read, parse, answer, write, time out, close.
///
/// A readable connection is read into the loop's shared buffer; every complete request in it is
/// parsed in place, handed to the handler, and its response appended to the output buffer; the
/// responses go out in one `send`. Only what is left over (a partial request, unsent output) is
/// copied into the connection's own buffers.
///
/// A value owned by its `LoopWorker`, beside the connection table, so a connection borrowed from
/// the table and the driver are two separate values (exclusivity is checked when compiling, not
/// at every access). It allocates nothing itself: bytes live in `OwnedBuffer`s, header fields
/// in a `HeaderFieldTable`, the response being built in the `HTTPResponseWriter`.
struct ConnectionDriver: ~Copyable {
    static let readBufferSize = 64 * 1024
    static let flushThreshold = 64 * 1024
    static let lingerMilliseconds: Int64 = 2000
    /// Empty-line bytes (CR or LF) accepted before a request line: 8 CRLFs.
    static let maxBlankBytes = 16
    /// Buffers of this size or smaller are kept by a connection between requests (and the room
    /// a response wrote in place, by the response writer).
    static let keptBufferCapacity = 64 * 1024

    let poller: PlatformPoller
    let shared: ServerShared
    let metrics: HTTPServerMetrics
    let shard: MetricsShard

    var handler: any HTTPHandler
    var writer: HTTPResponseWriter
    var fields: HeaderFieldTable
    /// Where a connection with nothing buffered is read into.
    var readBuffer = OwnedBuffer(capacity: ConnectionDriver.readBufferSize)
    /// Responses waiting for one `send`.
    var out = OwnedBuffer(capacity: 2 * ConnectionDriver.flushThreshold)
    var date = DateHeader()

    var nowNanoseconds: UInt64 = 0
    var nowMilliseconds: Int64 = 0
    /// Shutting down: responses say `Connection: close`.
    var draining = false

    let headerTimeout: Int64
    let bodyTimeout: Int64
    let idleTimeout: Int64
    let writeTimeout: Int64
    let maxHeaderBytes: Int
    let maxHeaderCount: Int
    let maxBodyBytes: Int
    let maxRequests: Int
    let sendsDate: Bool

    init(
        configuration: HTTPServerConfiguration, poller: PlatformPoller, shared: ServerShared, metrics: HTTPServerMetrics,
        shard: MetricsShard, handler: any HTTPHandler
    ) {
        self.poller = poller
        self.shared = shared
        self.metrics = metrics
        self.shard = shard
        self.handler = handler
        writer = HTTPResponseWriter(serverName: configuration.serverName)
        fields = HeaderFieldTable(capacity: configuration.maxHeaderCount)
        headerTimeout = configuration.headerTimeout.milliseconds
        bodyTimeout = configuration.bodyTimeout.milliseconds
        idleTimeout = configuration.idleTimeout.milliseconds
        writeTimeout = configuration.writeTimeout.milliseconds
        maxHeaderBytes = configuration.maxHeaderBytes
        maxHeaderCount = configuration.maxHeaderCount
        maxBodyBytes = configuration.maxBodyBytes
        maxRequests = configuration.maxRequestsPerConnection ?? Int.max
        sendsDate = configuration.sendsDateHeader
    }

    @inline(__always)
    mutating func updateClock() {
        nowNanoseconds = Clock.nanoseconds()
        nowMilliseconds = Int64(nowNanoseconds / 1_000_000)
        if sendsDate { date.update(unixSeconds: Clock.unixSeconds()) }
    }

    /// Lets go of the loop's buffers (the connections are closed).
    mutating func release() {
        readBuffer.release()
        out.release()
    }

    /// Shutdown began: an idle connection closes now, the others after their response.
    mutating func closeIfIdle(_ c: inout Connection) {
        guard !c.lingering, !c.writeBlocked, c.input.isEmpty else { return }
        closeConnection(&c)
    }

    /// The sweep: closes `c` when its deadline has passed (or `force`, at the end of a shutdown).
    mutating func expire(_ c: inout Connection, force: Bool) {
        if force {
            closeConnection(&c)
            return
        }
        guard c.deadline <= nowMilliseconds else { return }
        if c.lingering || c.writeBlocked {
            closeConnection(&c)
        } else if !c.input.isEmpty {
            // Something arrived but not a whole request in time: 408, then close.
            reject(&c, .timeout)
            finishOutput(&c)
        } else {
            // Idle between requests, or a head that never started (nothing, or empty lines only).
            if c.partial { metrics.recordRejection(shard, .timeout) }
            closeConnection(&c)
        }
    }

    /// Closes the socket and frees the connection's buffers; its table slot is recycled when the
    /// table's closure returns.
    mutating func closeConnection(_ c: inout Connection) {
        Socket.close(c.fd)
        c.input.release()
        settleInput(&c)
        c.close()
        shared.openConnections.wrappingSubtract(1, ordering: .relaxed)
        shard.add(metrics.openConnections, -1)
    }

    // MARK: - Events

    @inline(__always)
    mutating func handleEvent(_ c: inout Connection, _ event: PollEvent) {
        if c.lingering {
            drainLingering(&c)
            return
        }
        if c.writeBlocked {
            if event.writable || event.failed { writable(&c) }
            return
        }
        if event.readable || event.failed { readable(&c) }
    }

    @inline(__always)
    private mutating func readable(_ c: inout Connection) {
        if c.input.isEmpty {
            // Borrowed for this read (and given back below), so `process` may run while it is in use.
            var buffer = readBuffer.take()
            buffer.removeAll()
            switch Socket.receive(c.fd, into: &buffer, maximum: Self.readBufferSize) {
            case .wouldBlock:
                readBuffer = buffer
            case .closed:
                readBuffer = buffer
                // The client closed (or reset) the connection; whatever it left unfinished is dropped.
                closeConnection(&c)
            case .received:
                var overBudget = false
                let outcome = buffer.withUnsafeMutableReadableBytes { bytes in
                    let outcome = process(&c, bytes)
                    if !outcome.closed, !c.closeAfterWrite, outcome.consumed < outcome.end {
                        // An unfinished request: keep its bytes, if the budget has room for them.
                        if reserveInput(&c, toHold: outcome.end - outcome.consumed) {
                            c.input.append(UnsafeRawBufferPointer(rebasing: bytes[outcome.consumed..<outcome.end]))
                        } else {
                            overBudget = true
                        }
                    }
                    return outcome
                }
                readBuffer = buffer
                if overBudget { refuseOverBudget(&c) }
                finish(&c, outcome)
            }
            return
        }
        // A request is partly buffered: read after it. The buffer is bounded by the head or body
        // limit plus one read; the checks in `process` reject anything larger first.
        let limit = maxHeaderBytes + maxBodyBytes + 2 * Self.readBufferSize
        var room = min(Self.readBufferSize, limit - c.input.count)
        if c.headLength > 0, !c.head.chunked {
            // The body's size is known: read no further than its end.
            room = min(room, max(1, c.headLength + c.head.contentLength - c.input.count))
        }
        guard room > 0 else {
            reject(&c, .bodyTooLarge)
            finishOutput(&c)
            return
        }
        guard reserveInput(&c, toHold: c.input.count + room) else {
            refuseOverBudget(&c)
            finishOutput(&c)
            return
        }
        switch Socket.receive(c.fd, into: &c.input, maximum: room) {
        case .wouldBlock: return
        case .closed: closeConnection(&c)
        case .received: processInput(&c)
        }
    }

    /// Answers what the connection's own buffer holds and keeps the rest there.
    private mutating func processInput(_ c: inout Connection) {
        var input = c.input.take()
        let outcome = input.withUnsafeMutableReadableBytes { process(&c, $0) }
        if !outcome.closed, !c.closeAfterWrite {
            input.truncate(to: outcome.end)
            input.removeFirst(outcome.consumed)
            input.shrinkIfEmpty(keeping: Self.keptBufferCapacity)
            c.input = input
        }
        settleInput(&c)
        finish(&c, outcome)
    }

    private mutating func writable(_ c: inout Connection) {
        let fd = c.fd
        let from = c.outputSent
        switch c.output.withUnsafeReadableBytes({ Socket.send(fd, UnsafeRawBufferPointer(rebasing: $0[from...])) }) {
        case .failed:
            closeConnection(&c)
            return
        case .sent(let count):
            if count > 0 {
                c.outputSent += count
                c.deadline = nowMilliseconds + writeTimeout
            }
            if c.outputSent < c.output.count { return }
        }
        c.output.removeAll()
        c.outputSent = 0
        c.output.shrinkIfEmpty(keeping: Self.keptBufferCapacity)
        c.writeBlocked = false
        if c.closeAfterWrite {
            startLingeringClose(&c)
            return
        }
        poller.modify(fd, interest: .input, token: c.token)
        // Deadlines for a buffered partial request start over: the wait was the server's doing.
        c.partial = false
        c.inBody = false
        setIdleOrPartialDeadline(&c)
        if !c.input.isEmpty {
            // Pipelined requests were left waiting while the output drained.
            processInput(&c)
        }
    }

    // MARK: - Requests

    /// How far `process` got.
    struct ProcessOutcome {
        /// Bytes answered (requests and blank lines), from the start.
        var consumed: Int
        /// Where the bytes end now (chunked decoding compacts them in place).
        var end: Int
        /// Stopped because the socket took no more output.
        var blocked: Bool
        /// The connection was closed (a send failed).
        var closed: Bool
    }

    /// Answers every complete request in `bytes` (a connection's unanswered input, from the start
    /// of a request), appending the responses to `out` and sending them when they grow large.
    private mutating func process(_ c: inout Connection, _ bytes: UnsafeMutableRawBufferPointer) -> ProcessOutcome {
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var count = bytes.count
        var offset = 0
        var fieldsFresh = false
        var blocked = false

        parsing: while offset < count, !c.closeAfterWrite {
            let p = base + offset
            let available = count - offset
            if c.headLength == 0 {
                if c.scanFrom == 0, p[0] == 0x0D || p[0] == 0x0A {
                    // A few empty lines before a request line are ignored (RFC 9112 §2.2); they
                    // start the request's header deadline but never extend it.
                    c.blankBytes += 1
                    startHead(&c)
                    guard c.blankBytes <= Self.maxBlankBytes else {
                        reject(&c, .tooManyBlankLines)
                        break parsing
                    }
                    offset += 1
                    continue parsing
                }
                let window = min(available, maxHeaderBytes)
                let headLength: Int
                switch RequestHeadParser.findHeadEnd(p, from: c.scanFrom, count: window) {
                case .complete(let length):
                    headLength = length
                case .bareLineFeed:
                    reject(&c, .bareLineFeed)
                    break parsing
                case .incomplete:
                    if available > maxHeaderBytes {
                        reject(&c, .headersTooLarge)
                    } else {
                        c.scanFrom = max(0, available - 3)
                    }
                    break parsing
                }
                let parsed = fields.withUnsafeMutablePointer { fields in
                    RequestHeadParser.parse(p, length: headLength, fields: fields, maxFields: maxHeaderCount)
                }
                switch parsed {
                case .failure(let error):
                    reject(&c, error)
                    break parsing
                case .success(let head):
                    c.head = head
                    c.headLength = headLength
                    c.scanFrom = 0
                    fieldsFresh = true
                    if head.contentLength > maxBodyBytes {
                        reject(&c, .bodyTooLarge)
                        break parsing
                    }
                    if head.chunked { c.chunk = ChunkedDecoder() }
                }
            }

            let headLength = c.headLength
            var bodyCount = 0
            var rawLength = headLength
            if c.head.chunked {
                let outcome = c.chunk.decode(
                    p + headLength, available: available - headLength, maxBody: maxBodyBytes, maxTrailers: maxHeaderBytes)
                switch outcome {
                case .needMore(let bodyAvailable):
                    count = offset + headLength + bodyAvailable
                    awaitBody(&c)
                    break parsing
                case .done(let decoded, let consumed):
                    bodyCount = decoded
                    rawLength = headLength + consumed
                case .failure(let error):
                    reject(&c, error)
                    break parsing
                }
            } else if c.head.contentLength > 0 {
                guard available - headLength >= c.head.contentLength else {
                    awaitBody(&c)
                    break parsing
                }
                bodyCount = c.head.contentLength
                rawLength += bodyCount
            }

            if !fieldsFresh {
                // The head was parsed during an earlier read; the field table has been reused since.
                _ = fields.withUnsafeMutablePointer { fields in
                    RequestHeadParser.parse(p, length: headLength, fields: fields, maxFields: maxHeaderCount)
                }
            }
            dispatch(&c, p, body: UnsafeRawBufferPointer(start: p + headLength, count: bodyCount))
            offset += rawLength
            fieldsFresh = false
            c.headLength = 0
            c.blankBytes = 0
            c.continueSent = false
            c.partial = false
            c.inBody = false

            if out.count >= Self.flushThreshold, !c.closeAfterWrite {
                switch flush(&c) {
                case .closed: return ProcessOutcome(consumed: offset, end: count, blocked: false, closed: true)
                case .pending:
                    blocked = true
                    break parsing
                case .sent: break
                }
            }
        }
        return ProcessOutcome(consumed: offset, end: count, blocked: blocked, closed: false)
    }

    /// After `process`: the deadline for what is left, then the responses go out.
    @inline(__always)
    private mutating func finish(_ c: inout Connection, _ outcome: ProcessOutcome) {
        guard !outcome.closed else { return }
        if !c.closeAfterWrite, c.headLength > 0, !c.head.chunked, c.head.contentLength > 0,
            !reserveInput(&c, toHold: c.headLength + c.head.contentLength)
        {
            // The head announced a body the budget cannot hold: refuse before reading it.
            refuseOverBudget(&c)
        }
        if !outcome.blocked { setIdleOrPartialDeadline(&c) }
        finishOutput(&c)
    }

    /// Sends what `out` holds and closes if the last response said so.
    @inline(__always)
    private mutating func finishOutput(_ c: inout Connection) {
        switch flush(&c) {
        case .closed, .pending:
            return
        case .sent:
            if c.closeAfterWrite { startLingeringClose(&c) }
        }
    }

    /// Sets the deadline for what the connection waits for now: the next request (idle), the
    /// rest of a head, or the rest of a body. A header or body deadline is set once, when that
    /// phase starts, and never moved by bytes that arrive during it.
    @inline(__always)
    private mutating func setIdleOrPartialDeadline(_ c: inout Connection) {
        if c.headLength > 0 {
            if !c.inBody {
                c.inBody = true
                c.partial = true
                c.deadline = nowMilliseconds + bodyTimeout
            }
        } else if c.partial || c.blankBytes > 0 || !c.input.isEmpty {
            startHead(&c)
        } else {
            c.deadline = nowMilliseconds + idleTimeout
        }
    }

    /// A request has begun (a byte of it, or an empty line before it): its header deadline
    /// starts, unless it is already running.
    @inline(__always)
    private mutating func startHead(_ c: inout Connection) {
        guard !c.partial else { return }
        c.partial = true
        c.deadline = nowMilliseconds + headerTimeout
    }

    /// The head is in, the body is not: answer `Expect: 100-continue` once.
    private mutating func awaitBody(_ c: inout Connection) {
        if c.head.expectContinue, !c.continueSent {
            c.continueSent = true
            out.append(HTTPResponseWriter.continueResponse)
        }
    }

    /// Runs the handler for one complete request and appends its response to `out`.
    @inline(__always)
    private mutating func dispatch(_ c: inout Connection, _ p: UnsafeMutablePointer<UInt8>, body: UnsafeRawBufferPointer) {
        let head = c.head
        writer.reset()
        fields.withUnsafeMutablePointer { fields in
            handler.handle(HTTPRequest(head: p, parsed: head, fields: fields, body: body), &writer)
        }
        c.requests += 1
        let keepAlive = head.keepAlive && !writer.closeRequested && !draining && c.requests < maxRequests
        writer.serialize(
            into: &out, .init(version: head.version, isHead: head.method == .head, keepAlive: keepAlive, sendsDate: sendsDate), date: date)
        if !keepAlive { c.closeAfterWrite = true }
        let seconds = Double(Clock.nanoseconds() &- nowNanoseconds) * 1e-9
        metrics.recordResponse(shard, route: writer.route, status: writer.status, seconds: seconds)
    }

    /// Answers a request the engine refuses itself, and marks the connection for closing.
    private mutating func reject(_ c: inout Connection, _ error: ProtocolError) {
        writer.prepare(error)
        let version = c.headLength > 0 ? c.head.version : .http11
        writer.serialize(into: &out, .init(version: version, isHead: false, keepAlive: false, sendsDate: sendsDate), date: date)
        c.closeAfterWrite = true
        metrics.recordRejection(shard, error.reason)
        metrics.recordResponse(shard, route: .unmatched, status: error.status, seconds: 0)
    }

    // MARK: - Buffer budget

    /// Makes `c.input` able to hold `total` bytes, charging its growth to the server's budget
    /// (`maxBufferedBytes`). False, changing nothing, when the budget has no room.
    private mutating func reserveInput(_ c: inout Connection, toHold total: Int) -> Bool {
        let target = OwnedBuffer.capacity(toHold: total, growingFrom: c.input.capacity)
        let growth = target - c.charged
        if growth > 0 {
            guard shared.chargeBuffer(growth) else { return false }
            shard.add(metrics.bufferedBytes, Int64(growth))
            c.charged = target
        }
        c.input.reserve(total)
        return true
    }

    /// Brings the budget in line with `c.input` after it shrank or was freed.
    private mutating func settleInput(_ c: inout Connection) {
        let change = c.input.capacity - c.charged
        guard change != 0 else { return }
        shared.releaseBuffer(-change)
        shard.add(metrics.bufferedBytes, Int64(change))
        c.charged = c.input.capacity
    }

    /// Refuses the request being received because buffering it would pass the budget: 413 for
    /// a body, 503 for an unfinished head, both with `Retry-After`. Its bytes are let go at once.
    private mutating func refuseOverBudget(_ c: inout Connection) {
        reject(&c, c.headLength > 0 ? .bodyOverBudget : .headOverBudget)
        c.input.release()
        settleInput(&c)
    }

    // MARK: - Output

    enum FlushResult {
        case sent, pending, closed
    }

    /// Sends `out`; what the socket does not take moves to the connection's output buffer and the
    /// connection waits for writability.
    @inline(__always)
    private mutating func flush(_ c: inout Connection) -> FlushResult {
        guard !out.isEmpty else { return c.writeBlocked ? .pending : .sent }
        if c.writeBlocked {
            c.output.append(contentsOf: out)
            out.removeAll()
            return .pending
        }
        let fd = c.fd
        switch out.withUnsafeReadableBytes({ Socket.send(fd, $0) }) {
        case .failed:
            out.removeAll()
            closeConnection(&c)
            return .closed
        case .sent(let sent):
            if sent < out.count {
                out.withUnsafeReadableBytes { c.output.append(UnsafeRawBufferPointer(rebasing: $0[sent...])) }
                c.writeBlocked = true
                c.deadline = nowMilliseconds + writeTimeout
                poller.modify(fd, interest: .output, token: c.token)
            }
            out.removeAll()
            return c.writeBlocked ? .pending : .sent
        }
    }

    /// Our last response is sent: shut down our side and read until the client closes, so the
    /// kernel does not reset the connection (and lose that response) over unread request bytes.
    private mutating func startLingeringClose(_ c: inout Connection) {
        Socket.shutdownWrite(c.fd)
        c.lingering = true
        c.input.release()
        settleInput(&c)
        c.deadline = nowMilliseconds + Self.lingerMilliseconds
        drainLingering(&c)
    }

    private mutating func drainLingering(_ c: inout Connection) {
        if Socket.discardInput(c.fd) { closeConnection(&c) }
    }
}
