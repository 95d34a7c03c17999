import AllotCore

/// The response a handler builds: status, extra headers, body, and the route label for metrics;
/// and the one place responses are serialized into bytes.
///
/// One writer per worker thread is reused for every request (its buffers keep their capacity),
/// so writing a response allocates nothing once warm. The engine adds the status line, `Date`,
/// `Content-Length` and `Connection` itself; handlers must not add those (`addHeader` refuses them).
/// For HEAD requests the engine sends the headers of the body the handler wrote, without the body.
public struct HTTPResponseWriter: ~Copyable {
    /// The status; 200 unless the handler sets another.
    public var status: HTTPStatus = .ok
    /// The body bytes. Append directly (`response.body.append(contentsOf:)`, or a writer that
    /// takes `inout [UInt8]`); the engine copies them to the connection once. After
    /// `appendBody(maxLength:_:)` it holds only what was appended since (the bytes written in
    /// place come first in the response): to start the body over, use `clearBody()`.
    public var body: [UInt8] = []
    /// The route label for metrics (`HTTPServerMetrics.route(_:)`); `.unmatched` by default.
    public var route: HTTPRoute = .unmatched
    /// Body bytes written in place by `appendBody(maxLength:_:)`; they come before `body`, which
    /// holds only what was appended after the last such write.
    var writtenBody = OwnedBuffer()
    /// Serialized extra header lines, each `Name: value\r\n`.
    var headerLines: [UInt8] = []
    var closeRequested = false

    /// Status lines by code, built once.
    private let statusLines: [[UInt8]]
    /// `Server: <name>\r\n`, or empty.
    private let serverLine: [UInt8]

    init(serverName: String? = nil) {
        body.reserveCapacity(4096)
        headerLines.reserveCapacity(512)
        statusLines = StatusLines.table
        serverLine = serverName.map { Array("Server: \($0)\r\n".utf8) } ?? []
    }

    mutating func reset() {
        status = .ok
        route = .unmatched
        closeRequested = false
        body.removeAll(keepingCapacity: true)
        writtenBody.removeAll()
        // A big batch answer's room is given back; everyday answers keep theirs.
        writtenBody.shrinkIfEmpty(keeping: ConnectionDriver.keptBufferCapacity)
        headerLines.removeAll(keepingCapacity: true)
    }

    /// Empties the body: `body` and what `appendBody(maxLength:_:)` wrote. (Clearing `body` alone
    /// keeps the bytes written in place.)
    public mutating func clearBody() {
        body.removeAll(keepingCapacity: true)
        writtenBody.removeAll()
    }

    /// The body's length: what `appendBody(maxLength:_:)` wrote, then `body`.
    var bodyCount: Int { writtenBody.count &+ body.count }

    /// Appends at most `maxLength` bytes to the body, written in place: `write` gets at least
    /// that much room, writes from its start and returns how many bytes it wrote. Unlike appending
    /// to `body`, the room is not filled first, which matters for answers of many kilobytes
    /// written by a writer that knows only a bound on their length. Appending to `body`
    /// afterwards is fine: those bytes follow these.
    public mutating func appendBody(maxLength: Int, _ write: (UnsafeMutableRawBufferPointer) -> Int) {
        if !body.isEmpty {
            body.withUnsafeBytes { writtenBody.append($0) }
            body.removeAll(keepingCapacity: true)
        }
        let room = max(0, maxLength)
        let written = writtenBody.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { buffer in
            write(UnsafeMutableRawBufferPointer(rebasing: buffer[..<room]))
        }
        precondition(written >= 0 && written <= room, "appendBody: wrote \(written) bytes into room for \(room)")
    }

    /// Sets `Content-Type`.
    public mutating func setContentType(_ value: StaticString) {
        addHeader("Content-Type", value)
    }

