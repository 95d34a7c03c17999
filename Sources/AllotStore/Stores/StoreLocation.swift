/// Where a region's store is, parsed from a store URL.
///
/// Accepted forms (see `docs/storage.md`):
/// - a folder: `/var/lib/allot/store`, `./store`, or `file:///var/lib/allot/store`;
/// - an S3-compatible bucket: `s3://bucket[/prefix][?endpoint=URL][&region=NAME][&addressing=path|virtual]`.
///   Without `endpoint` the store is AWS S3 and `region` is required; with one, `region` defaults
///   to `us-east-1` and requests are path-style (`http://host:port/bucket/key`).
public enum StoreLocation: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// A folder on this machine.
    case local(path: String)
    /// A bucket (and key prefix) on an S3-compatible service.
    case s3(S3Location)

    /// Parses a store URL or a folder path. Throws `badURL` with what is wrong and the accepted forms.
    public init(parsing text: String) throws(StoreError) {
        func bad(_ why: String) -> StoreError {
            StoreError(
                .badURL,
                "invalid store URL '\(text)': \(why). Use a folder path, file:///path, or s3://bucket/prefix?endpoint=http://host:port&region=name"
            )
        }
        guard !text.isEmpty else { throw bad("it is empty") }
        guard let schemeEnd = text.range(of: "://") else {
            self = .local(path: text)
            return
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        let rest = text[schemeEnd.upperBound...]
        switch scheme {
        case "file":
            var path = String(rest)
            if path.hasPrefix("localhost/") { path.removeFirst("localhost".count) }
            guard path.hasPrefix("/") else { throw bad("a file URL needs an absolute path, as in file:///var/lib/allot") }
            guard let decoded = URIEncoding.decode(path) else { throw bad("the path has a malformed %-escape") }
            self = .local(path: decoded)
        case "s3":
            self = .s3(try S3Location(parsingAfterScheme: String(rest), bad: bad))
        default:
            throw bad("the scheme '\(scheme)' is not supported")
        }
    }

    /// The canonical URL (or folder path) of the store.
    public var description: String {
        switch self {
        case .local(let path): return path
        case .s3(let location): return location.description
        }
    }
}

