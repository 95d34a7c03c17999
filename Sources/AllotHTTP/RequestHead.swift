#if canImport(Glibc)
    import Glibc
#endif

/// One header field, as offsets from the start of the request head.
struct HeaderField {
    var nameStart: Int32
    var nameLength: Int32
    var valueStart: Int32
    var valueLength: Int32
}

/// A request the engine answers itself, before any handler: the status, a stable code for the
/// JSON error body, a message for people, and the metrics reason.
struct ProtocolError: Error {
    let status: HTTPStatus
    let code: StaticString
    let message: StaticString
    /// Seconds for `Retry-After`, for refusals that are temporary.
    let retryAfter: Int?
    /// How the refusal is counted.
    let reason: HTTPRejection

    init(status: HTTPStatus, code: StaticString, message: StaticString, retryAfter: Int? = nil, reason: HTTPRejection? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
        self.reason =
            reason
            ?? {
                switch status.code {
                case 431: .headersTooLarge
                case 413: .bodyTooLarge
                case 408: .timeout
                case 400: .badRequest
                default: .unsupported
                }
            }()
    }

    static let badRequestLine = ProtocolError(status: .badRequest, code: "bad_request_line", message: "malformed request line")
    static let badTarget = ProtocolError(status: .badRequest, code: "bad_request_target", message: "malformed request target")
    static let badVersion = ProtocolError(status: .badRequest, code: "bad_version", message: "malformed HTTP version")
    static let unsupportedVersion = ProtocolError(
        status: .httpVersionNotSupported, code: "unsupported_version", message: "only HTTP/1.0 and HTTP/1.1 are supported")
    static let badHeader = ProtocolError(status: .badRequest, code: "bad_header", message: "malformed header field")
    static let lineFolding = ProtocolError(status: .badRequest, code: "bad_header", message: "obsolete line folding is not accepted")
    static let bareLineFeed = ProtocolError(status: .badRequest, code: "bad_line_ending", message: "lines must end with CRLF")
    static let headersTooLarge = ProtocolError(
        status: .headerFieldsTooLarge, code: "headers_too_large", message: "request line and headers exceed the size limit")
    static let tooManyHeaders = ProtocolError(
        status: .headerFieldsTooLarge, code: "too_many_headers", message: "too many header fields")
    static let missingHost = ProtocolError(
        status: .badRequest, code: "bad_host", message: "a request needs exactly one Host header (HTTP/1.1 always, HTTP/1.0 at most one)")
    static let badHost = ProtocolError(status: .badRequest, code: "bad_host", message: "malformed Host header")
    static let tooManyBlankLines = ProtocolError(
        status: .badRequest, code: "bad_request_line", message: "too many empty lines before the request line")
    static let badContentLength = ProtocolError(status: .badRequest, code: "bad_content_length", message: "malformed Content-Length")
    static let conflictingFraming = ProtocolError(
        status: .badRequest, code: "conflicting_framing", message: "both Content-Length and Transfer-Encoding are present")
    static let unsupportedTransferEncoding = ProtocolError(
        status: .notImplemented, code: "unsupported_transfer_encoding", message: "only Transfer-Encoding: chunked is supported")
    static let transferEncodingInHTTP10 = ProtocolError(
        status: .badRequest, code: "bad_transfer_encoding", message: "Transfer-Encoding is not allowed in HTTP/1.0")
    static let badExpectation = ProtocolError(
        status: .expectationFailed, code: "unsupported_expectation", message: "only Expect: 100-continue is supported")
    static let bodyTooLarge = ProtocolError(
        status: .contentTooLarge, code: "body_too_large", message: "request body exceeds the size limit")
    static let badChunk = ProtocolError(status: .badRequest, code: "bad_chunk", message: "malformed chunked body")
    static let timeout = ProtocolError(status: .requestTimeout, code: "request_timeout", message: "request not received in time")
    /// A body that would take the server's buffered request bytes over `maxBufferedBytes`.
    static let bodyOverBudget = ProtocolError(
        status: .contentTooLarge, code: "buffers_full", message: "the server is holding too many request bodies; retry later",
        retryAfter: 1, reason: .bufferBudget)
    /// An unfinished head that would take the buffered request bytes over `maxBufferedBytes`.
    static let headOverBudget = ProtocolError(
        status: .serviceUnavailable, code: "buffers_full", message: "the server is holding too many unfinished requests; retry later",
        retryAfter: 1, reason: .bufferBudget)
}

/// The parsed request line and the header facts the engine needs for framing.
struct RequestHead {
    var method: HTTPMethod = .other
    var methodLength = 0
    var version: HTTPVersion = .http11
    var targetStart = 0
    var targetLength = 0
    var pathStart = 0
    var pathLength = 0
    /// -1 when the target has no `?`.
    var queryStart = -1
    var queryLength = 0
    var headerCount = 0
    /// -1 when absent.
    var contentLength = -1
    var chunked = false
    var keepAlive = true
    var expectContinue = false
}

