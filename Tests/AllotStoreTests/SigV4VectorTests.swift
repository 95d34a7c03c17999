import AllotCore
import Foundation
import Logging
import Testing

@testable import AllotStore

/// The signer against botocore's, over the table in `Tests/Vectors/sigv4/vectors.json` (made by
/// `generate-sigv4-vectors.py` in the same folder).
@Suite("SigV4 against botocore vectors")
struct SigV4VectorTests {
    struct Vector: Decodable, Sendable, CustomTestStringConvertible {
        struct Credentials: Decodable, Sendable {
            let accessKey: String
            let secretKey: String
            let sessionToken: String?
        }
        struct Operation: Decodable, Sendable {
            let name: String
            let endpoint: String
            let bucket: String
            let key: String?
            let prefix: String?
            let continuationToken: String?
        }
        let name: String
        let kind: String
        let region: String
        let service: String
        let credentials: Credentials
        let timestamp: String
        let method: String
        let url: String
        let path: String
        let query: [[String]]
        let headers: [[String]]
        let bodyBase64: String
        let payloadHash: String
        let canonicalRequest: String
        let stringToSign: String
        let signedHeaders: String
        let signature: String
        let authorization: String
        let operation: Operation?

        var testDescription: String { name }
    }

    struct File: Decodable {
        let botocore: String
        let vectors: [Vector]
    }

    static let vectors: [Vector] = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Vectors/sigv4/vectors.json").path
        let data = FileManager.default.contents(atPath: path) ?? Data()
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return (try? decoder.decode(File.self, from: data).vectors) ?? []
    }()

    @Test("the empty payload hash constant is SHA-256 of nothing")
    func emptyPayloadHash() {
        #expect(Hex.encode(SHA256.hash([UInt8]())) == SigV4Signer.emptyPayloadHash)
    }

    @Test("the vector file is present and covers the table")
    func coverage() {
        let vectors = Self.vectors
        #expect(vectors.count >= 15)
        #expect(vectors.contains { $0.credentials.sessionToken != nil })
        #expect(vectors.contains { !$0.bodyBase64.isEmpty })
        #expect(vectors.contains { $0.bodyBase64.isEmpty && $0.method == "PUT" })
        #expect(vectors.contains { !$0.query.isEmpty })
        #expect(vectors.contains { $0.path.contains("%") })
    }

    @Test("canonical request, string to sign and signature match botocore", arguments: vectors)
    func signature(vector: Vector) throws {
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyID: vector.credentials.accessKey, secretAccessKey: vector.credentials.secretKey,
                sessionToken: vector.credentials.sessionToken),
            region: vector.region, service: vector.service)
        let body = try #require(Base64.decode(vector.bodyBase64))
        #expect(Hex.encode(SHA256.hash(body)) == vector.payloadHash)
        let result = signer.sign(
            method: vector.method, encodedPath: vector.path, query: vector.query.map { (name: $0[0], value: $0[1]) },
            headers: vector.headers.map { (name: $0[0], value: $0[1]) }, payloadHash: vector.payloadHash, amzDate: vector.timestamp)
        #expect(result.canonicalRequest == vector.canonicalRequest)
        #expect(result.stringToSign == vector.stringToSign)
        #expect(result.signedHeaders == vector.signedHeaders)
        #expect(result.signature == vector.signature)
        #expect(result.authorization == vector.authorization)
    }

    @Test("the Host header is derived from the URL as botocore does", arguments: vectors)
    func host(vector: Vector) throws {
        let host = try #require(vector.headers.first { $0[0] == "host" }?[1])
        let url = try #require(URLComponents(string: vector.url))
        let endpoint = S3Location.Endpoint(secure: url.scheme == "https", host: url.host ?? "", port: url.port)
        #expect(endpoint.hostHeader == host)
    }

    @Test(
        "the S3 client lays out URLs like boto3 (path-style keys and list queries)",
        arguments: vectors.filter { $0.operation != nil })
    func requestLayout(vector: Vector) throws {
        let operation = try #require(vector.operation)
        let location = try StoreLocation(parsing: "s3://\(operation.bucket)?endpoint=\(operation.endpoint)&region=\(vector.region)")
        guard case .s3(let s3) = location else {
            Issue.record("not an S3 location")
            return
        }
        let store = S3Store(s3, credentials: nil, logger: Logger(label: "test"))
        var query: [(String, String)] = []
        if operation.name == "list_objects_v2" {
            query = [("list-type", "2"), ("prefix", operation.prefix ?? ""), ("encoding-type", "url")]
            if let token = operation.continuationToken { query.append(("continuation-token", token)) }
        }
        let target = store.target(key: operation.key, query: query)
        #expect(target.path == vector.path)
        #expect(target.host == vector.headers.first { $0[0] == "host" }?[1])
        // Same parameters, whatever their order in the URL.
        let ours = query.map { [$0.0, $0.1] }.sorted { $0[0] < $1[0] }
        #expect(ours == vector.query.sorted { $0[0] < $1[0] })
        // And the query as encoded in the URL is the canonical encoding botocore used.
        let ourQuery = target.url.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        let theirQuery = vector.url.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        #expect(Set(ourQuery.split(separator: "&")) == Set(theirQuery.split(separator: "&")))
    }

    @Test("a full signed request from the store matches botocore for the same operation")
    func storeSignsLikeBotocore() throws {
        let vector = try #require(Self.vectors.first { $0.name == "put-object-if-none-match" })
        let operation = try #require(vector.operation)
        let location = try StoreLocation(parsing: "s3://\(operation.bucket)?endpoint=\(operation.endpoint)&region=\(vector.region)")
        guard case .s3(let s3) = location else { return }
        let store = S3Store(
            s3, credentials: AWSCredentials(accessKeyID: vector.credentials.accessKey, secretAccessKey: vector.credentials.secretKey),
            logger: Logger(label: "test"))
        let body = try #require(Base64.decode(vector.bodyBase64))
        // 2026-11-29T12:34:56Z, the generator's frozen clock.
        let request = store.signedRequest(
            "PUT", key: operation.key, query: [], headers: [("Content-Type", "application/octet-stream"), ("If-None-Match", "*")],
            body: body,
            epochSeconds: 1_795_955_696)
        #expect(request.url == vector.url)
        #expect(request.headers.first { $0.name == "Authorization" }?.value == vector.authorization)
    }

    @Test(
        "amz dates are UTC",
        arguments: [(Int64(0), "19700101T000000Z"), (1_795_955_696, "20261129T123456Z"), (951_782_400, "20000229T000000Z")])
    func amzDate(seconds: Int64, text: String) {
        #expect(SigV4Signer.amzDate(epochSeconds: seconds) == text)
    }
}
