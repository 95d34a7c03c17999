/// One HTTP request as the S3 client builds it.
public struct TransportRequest: Sendable {
    public var method: String
    /// The full URL, with the path and query already percent-encoded.
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Seconds the request may make no progress (or transfer slower than the transport's minimum
    /// speed) before it is abandoned.
    public var timeout: Double
    /// The largest successful (2xx) response body accepted; a larger one is abandoned as it
    /// arrives and fails with ``TransportError/tooLarge(_:)``.
    public var maxResponseBytes: Int

    /// The body limit of requests that do not say: list pages, HEAD and PUT answers.
    public static let defaultMaxResponseBytes = 16 << 20

    public init(
        method: String, url: String, headers: [(name: String, value: String)], body: [UInt8] = [], timeout: Double,
        maxResponseBytes: Int = TransportRequest.defaultMaxResponseBytes
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.maxResponseBytes = max(0, maxResponseBytes)
    }
}

/// One HTTP response.
public struct TransportResponse: Sendable {
    public var status: Int
    /// Header names in lowercase.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Why no HTTP response arrived.
public enum TransportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No answer within the timeout.
    case timeout(String)
    /// No connection (refused, reset, DNS failure).
    case unreachable(String)
    /// The answer was larger than the request accepts: abandoned as it arrived.
    case tooLarge(String)
    /// Anything else the HTTP stack reported.
    case other(String)

    public var description: String {
        switch self {
        case .timeout(let text), .unreachable(let text), .tooLarge(let text), .other(let text): return text
        }
    }
}

/// Sends HTTP requests. ``CurlTransport`` is the real one.
public protocol HTTPTransport: Sendable {
    func send(_ request: TransportRequest) async throws(TransportError) -> TransportResponse
}