    /// Adds a header line from literals (Content-Type, Cache-Control...). Returns false, adding
    /// nothing, for names the engine writes itself or invalid names or values.
    @discardableResult
    public mutating func addHeader(_ name: StaticString, _ value: StaticString) -> Bool {
        addHeader(
            UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount),
            UnsafeRawBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount))
    }

    /// Adds a header line. Returns false, adding nothing, when the name is not a token, is one
    /// the engine writes itself (Content-Length, Transfer-Encoding, Connection, Date), or the value
    /// holds CR, LF or other control characters (no header injection from request data).
    @discardableResult
    public mutating func addHeader(_ name: String, _ value: String) -> Bool {
        var name = name
        var value = value
        return name.withUTF8 { n in value.withUTF8 { v in addHeader(UnsafeRawBufferPointer(n), UnsafeRawBufferPointer(v)) } }
    }

    /// Adds a header line with raw bytes (see `addHeader(_:_:)` for what is refused).
    @discardableResult
    public mutating func addHeader(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool {
        guard name.count > 0, Self.isAcceptableName(name), Self.isAcceptableValue(value) else { return false }
        headerLines.append(contentsOf: name)
        headerLines.append(UInt8(ascii: ":"))
        headerLines.append(UInt8(ascii: " "))
        headerLines.append(contentsOf: value)
        headerLines.append(0x0D)
        headerLines.append(0x0A)
        return true
    }

    /// Adds `Retry-After: <seconds>`.
    public mutating func setRetryAfter(seconds: Int) {
        addHeader("Retry-After", String(max(0, seconds)))
    }

    /// Appends bytes to the body.
    @inline(__always)
    public mutating func write(_ bytes: UnsafeRawBufferPointer) {
        body.append(contentsOf: bytes)
    }

    /// Appends text to the body.
    public mutating func write(_ text: String) {
        body.append(contentsOf: text.utf8)
    }

    /// Appends a literal to the body.
    @inline(__always)
    public mutating func write(_ text: StaticString) {
        body.append(contentsOf: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Replaces the response with the JSON error document
    /// `{"error":{"code":"<code>","message":"<message>"}}` and `status`.
    public mutating func writeError(_ status: HTTPStatus, code: String, message: String) {
        self.status = status
        clearBody()
        headerLines.removeAll(keepingCapacity: true)
        setContentType("application/json")
        ErrorBody.write(code: code.utf8, message: message.utf8, into: &body)
    }

    /// Closes the connection after this response (`Connection: close`).
    public mutating func closeConnection() {
        closeRequested = true
    }

    /// Whether `addHeader` would accept this header (see there for the rules).
    public static func accepts(name: String, value: String) -> Bool {
        var name = name
        var value = value
        return name.withUTF8 { n in
            value.withUTF8 { v in
                n.count > 0 && isAcceptableName(UnsafeRawBufferPointer(n)) && isAcceptableValue(UnsafeRawBufferPointer(v))
            }
        }
    }

    static func isAcceptableName(_ name: UnsafeRawBufferPointer) -> Bool {
        let token = RequestHeadParser.tokenTable
        for byte in name where !token[Int(byte)] { return false }
        @inline(__always) func named(_ literal: StaticString) -> Bool {
            guard literal.utf8CodeUnitCount == name.count else { return false }
            for i in 0..<name.count where RequestHeadParser.lower(name[i]) != literal.utf8Start[i] { return false }
            return true
        }
        return !(named("content-length") || named("transfer-encoding") || named("connection") || named("date"))
    }

    static func isAcceptableValue(_ value: UnsafeRawBufferPointer) -> Bool {
        for byte in value where (byte < 0x20 && byte != 0x09) || byte == 0x7F { return false }
        return true
    }
}

// MARK: - Serialization

extension HTTPResponseWriter {
    /// What the engine decided about the response's framing.
    struct Framing {
        var version: HTTPVersion
        /// A response to HEAD: headers of the body, without the body.
        var isHead: Bool
        var keepAlive: Bool
        var sendsDate: Bool
    }

    /// Replaces the response with the engine's own error for `error`.
    mutating func prepare(_ error: ProtocolError) {
        reset()
        status = error.status
        setContentType("application/json")
        ErrorBody.write(
            code: UnsafeBufferPointer(start: error.code.utf8Start, count: error.code.utf8CodeUnitCount),
            message: UnsafeBufferPointer(start: error.message.utf8Start, count: error.message.utf8CodeUnitCount),
            into: &body)
        if let seconds = error.retryAfter { setRetryAfter(seconds: seconds) }
    }

    /// Appends the response: status line, `Date`, `Server`, the handler's headers,
    /// `Content-Length`, `Connection`, then the body.
    @inline(__always)
    func serialize(into out: inout OwnedBuffer, _ framing: Framing, date: borrowing DateHeader) {
        let code = (200...599).contains(status.code) ? status.code : 500
        out.append(statusLines[code])
        if framing.sendsDate { date.write(into: &out) }
        if !serverLine.isEmpty { out.append(serverLine) }
        out.append(headerLines)
        let hasBody = !HTTPStatus(code).forbidsBody
        if hasBody {
            out.append(Self.contentLengthPrefix)
            out.appendDecimal(bodyCount)
            out.append(byte: 0x0D)
            out.append(byte: 0x0A)
        }
        if !framing.keepAlive {
            out.append(Self.connectionClose)
        } else if framing.version == .http10 {
            out.append(Self.connectionKeepAlive)
        }
        out.append(byte: 0x0D)
        out.append(byte: 0x0A)
        if hasBody, !framing.isHead {
            out.append(contentsOf: writtenBody)
            out.append(body)
        }
    }

    /// A complete response the engine sends on a connection it refuses before reading it (a JSON
    /// error, `Retry-After`, `Connection: close`).
    static func refusal(_ status: HTTPStatus, code: String, message: String, retryAfter: Int) -> [UInt8] {
        var body: [UInt8] = []
        ErrorBody.write(code: code.utf8, message: message.utf8, into: &body)
        let head =
            "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nRetry-After: \(retryAfter)\r\n"
            + "Connection: close\r\nContent-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }

    /// The interim answer to `Expect: 100-continue`.
    static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    static let contentLengthPrefix = Array("Content-Length: ".utf8)
    static let connectionClose = Array("Connection: close\r\n".utf8)
    static let connectionKeepAlive = Array("Connection: keep-alive\r\n".utf8)
}

/// The JSON error document every error response uses.
package enum ErrorBody {
    package static func write(code: some Sequence<UInt8>, message: some Sequence<UInt8>, into body: inout [UInt8]) {
        body.append(contentsOf: #"{"error":{"code":""#.utf8)
        JSONString.appendEscaped(code, to: &body)
        body.append(contentsOf: #"","message":""#.utf8)
        JSONString.appendEscaped(message, to: &body)
        body.append(contentsOf: #""}}"#.utf8)
    }
}
