internal import AllotCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`), written from the published specification and
/// checked against botocore's signer (`Tests/Vectors/sigv4`).
///
/// The steps: a canonical request (method, encoded path, sorted encoded query, sorted lowercase
/// headers with trimmed values, the signed header names, the payload's SHA-256), a string to sign
/// (algorithm, timestamp, credential scope, SHA-256 of the canonical request), a signing key
/// derived by HMAC-SHA-256 chaining `AWS4<secret>` → date → region → service → `aws4_request`,
/// and the hex HMAC of the string to sign under that key.
///
/// For S3 the path is used exactly as it is sent (encoded once, never normalised or encoded
/// twice), which differs from the other AWS services.
struct SigV4Signer: Sendable {
    static let algorithm = "AWS4-HMAC-SHA256"
    /// SHA-256 of no bytes, the payload hash of a request without a body.
    static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    let credentials: AWSCredentials
    let region: String
    let service: String

    init(credentials: AWSCredentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Everything a signature is made of, kept for tests and debug logs.
    struct Signature: Sendable, Equatable {
        var canonicalRequest: String
        var stringToSign: String
        var signedHeaders: String
        var signature: String
        var authorization: String
    }

    /// Signs a request.
    /// - Parameters:
    ///   - method: the HTTP method, e.g. `PUT`.
    ///   - encodedPath: the path exactly as it appears in the request line, e.g. `/bucket/a%20b`.
    ///   - query: decoded query parameters (names and values); order does not matter.
    ///   - headers: the headers to sign, including `host` and `x-amz-date`; names in any case.
    ///   - payloadHash: the lowercase hex SHA-256 of the body (the `x-amz-content-sha256` value).
    ///   - amzDate: the request time as `YYYYMMDDTHHMMSSZ`, the same as the `x-amz-date` header.
    func sign(
        method: String, encodedPath: String, query: [(name: String, value: String)], headers: [(name: String, value: String)],
        payloadHash: String, amzDate: String
    ) -> Signature {
        let canonicalQuery =
            query
            .map { (URIEncoding.encodeComponent($0.name), URIEncoding.encodeComponent($0.value)) }
            .sorted {
                $0.0 == $1.0
                    ? Array($0.1.utf8).lexicographicallyPrecedes(Array($1.1.utf8))
                    : Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8))
            }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")

        // Lowercase names; repeated headers are joined with commas in the order given.
        var grouped: [String: [String]] = [:]
        for header in headers {
            grouped[Self.lowercased(header.name), default: []].append(Self.trimAll(header.value))
        }
        let names = grouped.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let canonicalHeaders = names.map { "\($0):\(grouped[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")

        let canonicalRequest = [
            method.uppercased(),
            encodedPath.isEmpty ? "/" : encodedPath,
            canonicalQuery,
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")

        let date = String(amzDate.prefix(8))
        let scope = "\(date)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            Self.algorithm,
            amzDate,
            scope,
            Hex.encode(SHA256.hash(canonicalRequest)),
        ].joined(separator: "\n")

        let signature = Hex.encode(SHA256.hmac(key: signingKey(date: date), message: stringToSign))
        let authorization =
            "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return Signature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signedHeaders: signedHeaders,
            signature: signature, authorization: authorization)
    }

    /// The derived key for one day, region and service.
    func signingKey(date: String) -> [UInt8] {
        let dateKey = SHA256.hmac(key: Array("AWS4\(credentials.secretAccessKey)".utf8), message: date)
        let regionKey = SHA256.hmac(key: dateKey, message: region)
        let serviceKey = SHA256.hmac(key: regionKey, message: service)
        return SHA256.hmac(key: serviceKey, message: "aws4_request")
    }

    /// ASCII lowercase (header names are ASCII).
    static func lowercased(_ text: String) -> String {
        String(decoding: text.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// Trims leading and trailing whitespace and collapses inner runs of whitespace to one space.
    static func trimAll(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).joined(separator: " ")
    }

    /// `YYYYMMDDTHHMMSSZ` for a time in seconds since 1970, in UTC.
    static func amzDate(epochSeconds: Int64) -> String {
        var time = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.tm_year + 1900, 4) + pad(parts.tm_mon + 1, 2) + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + pad(parts.tm_min, 2) + pad(parts.tm_sec, 2) + "Z"
    }
}
