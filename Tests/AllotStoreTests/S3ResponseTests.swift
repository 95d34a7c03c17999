import Logging
import Testing

@testable import AllotStore

@Suite("S3 answers, errors and retries")
struct S3ResponseTests {
    @Test("XML elements and entities")
    func xml() {
        let text: Substring = """
            <?xml version="1.0"?><ListBucketResult xmlns="x"><KeyCount>2</KeyCount><Contents><Key>a%20b</Key><ETag>&quot;e1&quot;</ETag><Size>3</Size></Contents>\
            <Contents><Key>c&amp;d&#x20;&#233;</Key><ETag>"e2"</ETag><Size>0</Size></Contents><Prefix/><IsTruncated>false</IsTruncated></ListBucketResult>
            """
        let contents = S3XML.elements("Contents", in: text)
        #expect(contents.count == 2)
        #expect(S3XML.first("Key", in: contents[0]) == "a%20b")
        #expect(S3XML.first("ETag", in: contents[0]) == "\"e1\"")
        #expect(S3XML.first("Key", in: contents[1]) == "c&d é")
        #expect(S3XML.first("KeyCount", in: text) == "2")
        #expect(S3XML.first("Prefix", in: text) == "")
        #expect(S3XML.first("Missing", in: text) == nil)
        #expect(S3XML.decodeEntities("&bogus;") == nil)
    }

    static let store: S3Store = {
        guard case .s3(let s3) = try! StoreLocation(parsing: "s3://allot-eu?endpoint=http://127.0.0.1:1&region=eu-west-1") else {
            fatalError()
        }
        return S3Store(s3, credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret"), logger: Logger(label: "t"))
    }()

    static func response(_ status: Int, _ code: String?) -> TransportResponse {
        let body = code.map { "<Error><Code>\($0)</Code><Message>the store's words</Message></Error>" } ?? ""
        return TransportResponse(status: status, headers: [:], body: Array(body.utf8))
    }

    @Test(
        "answers map to clear errors",
        arguments: [
            (403, "SignatureDoesNotMatch" as String?, StoreError.Code.signatureDoesNotMatch, "AWS_SECRET_ACCESS_KEY"),
            (403, "InvalidAccessKeyId", .invalidAccessKeyID, "AWS_ACCESS_KEY_ID"),
            (403, "AccessDenied", .accessDenied, "AccessDenied"),
            (403, nil, .accessDenied, "403 Forbidden"),
            (404, "NoSuchKey", .notFound, "no such object"),
            (404, "NoSuchBucket", .notFound, "bucket 'allot-eu' does not exist"),
            (412, "PreconditionFailed", .preconditionFailed, "precondition failed"),
            (301, "PermanentRedirect", .requestRejected, "another region"),
            (500, "InternalError", .serverError, "through every attempt"),
            (400, "InvalidArgument", .requestRejected, "InvalidArgument"),
        ])
    func errors(status: Int, code: String?, expected: StoreError.Code, phrase: String) {
        let error = Self.store.failure(Self.response(status, code), method: "PUT", key: "manifest.json", attempts: 1)
        #expect(error.code == expected)
        #expect(error.httpStatus == status)
        #expect(error.description.contains(phrase))
        #expect(error.description.contains("manifest.json"))
        if let code { #expect(error.description.contains(code)) }
    }

    @Test(
        "which answers are retried",
        arguments: [
            (500, nil as String?, true), (502, nil, true), (503, "SlowDown", true), (504, nil, true), (429, nil, true),
            (400, "RequestTimeout", true), (400, "InvalidArgument", false), (403, "SignatureDoesNotMatch", false),
            (404, "NoSuchKey", false), (412, nil, false), (200, nil, false), (304, nil, false),
        ])
    func retried(status: Int, code: String?, retried: Bool) {
        #expect((S3Store.retryReason(Self.response(status, code)) != nil) == retried)
    }

    @Test("backoff doubles, is bounded and jittered within [d/2, d]")
    func backoff() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: 0.1, maxDelay: 1)
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-9 }
        #expect(close(policy.delay(afterAttempt: 1, unit: 0), 0.05))
        #expect(close(policy.delay(afterAttempt: 1, unit: 1), 0.1))
        #expect(close(policy.delay(afterAttempt: 3, unit: 1), 0.4))
        #expect(close(policy.delay(afterAttempt: 3, unit: 0.5), 0.3))
        #expect(close(policy.delay(afterAttempt: 9, unit: 1), 1))
        #expect(close(policy.delay(afterAttempt: 60, unit: 0), 0.5))
        #expect(RetryPolicy(maxAttempts: 0).maxAttempts == 1)
    }

    /// A transport that answers from a script and counts requests.
    final class ScriptedTransport: HTTPTransport, @unchecked Sendable {
        private var answers: [Result<TransportResponse, TransportError>]
        private(set) var requests: [TransportRequest] = []
        init(_ answers: [Result<TransportResponse, TransportError>]) { self.answers = answers }
        func send(_ request: TransportRequest) async throws(TransportError) -> TransportResponse {
            requests.append(request)
            let answer = answers.isEmpty ? .success(TransportResponse(status: 500, headers: [:], body: [])) : answers.removeFirst()
            return try answer.get()
        }
    }

    static func store(_ transport: ScriptedTransport, attempts: Int) -> S3Store {
        S3Store(
            Self.store.s3, credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret"),
            configuration: S3Configuration(retry: RetryPolicy(maxAttempts: attempts, baseDelay: 0.001, maxDelay: 0.002)),
            transport: transport, logger: Logger(label: "t"))
    }

    @Test("timeouts and 503s are retried, each attempt signed afresh, until success")
    func retriesUntilSuccess() async throws {
        let transport = ScriptedTransport([
            .failure(.timeout("slow")), .success(Self.response(503, "SlowDown")),
            .success(TransportResponse(status: 200, headers: ["etag": "\"e\""], body: Array("hi".utf8))),
        ])
        let object = try await Self.store(transport, attempts: 4).get("k")
        #expect(object.bytes == Array("hi".utf8))
        #expect(transport.requests.count == 3)
        #expect(transport.requests.allSatisfy { $0.headers.contains { $0.name == "Authorization" } })
    }

    @Test("attempts are bounded and the error says how many were made")
    func bounded() async {
        let transport = ScriptedTransport([])
        await #expect {
            _ = try await Self.store(transport, attempts: 3).head("k")
        } throws: { error in
            (error as? StoreError)?.code == .serverError && (error as? StoreError)?.attempts == 3 && "\(error)".contains("3 attempts")
        }
        #expect(transport.requests.count == 3)
    }

    @Test("4xx answers are not retried")
    func noRetryOn4xx() async {
        let transport = ScriptedTransport([.success(Self.response(403, "SignatureDoesNotMatch"))])
        await #expect {
            _ = try await Self.store(transport, attempts: 5).get("k")
        } throws: { error in
            (error as? StoreError)?.code == .signatureDoesNotMatch
        }
        #expect(transport.requests.count == 1)
    }

    @Test("unreachable stores are retried, then reported as unreachable")
    func unreachable() async {
        let transport = ScriptedTransport([.failure(.unreachable("refused")), .failure(.unreachable("refused"))])
        await #expect {
            _ = try await Self.store(transport, attempts: 2).get("k")
        } throws: { error in
            (error as? StoreError)?.code == .unreachable
        }
        #expect(transport.requests.count == 2)
    }
}
