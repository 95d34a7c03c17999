internal import AllotCore
public import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Settings of the S3 client.
public struct S3Configuration: Sendable, Equatable {
    /// Retries of failed requests.
    public var retry: RetryPolicy
    /// Seconds a request may make no progress before it is abandoned (and retried). A transport
    /// passed to ``S3Store/init(_:credentials:configuration:transport:logger:)`` brings its own.
    public var requestTimeout: Double
    /// Keys per page when listing (S3 allows at most 1000).
    public var listPageSize: Int
    /// Bytes per second below which a transfer counts as stalled (for `requestTimeout` seconds).
    public var minimumBytesPerSecond: Int
    /// Seconds any one request may take in all, however it trickles.
    public var deadline: Double

    public init(
        retry: RetryPolicy = RetryPolicy(), requestTimeout: Double = 30, listPageSize: Int = 1000, minimumBytesPerSecond: Int = 1024,
        deadline: Double = 300
    ) {
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.listPageSize = min(max(1, listPageSize), 1000)
        self.minimumBytesPerSecond = max(1, minimumBytesPerSecond)
        self.deadline = deadline
    }

    /// The transport these settings describe.
    public func makeTransport() -> CurlTransport {
        CurlTransport(minimumBytesPerSecond: minimumBytesPerSecond, deadline: deadline)
    }
}

/// An S3-compatible bucket (AWS S3, MinIO, Ceph, R2, GCS's XML API, moto) as an ``ObjectStore``.
///
/// Requests are signed with ``SigV4Signer`` (payload signed, `x-amz-content-sha256` set) when
/// credentials are given, and sent anonymously otherwise. Every request is tried again on
/// connection failures, timeouts and 5xx/429/`SlowDown` answers, per ``RetryPolicy``.
public struct S3Store: ObjectStore {
    public let location: StoreLocation
    /// The bucket, prefix, region and endpoint.
    public let s3: S3Location
    let credentials: AWSCredentials?
    let configuration: S3Configuration
    let transport: any HTTPTransport
    let logger: Logger

    /// - Parameters:
    ///   - transport: how requests are sent; `configuration.makeTransport()` when nil.
    public init(
        _ s3: S3Location, credentials: AWSCredentials?, configuration: S3Configuration = S3Configuration(),
        transport: (any HTTPTransport)? = nil, logger: Logger
    ) {
        self.s3 = s3
        self.location = .s3(s3)
        self.credentials = credentials
        self.configuration = configuration
        self.transport = transport ?? configuration.makeTransport()
        var logger = logger
        logger[metadataKey: "store"] = "\(s3)"
        self.logger = logger
    }

    // MARK: ObjectStore

    public func get(_ key: String, ifNoneMatch: ETag?) async throws(StoreError) -> ReadResult {
        try ObjectKey.validate(key)
        var headers: [(String, String)] = []
        if let ifNoneMatch { headers.append(("If-None-Match", ifNoneMatch.value)) }
        let (response, attempts) = try await send("GET", key: key, headers: headers, maxResponseBytes: ObjectStoreLimits.unboundedReadBytes)
        switch response.status {
        case 200:
            return .object(StoredObject(key: key, bytes: response.body, etag: try etag(of: response, key: key)))
        case 304:
            return .notModified
        default:
            throw failure(response, method: "GET", key: key, attempts: attempts)
        }
    }

