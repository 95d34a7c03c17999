/// Why a store operation failed: a stable code (for metrics, logs and exit codes), a message a
/// person can act on, and where it happened.
public struct StoreError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Stable machine-readable reasons.
    public enum Code: String, Sendable, CaseIterable, Codable {
        /// The store URL could not be understood.
        case badURL = "bad_url"
        /// The object key breaks the ``ObjectKey`` rules.
        case invalidKey = "invalid_key"
        /// No such object (HTTP 404 `NoSuchKey`), or no such bucket (`NoSuchBucket`).
        case notFound = "not_found"
        /// A write precondition did not hold (HTTP 412): someone else wrote first.
        case preconditionFailed = "precondition_failed"
        /// HTTP 403 `SignatureDoesNotMatch`: wrong secret key, or a signing bug.
        case signatureDoesNotMatch = "signature_does_not_match"
        /// HTTP 403 `InvalidAccessKeyId`: the access key id is unknown to the store.
        case invalidAccessKeyID = "invalid_access_key_id"
        /// HTTP 403 for any other reason (`AccessDenied`, expired token, ...).
        case accessDenied = "access_denied"
        /// The store kept answering 5xx, 429 or `SlowDown` through every attempt.
        case serverError = "server_error"
        /// No connection could be made (refused, DNS, reset).
        case unreachable = "unreachable"
        /// The request timed out through every attempt.
        case timeout = "timeout"
        /// Any other 4xx answer.
        case requestRejected = "request_rejected"
        /// The store answered something this client cannot understand.
        case badResponse = "bad_response"
        /// The object is larger than the reader accepts (``ObjectStore/get(_:ifNoneMatch:maxBytes:)``):
        /// it was not downloaded.
        case tooLarge = "too_large"
        /// A local store's object is not a regular file (a symbolic link, FIFO, device or folder):
        /// refused without being followed or read.
        case notRegularFile = "not_regular_file"
        /// A local file operation failed.
        case io = "io"
    }

    public let code: Code
    public let message: String
    /// The store's URL, when known.
    public var store: String?
    /// The object key, when the failure concerns one.
    public var key: String?
    /// The HTTP status, for S3 failures.
    public var httpStatus: Int?
    /// The S3 error code from the response body (`SignatureDoesNotMatch`, `NoSuchKey`, ...).
    public var serverCode: String?
    /// How many attempts were made.
    public var attempts: Int?

    public init(
        _ code: Code, _ message: String, store: StoreLocation? = nil, key: String? = nil, httpStatus: Int? = nil,
        serverCode: String? = nil, attempts: Int? = nil
    ) {
        self.code = code
        self.message = message
        self.store = store?.description
        self.key = key
        self.httpStatus = httpStatus
        self.serverCode = serverCode
        self.attempts = attempts
    }

    /// `<store>: <key>: <message> (HTTP 403 SignatureDoesNotMatch, 4 attempts)`.
    public var description: String {
        (store.map { "\($0): " } ?? "") + detail
    }

    /// The description without the store, for reports that already name it:
    /// `<key>: <message> (HTTP 403 SignatureDoesNotMatch, 4 attempts)`.
    public var detail: String {
        var text = ""
        if let key { text += "\(key): " }
        text += message
        var details: [String] = []
        if let httpStatus { details.append("HTTP \(httpStatus)" + (serverCode.map { " \($0)" } ?? "")) }
        if let attempts, attempts > 1 { details.append("\(attempts) attempts") }
        if !details.isEmpty { text += " (\(details.joined(separator: ", ")))" }
        return text
    }
}