/// Strict HTTP/1.1 head parsing (RFC 9112) over bytes that already hold the complete head.
enum RequestHeadParser {
    /// `tchar` from RFC 9110: `!#$%&'*+-.^_`|~`, digits and letters.
    static let tokenTable: [Bool] = (0..<256).map { byte in
        switch UInt8(byte) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    /// Where a head ends, as far as the bytes so far tell.
    enum HeadEnd: Equatable {
        /// The head is `length` bytes long, its blank line included.
        case complete(length: Int)
        /// No blank line yet, and every line so far ends with CRLF.
        case incomplete
        /// A line ends with a bare LF: refuse at once instead of waiting for a CRLF that may never come.
        case bareLineFeed
    }

    /// Finds the end of the head (`\r\n\r\n`) in `p[from..<count]`, checking that every line
    /// ends with CRLF. `p[0]` starts the request line (not a line feed).
    @inline(__always)
    static func findHeadEnd(_ p: UnsafePointer<UInt8>, from: Int, count: Int) -> HeadEnd {
        var i = Swift.max(from, 1)
        while i < count {
            // Jump to the next LF with memchr, then look back for CR (and CRLFCR before it).
            guard let found = memchr(p + i, 0x0A, count - i) else { return .incomplete }
            let lf = UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - p
            guard p[lf - 1] == 0x0D else { return .bareLineFeed }
            if lf >= 3, p[lf - 2] == 0x0A, p[lf - 3] == 0x0D { return .complete(length: lf + 1) }
            i = lf + 1
        }
        return .incomplete
    }

    /// Field content (RFC 9110 §5.5): HTAB, SP, VCHAR and obs-text; no CR, LF, other controls or DEL.
    @inline(__always)
    static func isFieldContent(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte != 0x7F || byte == 0x09
    }

    /// Whether `p[0..<length]` (a line without its CRLF) is a field line: `name ":" OWS value OWS`
    /// with a token name and field content after the colon. Used for chunked trailers.
    static func isFieldLine(_ p: UnsafePointer<UInt8>, length: Int) -> Bool {
        var i = 0
        while i < length, tokenTable[Int(p[i])] { i += 1 }
        guard i > 0, i < length, p[i] == UInt8(ascii: ":") else { return false }
        i += 1
        while i < length {
            guard isFieldContent(p[i]) else { return false }
            i += 1
        }
        return true
    }

    /// Whether `p[0..<length]` is a valid `Host` value (RFC 9112 §3.2, RFC 3986 §3.2.2):
    /// `uri-host [ ":" port ]`, where uri-host is an IP literal in brackets or a reg-name (IPv4
    /// addresses included), and may be empty.
    static func isValidHost(_ p: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        var i = 0
        if length > 0, p[0] == UInt8(ascii: "[") {
            guard let close = memchr(p, Int32(UInt8(ascii: "]")), length) else { return false }
            let end = UnsafePointer<UInt8>(close.assumingMemoryBound(to: UInt8.self)) - p
            guard isIPLiteral(p + 1, end - 1) else { return false }
            i = end + 1
        } else {
            while i < length, p[i] != UInt8(ascii: ":") {
                if p[i] == UInt8(ascii: "%") {
                    guard i + 2 < length, HTTPQuery.hexValue(p[i + 1]) != nil, HTTPQuery.hexValue(p[i + 2]) != nil else { return false }
                    i += 3
                    continue
                }
                guard isUnreserved(p[i]) || isSubDelimiter(p[i]) else { return false }
                i += 1
            }
        }
        guard i < length else { return true }
        // ":" port, port = *DIGIT
        guard p[i] == UInt8(ascii: ":") else { return false }
        i += 1
        while i < length {
            guard p[i] &- 48 < 10 else { return false }
            i += 1
        }
        return true
    }

    /// IPv6address (as `inet_pton` reads it) or IPvFuture (`v` 1*HEXDIG "." 1*(unreserved / sub-delims / ":")).
    private static func isIPLiteral(_ p: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        guard length > 0 else { return false }
        if p[0] == UInt8(ascii: "v") || p[0] == UInt8(ascii: "V") {
            var i = 1
            while i < length, HTTPQuery.hexValue(p[i]) != nil { i += 1 }
            guard i > 1, i < length, p[i] == UInt8(ascii: ".") else { return false }
            i += 1
            guard i < length else { return false }
            while i < length {
                guard isUnreserved(p[i]) || isSubDelimiter(p[i]) || p[i] == UInt8(ascii: ":") else { return false }
                i += 1
            }
            return true
        }
        // The longest IPv6 text is 45 bytes (with an embedded IPv4 address).
        guard length <= 45 else { return false }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { text in
            for i in 0..<length { text[i] = CChar(bitPattern: p[i]) }
            text[length] = 0
            var address = in6_addr()
            return inet_pton(AF_INET6, text.baseAddress, &address) == 1
        }
    }

    @inline(__always)
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    @inline(__always)
    private static func isSubDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            true
        default: false
        }
    }

    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 {
        byte &- 65 < 26 ? byte | 0x20 : byte
    }

    /// Whether `p[0..<length]` equals the lowercase ASCII `literal`, ignoring case.
    @inline(__always)
    static func equalsIgnoringCase(_ p: UnsafePointer<UInt8>, _ length: Int, _ literal: StaticString) -> Bool {
        guard literal.utf8CodeUnitCount == length else { return false }
        let l = literal.utf8Start
        for i in 0..<length where lower(p[i]) != l[i] { return false }
        return true
    }

    /// Parses the head in `p[0..<length]` (ending with the blank line), writing up to
    /// `maxFields` header fields to `fields`.
    static func parse(
        _ p: UnsafePointer<UInt8>, length: Int, fields: UnsafeMutablePointer<HeaderField>, maxFields: Int
    ) -> Result<RequestHead, ProtocolError> {
        var head = RequestHead()
        let tokens = tokenTable
        return tokens.withUnsafeBufferPointer { token -> Result<RequestHead, ProtocolError> in
            // Request line: method SP target SP version CRLF.
            var i = 0
            while i < length, token[Int(p[i])] { i += 1 }
            guard i > 0, i < length, p[i] == 0x20 else { return .failure(.badRequestLine) }
            head.methodLength = i
            head.method = HTTPMethod.parse(p, i)
            i += 1
            let targetStart = i
            while i < length, p[i] > 0x20, p[i] < 0x7F { i += 1 }
            guard i > targetStart, i < length else { return .failure(.badRequestLine) }
            guard p[i] == 0x20 else {
                return .failure(p[i] == 0x0D || p[i] == 0x0A ? .badRequestLine : .badTarget)
            }
            head.targetStart = targetStart
            head.targetLength = i - targetStart
            i += 1
            guard i + 10 <= length, p[i + 8] == 0x0D, p[i + 9] == 0x0A else {
                return .failure(.badVersion)
            }
            if memcmp(p + i, "HTTP/1.", 7) == 0, p[i + 7] == UInt8(ascii: "1") || p[i + 7] == UInt8(ascii: "0") {
                head.version = p[i + 7] == UInt8(ascii: "1") ? .http11 : .http10
            } else if memcmp(p + i, "HTTP/", 5) == 0, p[i + 5] &- 48 < 10, p[i + 6] == UInt8(ascii: "."), p[i + 7] &- 48 < 10 {
                return .failure(.unsupportedVersion)
            } else {
                return .failure(.badVersion)
            }
            i += 10
            head.keepAlive = head.version == .http11
            if let failure = splitTarget(p, &head) { return .failure(failure) }

            // Header fields, each `name ":" OWS value OWS CRLF`, until the blank line.
            var hostCount = 0
            var sawTransferEncoding = false
            var sawKeepAlive = false
            var sawClose = false
            while i < length - 2 {
                let nameStart = i
                while token[Int(p[i])] { i += 1 }
                guard i > nameStart else {
                    return .failure(p[i] == 0x20 || p[i] == 0x09 ? .lineFolding : .badHeader)
                }
                guard p[i] == UInt8(ascii: ":") else { return .failure(.badHeader) }
                let nameLength = i - nameStart
                i += 1
                while p[i] == 0x20 || p[i] == 0x09 { i += 1 }
                let valueStart = i
                // Field content; the line ends with CRLF.
                while isFieldContent(p[i]) { i += 1 }
                guard p[i] == 0x0D else { return .failure(p[i] == 0x0A ? .bareLineFeed : .badHeader) }
                guard p[i + 1] == 0x0A else { return .failure(.badHeader) }
                var valueEnd = i
                while valueEnd > valueStart, p[valueEnd - 1] == 0x20 || p[valueEnd - 1] == 0x09 { valueEnd -= 1 }
                i += 2

                guard head.headerCount < maxFields else { return .failure(.tooManyHeaders) }
                fields[head.headerCount] = HeaderField(
                    nameStart: Int32(nameStart), nameLength: Int32(nameLength),
                    valueStart: Int32(valueStart), valueLength: Int32(valueEnd - valueStart))
                head.headerCount += 1

                let name = p + nameStart
                let value = p + valueStart
                let valueLength = valueEnd - valueStart
                switch nameLength {
                case 4 where equalsIgnoringCase(name, 4, "host"):
                    hostCount += 1
                    guard isValidHost(value, valueLength) else { return .failure(.badHost) }
                case 6 where equalsIgnoringCase(name, 6, "expect"):
                    guard equalsIgnoringCase(value, valueLength, "100-continue") else { return .failure(.badExpectation) }
                    head.expectContinue = head.version == .http11
                case 10 where equalsIgnoringCase(name, 10, "connection"):
                    scanConnectionTokens(value, valueLength, close: &sawClose, keepAlive: &sawKeepAlive)
                case 14 where equalsIgnoringCase(name, 14, "content-length"):
                    guard let parsed = parseContentLength(value, valueLength) else { return .failure(.badContentLength) }
                    if head.contentLength >= 0, head.contentLength != parsed { return .failure(.badContentLength) }
                    head.contentLength = parsed
                case 17 where equalsIgnoringCase(name, 17, "transfer-encoding"):
                    guard !sawTransferEncoding, equalsIgnoringCase(value, valueLength, "chunked") else {
                        return .failure(head.version == .http10 ? .transferEncodingInHTTP10 : .unsupportedTransferEncoding)
                    }
                    sawTransferEncoding = true
                    head.chunked = true
                default:
                    break
                }
            }
            guard p[i] == 0x0D, p[i + 1] == 0x0A else { return .failure(.badHeader) }

            if head.chunked {
                if head.version == .http10 { return .failure(.transferEncodingInHTTP10) }
                if head.contentLength >= 0 { return .failure(.conflictingFraming) }
            }
            // RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, and for any request with more than one.
            if hostCount > 1 || head.version == .http11 && hostCount == 0 { return .failure(.missingHost) }
            if sawClose {
                head.keepAlive = false
            } else if head.version == .http10, sawKeepAlive {
                head.keepAlive = true
            }
            return .success(head)
        }
    }

    /// Splits the target into path and query, accepting origin-form (`/p?q`), absolute-form
    /// (`http://host/p?q`) and `*` for OPTIONS.
    private static func splitTarget(_ p: UnsafePointer<UInt8>, _ head: inout RequestHead) -> ProtocolError? {
        var start = head.targetStart
        let end = head.targetStart + head.targetLength
        if p[start] != UInt8(ascii: "/") {
            if head.targetLength == 1, p[start] == UInt8(ascii: "*") {
                guard head.method == .options else { return .badTarget }
                head.pathStart = start
                head.pathLength = 1
                return nil
            }
            let schemeLength: Int
            if equalsIgnoringCase(p + start, Swift.min(7, head.targetLength), "http://") {
                schemeLength = 7
            } else if equalsIgnoringCase(p + start, Swift.min(8, head.targetLength), "https://") {
                schemeLength = 8
            } else {
                return .badTarget
            }
            start += schemeLength
            while start < end, p[start] != UInt8(ascii: "/"), p[start] != UInt8(ascii: "?") { start += 1 }
            if start == end || p[start] == UInt8(ascii: "?") {
                // `http://host` or `http://host?q`: the path is "/", which the target does not spell.
                head.pathStart = -1
                head.pathLength = 1
                if start < end {
                    head.queryStart = start + 1
                    head.queryLength = end - start - 1
                }
                return nil
            }
        }
        head.pathStart = start
        if let mark = memchr(p + start, Int32(UInt8(ascii: "?")), end - start) {
            let q = UnsafePointer<UInt8>(mark.assumingMemoryBound(to: UInt8.self)) - p
            head.pathLength = q - start
            head.queryStart = q + 1
            head.queryLength = end - q - 1
        } else {
            head.pathLength = end - start
        }
        return nil
    }

    /// `1*DIGIT`, at most 18 digits. nil when malformed.
    static func parseContentLength(_ p: UnsafePointer<UInt8>, _ length: Int) -> Int? {
        guard length > 0, length <= 18 else { return nil }
        var value = 0
        for i in 0..<length {
            let digit = p[i] &- 48
            guard digit < 10 else { return nil }
            value = value * 10 + Int(digit)
        }
        return value
    }

    /// Looks for the `close` and `keep-alive` options in a Connection header value.
    private static func scanConnectionTokens(_ p: UnsafePointer<UInt8>, _ length: Int, close: inout Bool, keepAlive: inout Bool) {
        var i = 0
        while i < length {
            while i < length, p[i] == 0x20 || p[i] == 0x09 || p[i] == UInt8(ascii: ",") { i += 1 }
            let start = i
            while i < length, p[i] != UInt8(ascii: ","), p[i] != 0x20, p[i] != 0x09 { i += 1 }
            if equalsIgnoringCase(p + start, i - start, "close") { close = true }
            if equalsIgnoringCase(p + start, i - start, "keep-alive") { keepAlive = true }
        }
    }
}