    public func get(_ key: String, ifNoneMatch: ETag?, maxBytes: Int) async throws(StoreError) -> ReadResult {
        try ObjectKey.validate(key)
        let maxBytes = max(0, maxBytes)
        // One byte more than accepted, to tell an object of exactly `maxBytes` from a larger one.
        var headers: [(String, String)] = [("Range", "bytes=0-\(maxBytes)")]
        if let ifNoneMatch { headers.append(("If-None-Match", ifNoneMatch.value)) }
        // The transport abandons a body over `maxBytes + 1` as it arrives, so a store that ignores
        // Range (or streams forever) costs at most that.
        let (response, attempts): (TransportResponse, Int)
        do {
            (response, attempts) = try await send("GET", key: key, headers: headers, maxResponseBytes: maxBytes + 1)
        } catch  where error.code == .tooLarge {
            throw LocalStore.tooLarge(size: nil, maxBytes: maxBytes, store: location, key: key)
        }
        switch response.status {
        case 206:
            // Content-Range: bytes 0-<last>/<complete length> (the length may be `*`: unknown).
            let total = response.headers["content-range"].flatMap { Int($0.split(separator: "/").last ?? "") }
            guard let total, total <= maxBytes else {
                throw LocalStore.tooLarge(size: total, maxBytes: maxBytes, store: location, key: key)
            }
            guard response.body.count == total else {
                throw StoreError(
                    .badResponse, "a ranged GET returned \(response.body.count) bytes of a \(total)-byte object", store: location, key: key,
                    httpStatus: 206)
            }
            return .object(StoredObject(key: key, bytes: response.body, etag: try etag(of: response, key: key)))
        case 200:
            // A store that ignores Range sends the whole object: still refuse it.
            guard response.body.count <= maxBytes else {
                throw LocalStore.tooLarge(size: response.body.count, maxBytes: maxBytes, store: location, key: key)
            }
            return .object(StoredObject(key: key, bytes: response.body, etag: try etag(of: response, key: key)))
        case 304:
            return .notModified
        case 416:
            // An empty object has no byte 0, so S3 answers 416 InvalidRange; its tag comes from HEAD.
            guard let info = try await head(key) else { throw StoreError(.notFound, "no such object", store: location, key: key) }
            guard info.size == 0 else {
                throw StoreError(
                    .badResponse, "a ranged GET answered 416 for a \(info.size)-byte object", store: location, key: key, httpStatus: 416)
            }
            if let ifNoneMatch, ifNoneMatch == info.etag { return .notModified }
            return .object(StoredObject(key: key, bytes: [], etag: info.etag))
        default:
            throw failure(response, method: "GET", key: key, attempts: attempts)
        }
    }

    public func put(_ key: String, bytes: [UInt8], condition: WriteCondition) async throws(StoreError) -> ETag {
        try ObjectKey.validate(key)
        var headers: [(String, String)] = [("Content-Type", key.hasSuffix(".json") ? "application/json" : "application/octet-stream")]
        switch condition {
        case .none: break
        case .ifAbsent: headers.append(("If-None-Match", "*"))
        case .ifMatch(let etag): headers.append(("If-Match", etag.value))
        }
        let (response, attempts) = try await send("PUT", key: key, headers: headers, body: bytes)
        guard response.status == 200 else { throw failure(response, method: "PUT", key: key, attempts: attempts) }
        return try etag(of: response, key: key)
    }

    public func head(_ key: String) async throws(StoreError) -> ObjectInfo? {
        try ObjectKey.validate(key)
        let (response, attempts) = try await send("HEAD", key: key)
        switch response.status {
        case 200:
            guard let length = response.headers["content-length"].flatMap({ Int($0) }) else {
                throw StoreError(.badResponse, "HEAD answer without a Content-Length", store: location, key: key)
            }
            return ObjectInfo(key: key, size: length, etag: try etag(of: response, key: key))
        case 404:
            return nil
        case 403 where response.body.isEmpty:
            // HEAD answers carry no body, so no error code: ask again with a one-byte GET to learn
            // whether it is the signature, the key id or a policy.
            throw await diagnoseForbiddenHead(key: key, attempts: attempts)
        default:
            throw failure(response, method: "HEAD", key: key, attempts: attempts)
        }
    }

