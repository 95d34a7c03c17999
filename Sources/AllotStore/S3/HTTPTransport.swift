import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One HTTP request as the S3 client builds it.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The full URL, with the path and query already percent-encoded.
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Seconds before the request is abandoned.
    public var timeout: Double

    public init(method: String, url: String, headers: [(name: String, value: String)], body: [UInt8] = [], timeout: Double) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// One HTTP response.
public struct HTTPResponse: Sendable {
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
    /// Anything else the HTTP stack reported.
    case other(String)

    public var description: String {
        switch self {
        case .timeout(let text), .unreachable(let text), .other(let text): return text
        }
    }
}

/// Sends HTTP requests. ``URLSessionTransport`` is the real one.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) async throws(TransportError) -> HTTPResponse
}

/// HTTP over Foundation's `URLSession` (libcurl on Linux): no extra build cost, no caching, no
/// cookies, no redirects followed (S3 redirects mean a wrong region or endpoint, which should be
/// reported, not chased).
public final class URLSessionTransport: HTTPTransport, Sendable {
    private let session: URLSession

    /// Seconds a request may go without progress before it fails with a timeout.
    public let timeout: Double

    /// - Parameter timeout: seconds a request may go without progress before it fails with a
    ///   timeout, rounded up to whole seconds (at least 1). swift-corelibs-foundation honours the
    ///   session's `timeoutIntervalForRequest`, not the per-request `timeoutInterval`, and truncates
    ///   it to whole seconds: 0.5 would time out at once.
    public init(timeout: Double = 30) {
        self.timeout = Self.wholeSeconds(timeout)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = self.timeout
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalAndRemoteCacheData
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.httpMaximumConnectionsPerHost = 8
        session = URLSession(configuration: configuration, delegate: RedirectRefuser(), delegateQueue: nil)
    }

    /// Whole seconds, at least one.
    static func wholeSeconds(_ seconds: Double) -> Double {
        guard seconds.isFinite else { return 30 }
        return max(1, seconds.rounded(.up))
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    public func send(_ request: HTTPRequest) async throws(TransportError) -> HTTPResponse {
        guard let url = URL(string: request.url) else { throw .other("not a valid URL: \(request.url)") }
        var urlRequest = URLRequest(
            url: url, cachePolicy: .reloadIgnoringLocalAndRemoteCacheData, timeoutInterval: Self.wholeSeconds(request.timeout))
        urlRequest.httpMethod = request.method
        for header in request.headers {
            urlRequest.setValue(header.value, forHTTPHeaderField: header.name)
        }
        if !request.body.isEmpty || request.method == "PUT" || request.method == "POST" {
            urlRequest.httpBody = Data(request.body)
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: urlRequest)
        } catch let error as URLError {
            let text = "\(request.method) \(request.url): \(error.localizedDescription) (URLError \(error.code.rawValue))"
            switch error.code {
            case .timedOut:
                throw .timeout(text)
            case .cannotConnectToHost, .cannotFindHost, .networkConnectionLost, .notConnectedToInternet, .dnsLookupFailed,
                .secureConnectionFailed:
                throw .unreachable(text)
            default:
                throw .other(text)
            }
        } catch {
            throw .other("\(request.method) \(request.url): \(error)")
        }
        guard let http = response as? HTTPURLResponse else { throw .other("\(request.method) \(request.url): not an HTTP response") }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            guard let name = name as? String, let value = value as? String else { continue }
            headers[name.lowercased()] = value
        }
        return HTTPResponse(status: http.statusCode, headers: headers, body: [UInt8](data))
    }
}

/// Declines every redirect, so the 3xx answer itself reaches the S3 client.
private final class RedirectRefuser: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}