/// An S3-compatible bucket and key prefix, with how to reach it.
public struct S3Location: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// How the bucket appears in request URLs.
    public enum Addressing: String, Sendable, Hashable {
        /// `https://endpoint/bucket/key`: always used with custom endpoints.
        case path
        /// `https://bucket.s3.region.amazonaws.com/key`: AWS's default.
        case virtualHost = "virtual"
    }

    /// A scheme, host and optional port.
    public struct Endpoint: Sendable, Equatable, Hashable, CustomStringConvertible {
        public var secure: Bool
        public var host: String
        public var port: Int?

        public init(secure: Bool, host: String, port: Int? = nil) {
            self.secure = secure
            self.host = host
            self.port = port
        }

        /// The `Host` header value: the port is included unless it is the scheme's default.
        public var hostHeader: String {
            guard let port, port != (secure ? 443 : 80) else { return host }
            return "\(host):\(port)"
        }

        public var description: String { "\(secure ? "https" : "http")://\(hostHeader)" }
    }

    public var bucket: String
    /// Prepended to every key: empty, or ending with `/`.
    public var prefix: String
    public var region: String
    /// A custom endpoint (MinIO, Ceph, R2, moto...); nil for AWS S3.
    public var endpoint: Endpoint?
    public var addressing: Addressing

    public init(bucket: String, prefix: String = "", region: String, endpoint: Endpoint? = nil, addressing: Addressing? = nil) {
        self.bucket = bucket
        let trimmed = prefix.split(separator: "/").joined(separator: "/")
        self.prefix = trimmed.isEmpty ? "" : trimmed + "/"
        self.region = region
        self.endpoint = endpoint
        self.addressing = addressing ?? (endpoint == nil && !bucket.contains(".") ? .virtualHost : .path)
    }

    /// The endpoint requests go to.
    public var effectiveEndpoint: Endpoint {
        if let endpoint { return endpoint }
        switch addressing {
        case .virtualHost: return Endpoint(secure: true, host: "\(bucket).s3.\(region).amazonaws.com")
        case .path: return Endpoint(secure: true, host: "s3.\(region).amazonaws.com")
        }
    }

    /// The canonical store URL.
    public var description: String {
        var text = "s3://\(bucket)"
        if !prefix.isEmpty { text += "/" + URIEncoding.encodePath(String(prefix.dropLast())) }
        var query: [String] = []
        if let endpoint { query.append("endpoint=\(endpoint)") }
        query.append("region=\(region)")
        if addressing != (endpoint == nil && !bucket.contains(".") ? .virtualHost : .path) {
            query.append("addressing=\(addressing.rawValue)")
        }
        return text + "?" + query.joined(separator: "&")
    }

    init(parsingAfterScheme text: String, bad: (String) -> StoreError) throws(StoreError) {
        let (main, queryText): (Substring, Substring?) = {
            if let mark = text.firstIndex(of: "?") { return (text[..<mark], text[text.index(after: mark)...]) }
            return (text[...], nil)
        }()
        let bucket: String
        var prefix = ""
        if let slash = main.firstIndex(of: "/") {
            bucket = String(main[..<slash])
            guard let decoded = URIEncoding.decode(main[main.index(after: slash)...]) else {
                throw bad("the prefix has a malformed %-escape")
            }
            prefix = decoded
        } else {
            bucket = String(main)
        }
        try Self.validateBucket(bucket, bad: bad)
        if !prefix.isEmpty {
            let trimmed = prefix.split(separator: "/").joined(separator: "/")
            if !trimmed.isEmpty {
                do {
                    try ObjectKey.validate(trimmed)
                } catch {
                    throw bad("the prefix '\(prefix)' is not a valid key prefix (\(error.message))")
                }
            }
        }

        var endpoint: Endpoint?
        var region: String?
        var addressing: Addressing?
        for item in (queryText ?? "").split(separator: "&") {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let name = URIEncoding.decode(parts[0]), let value = URIEncoding.decode(parts[1]) else {
                throw bad("the query item '\(item)' is not name=value")
            }
            switch name {
            case "endpoint":
                endpoint = try Self.parseEndpoint(value, bad: bad)
            case "region":
                guard !value.isEmpty, value.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }) else {
                    throw bad("the region '\(value)' is not a region name like eu-west-1")
                }
                region = value
            case "addressing":
                guard let parsed = Addressing(rawValue: value) else { throw bad("addressing must be 'path' or 'virtual', not '\(value)'") }
                addressing = parsed
            default:
                throw bad("unknown parameter '\(name)' (known: endpoint, region, addressing)")
            }
        }
        if endpoint == nil && region == nil {
            throw bad(
                "AWS S3 needs the bucket's region, as in s3://\(bucket)?region=eu-west-1 (or give ?endpoint= for another S3-compatible store)"
            )
        }
        if addressing == .virtualHost && bucket.contains(".") {
            throw bad("virtual-host addressing does not work with a bucket name containing dots")
        }
        self.init(bucket: bucket, prefix: prefix, region: region ?? "us-east-1", endpoint: endpoint, addressing: addressing)
    }

    /// S3's bucket naming rules: 3 to 63 characters of lowercase letters, digits, `.` and `-`,
    /// starting and ending with a letter or digit.
    static func validateBucket(_ bucket: String, bad: (String) -> StoreError) throws(StoreError) {
        let bytes = Array(bucket.utf8)
        guard !bytes.isEmpty else { throw bad("the bucket name is missing") }
        guard (3...63).contains(bytes.count) else { throw bad("bucket name '\(bucket)' must be 3 to 63 characters long") }
        let isLowerOrDigit: (UInt8) -> Bool = { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) }
        guard bytes.allSatisfy({ isLowerOrDigit($0) || $0 == 45 || $0 == 46 }), isLowerOrDigit(bytes.first!), isLowerOrDigit(bytes.last!)
        else {
            throw bad(
                "bucket name '\(bucket)' may only hold lowercase letters, digits, '.' and '-', and must start and end with a letter or digit"
            )
        }
    }

    static func parseEndpoint(_ text: String, bad: (String) -> StoreError) throws(StoreError) -> Endpoint {
        let secure: Bool
        var rest: Substring
        if text.hasPrefix("http://") {
            secure = false
            rest = text.dropFirst("http://".count)
        } else if text.hasPrefix("https://") {
            secure = true
            rest = text.dropFirst("https://".count)
        } else {
            throw bad("the endpoint '\(text)' must start with http:// or https://")
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/"), !rest.contains("@"), !rest.contains("?"), !rest.contains("#") else {
            throw bad("the endpoint '\(text)' must be just scheme://host[:port], without a path or credentials")
        }
        var host = rest
        var port: Int?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw bad("the endpoint '\(text)' has an unclosed IPv6 address") }
            host = rest[...close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = Int(after.dropFirst()) else {
                    throw bad("the endpoint '\(text)' has a malformed port")
                }
                port = value
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let value = Int(rest[rest.index(after: colon)...]) else { throw bad("the endpoint '\(text)' has a malformed port") }
            port = value
        }
        guard !host.isEmpty else { throw bad("the endpoint '\(text)' has no host") }
        if let port, !(1...65535).contains(port) { throw bad("the endpoint port \(port) is out of range") }
        return Endpoint(secure: secure, host: host.lowercased(), port: port)
    }
}