    public func list(prefix: String) async throws(StoreError) -> [ObjectInfo] {
        var results: [ObjectInfo] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", s3.prefix + prefix), ("encoding-type", "url")]
            if configuration.listPageSize != 1000 { query.append(("max-keys", "\(configuration.listPageSize)")) }
            if let token { query.append(("continuation-token", token)) }
            let (response, attempts) = try await send("GET", key: nil, query: query)
            guard response.status == 200 else { throw failure(response, method: "GET (list)", key: prefix, attempts: attempts) }
            let text = Substring(String(decoding: response.body, as: UTF8.self))
            for contents in S3XML.elements("Contents", in: text) {
                guard let encodedKey = S3XML.first("Key", in: contents),
                    let fullKey = URIEncoding.decode(encodedKey.replacingPlusWithSpace()),
                    let size = S3XML.first("Size", in: contents).flatMap({ Int($0) }),
                    let tag = S3XML.first("ETag", in: contents)
                else {
                    throw StoreError(.badResponse, "a ListObjectsV2 entry lacks Key, Size or ETag", store: location, key: prefix)
                }
                guard fullKey.hasPrefix(s3.prefix) else { continue }
                results.append(ObjectInfo(key: String(fullKey.dropFirst(s3.prefix.count)), size: size, etag: ETag(tag)))
            }
            let truncated = S3XML.first("IsTruncated", in: text) == "true"
            token = truncated ? S3XML.first("NextContinuationToken", in: text) : nil
            if truncated && token == nil {
                throw StoreError(.badResponse, "a truncated listing without NextContinuationToken", store: location, key: prefix)
            }
        } while token != nil
        return results.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
    }

    /// Creates the bucket (used by tests and local setups; publishing never creates buckets).
    /// An existing bucket owned by the caller is fine.
    func createBucket() async throws(StoreError) {
        var body: [UInt8] = []
        if s3.region != "us-east-1" {
            body = Array(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(s3.region)</LocationConstraint></CreateBucketConfiguration>"
                    .utf8)
        }
        let (response, attempts) = try await send(
            "PUT", key: nil, headers: body.isEmpty ? [] : [("Content-Type", "application/xml")], body: body)
        let code = S3XML.first("Code", in: Substring(String(decoding: response.body, as: UTF8.self)))
        guard response.status == 200 || code == "BucketAlreadyOwnedByYou" else {
            throw failure(response, method: "PUT (create bucket)", key: nil, attempts: attempts)
        }
    }

    // MARK: Requests

    /// The URL, encoded path and host of a request for `key` (nil: the bucket itself).
    func target(key: String?, query: [(String, String)]) -> (url: String, path: String, host: String) {
        let endpoint = s3.effectiveEndpoint
        var path = ""
        if s3.addressing == .path { path += "/" + s3.bucket }
        if let key { path += "/" + URIEncoding.encodePath(s3.prefix + key) }
        if path.isEmpty { path = "/" }
        var url = "\(endpoint)\(path)"
        if !query.isEmpty {
            url += "?" + query.map { "\(URIEncoding.encodeComponent($0.0))=\(URIEncoding.encodeComponent($0.1))" }.joined(separator: "&")
        }
        return (url, path, endpoint.hostHeader)
    }

    /// Builds and signs one attempt of a request. `payloadHash` is the body's SHA-256 in hex when
    /// the caller has it already (`send` computes it once for all attempts).
    func signedRequest(
        _ method: String, key: String?, query: [(String, String)], headers: [(String, String)], body: [UInt8], epochSeconds: Int64,
        payloadHash: String? = nil, maxResponseBytes: Int = TransportRequest.defaultMaxResponseBytes
    ) -> TransportRequest {
        let (url, path, host) = target(key: key, query: query)
        var allHeaders: [(name: String, value: String)] = headers.map { (name: $0.0, value: $0.1) }
        guard let credentials else {
            return TransportRequest(
                method: method, url: url, headers: allHeaders, body: body, timeout: configuration.requestTimeout,
                maxResponseBytes: maxResponseBytes)
        }
        let payloadHash = payloadHash ?? Self.payloadHash(body)
        let amzDate = SigV4Signer.amzDate(epochSeconds: epochSeconds)
        allHeaders.append((name: "x-amz-date", value: amzDate))
        allHeaders.append((name: "x-amz-content-sha256", value: payloadHash))
        if let token = credentials.sessionToken { allHeaders.append((name: "x-amz-security-token", value: token)) }
        let signer = SigV4Signer(credentials: credentials, region: s3.region)
        let signature = signer.sign(
            method: method, encodedPath: path, query: query.map { (name: $0.0, value: $0.1) },
            headers: allHeaders + [(name: "host", value: host)], payloadHash: payloadHash, amzDate: amzDate)
        allHeaders.append((name: "Authorization", value: signature.authorization))
        return TransportRequest(
            method: method, url: url, headers: allHeaders, body: body, timeout: configuration.requestTimeout,
            maxResponseBytes: maxResponseBytes)
    }

    /// The SHA-256 of `body` in hex, as SigV4's `x-amz-content-sha256`.
    static func payloadHash(_ body: [UInt8]) -> String {
        body.isEmpty ? SigV4Signer.emptyPayloadHash : Hex.encode(SHA256.hash(body))
    }

    /// Sends a request, trying again per the retry policy. Returns the final answer (which may be
    /// an error status that is not worth retrying) and the number of attempts made.
    func send(
        _ method: String, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [], body: [UInt8] = [],
        maxResponseBytes: Int = TransportRequest.defaultMaxResponseBytes
    ) async throws(StoreError) -> (TransportResponse, Int) {
        let policy = configuration.retry
        // Signed requests carry the body's hash; a bundle upload is hashed once, not per attempt.
        let payloadHash = credentials == nil ? nil : Self.payloadHash(body)
        var attempt = 0
        while true {
            attempt += 1
            let request = signedRequest(
                method, key: key, query: query, headers: headers, body: body, epochSeconds: Int64(time(nil)), payloadHash: payloadHash,
                maxResponseBytes: maxResponseBytes)
            let reason: String
            let finalError: StoreError
            do {
                let response = try await transport.send(request)
                guard let retryReason = Self.retryReason(response) else {
                    logger.trace("\(method) \(key ?? "") → \(response.status)")
                    return (response, attempt)
                }
                reason = retryReason
                finalError = failure(response, method: method, key: key, attempts: attempt)
            } catch {
                switch error {
                case .timeout(let text):
                    reason = "timeout"
                    finalError = StoreError(
                        .timeout, "timed out: \(text)", store: location, key: key,
                        attempts: attempt)
                case .unreachable(let text):
                    reason = "unreachable"
                    finalError = StoreError(.unreachable, "cannot connect: \(text)", store: location, key: key, attempts: attempt)
                case .tooLarge(let text):
                    // Sending it again would only download as much again.
                    throw StoreError(.tooLarge, "not downloaded: \(text)", store: location, key: key, attempts: attempt)
                case .other(let text):
                    reason = "transport error"
                    finalError = StoreError(.unreachable, "request failed: \(text)", store: location, key: key, attempts: attempt)
                }
            }
            guard attempt < policy.maxAttempts, !Task.isCancelled else { throw finalError }
            let delay = policy.delay(afterAttempt: attempt, unit: Double.random(in: 0...1))
            logger.notice(
                "retrying after \(reason)",
                metadata: ["method": "\(method)", "key": "\(key ?? "")", "attempt": "\(attempt)", "delay_ms": "\(Int(delay * 1000))"])
            do {
                try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
            } catch {
                throw finalError
            }
        }
    }

    /// Why an answer deserves another attempt, or nil if it does not.
    static func retryReason(_ response: TransportResponse) -> String? {
        switch response.status {
        case 500, 502, 503, 504: return "HTTP \(response.status)"
        case 429: return "HTTP 429 (too many requests)"
        case 400..<500:
            let code = S3XML.first("Code", in: Substring(String(decoding: response.body, as: UTF8.self)))
            if code == "RequestTimeout" || code == "SlowDown" { return "\(code!)" }
            return nil
        default: return nil
        }
    }

    func etag(of response: TransportResponse, key: String) throws(StoreError) -> ETag {
        guard let value = response.headers["etag"], !value.isEmpty else {
            throw StoreError(.badResponse, "the answer has no ETag header", store: location, key: key, httpStatus: response.status)
        }
        return ETag(value)
    }

    /// A clear error for an answer that is not a success.
    func failure(_ response: TransportResponse, method: String, key: String?, attempts: Int) -> StoreError {
        let text = Substring(String(decoding: response.body, as: UTF8.self))
        let serverCode = S3XML.first("Code", in: text)
        let serverMessage = S3XML.first("Message", in: text)
        let said = serverMessage.map { " The store says: \($0)" } ?? ""
        let noCredentials = credentials == nil ? " No credentials were given: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY." : ""
        func error(_ code: StoreError.Code, _ message: String) -> StoreError {
            StoreError(code, message, store: location, key: key, httpStatus: response.status, serverCode: serverCode, attempts: attempts)
        }
        switch (response.status, serverCode) {
        case (403, "SignatureDoesNotMatch"?):
            return error(
                .signatureDoesNotMatch,
                "\(method) refused: SignatureDoesNotMatch, the signature does not match the secret key the store has for access key \(credentials?.accessKeyID ?? "-"). Check AWS_SECRET_ACCESS_KEY (and the clock).\(said)"
            )
        case (403, "InvalidAccessKeyId"?):
            return error(
                .invalidAccessKeyID,
                "\(method) refused: InvalidAccessKeyId, the store does not know access key \(credentials?.accessKeyID ?? "-"). Check AWS_ACCESS_KEY_ID and the endpoint.\(said)"
            )
        case (403, _):
            return error(
                .accessDenied,
                "\(method) refused: \(serverCode ?? "403 Forbidden"), the credentials are not allowed to do this on bucket \(s3.bucket) (check the bucket policy or IAM permissions, and AWS_SESSION_TOKEN if temporary credentials are used).\(noCredentials)\(said)"
            )
        case (404, "NoSuchBucket"?):
            return error(.notFound, "bucket '\(s3.bucket)' does not exist at \(s3.effectiveEndpoint).\(said)")
        case (404, _):
            return error(.notFound, "no such object.\(said)")
        case (412, _):
            return error(.preconditionFailed, "\(method) precondition failed: the object changed (or appeared) since it was read.\(said)")
        case (301, _), (307, _), (400, "AuthorizationHeaderMalformed"?), (400, "IllegalLocationConstraintException"?):
            return error(
                .requestRejected,
                "\(method) answered \(response.status) \(serverCode ?? ""): the bucket is probably in another region than \(s3.region) or needs another endpoint.\(said)"
            )
        case (500..<600, _), (429, _):
            return error(
                .serverError,
                "\(method) failed: the store answered \(response.status)\(serverCode.map { " \($0)" } ?? "") through every attempt.\(said)")
        case (400..<500, _):
            return error(.requestRejected, "\(method) rejected with \(response.status)\(serverCode.map { " \($0)" } ?? "").\(said)")
        default:
            return error(.badResponse, "\(method) answered an unexpected \(response.status).\(said)")
        }
    }

    /// Turns a body-less 403 on HEAD into the precise error, using a one-byte ranged GET.
    func diagnoseForbiddenHead(key: String, attempts: Int) async -> StoreError {
        let generic = StoreError(.accessDenied, "HEAD refused with 403", store: location, key: key, httpStatus: 403, attempts: attempts)
        guard let (response, _) = try? await send("GET", key: key, headers: [("Range", "bytes=0-0")]), response.status == 403 else {
            return generic
        }
        return failure(response, method: "HEAD", key: key, attempts: attempts)
    }
}

extension String {
    /// `+` as a space, for keys in `encoding-type=url` listings (form encoding).
    fileprivate func replacingPlusWithSpace() -> String {
        String(decoding: utf8.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }
}
