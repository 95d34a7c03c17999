import AllotCore
import AllotTestSupport
import Foundation

@testable import AllotStore

/// The edge tests' view of a moto server: a bucket URL and a ready S3 store on it.
extension Moto {
    /// The URL of a bucket (with a `prod` prefix) on a moto server.
    static func url(port: Int, bucket: String = "allot-edge") -> String {
        "s3://\(bucket)/prod?endpoint=http://127.0.0.1:\(port)&region=eu-west-1"
    }

    /// An S3 store on moto with quick retries; creates the bucket unless told not to.
    static func store(port: Int, bucket: String = "allot-edge", create: Bool = true) async throws -> S3Store {
        guard case .s3(let location) = try StoreLocation(parsing: url(port: port, bucket: bucket)) else {
            throw FixtureError(message: "not S3")
        }
        let store = S3Store(
            location, credentials: AWSCredentials(accessKeyID: "AKIATESTTESTTEST", secretAccessKey: "test-secret"),
            configuration: S3Configuration(retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.02, maxDelay: 0.1), requestTimeout: 30),
            transport: CurlTransport(), logger: EdgeFixtures.logger)
        if create { try await store.createBucket() }
        return store
    }
}
