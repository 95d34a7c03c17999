import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotStore

/// moto's S3 server (moto 5, `pip install 'moto[server]'`), as AllotStoreTests finds it:
/// `ALLOT_MOTO_SERVER`, else the `moto_server` beside the `python3` interpreter, else on PATH.
enum Moto {
    static let executable: String? = {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["ALLOT_MOTO_SERVER"], !path.isEmpty { return path }
        if let python = ChildProcess.which("python3"),
            let folder = try? ChildProcess.run(python, ["-c", "import sys, os; print(os.path.dirname(os.path.realpath(sys.executable)))"])
                .trimmingCharacters(in: .whitespacesAndNewlines)
        {
            let candidate = folder + "/moto_server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return ChildProcess.which("moto_server")
    }()

    static let available = executable != nil
    static let skipReason: Comment =
        "moto_server not found: install it with `pip install 'moto[server]' boto3` or set ALLOT_MOTO_SERVER to its path"

    /// Starts one moto server on a free loopback port.
    static func start() async throws -> ChildProcess {
        guard let executable else { throw ChildProcessError(skipReason.rawValue) }
        return try await ChildProcess.start(name: "moto", executable: executable, arguments: { ["-H", "127.0.0.1", "-p", "\($0)"] })
    }

    /// The URL of a bucket (with a `prod` prefix) on a moto server.
    static func url(port: Int, bucket: String = "allot-edge") -> String {
        "s3://\(bucket)/prod?endpoint=http://127.0.0.1:\(port)&region=eu-west-1"
    }

    /// An S3 store on moto with quick retries; creates the bucket.
    static func store(port: Int, bucket: String = "allot-edge") async throws -> S3Store {
        guard case .s3(let location) = try StoreLocation(parsing: url(port: port, bucket: bucket)) else { throw FixtureError(message: "not S3") }
        let store = S3Store(
            location, credentials: AWSCredentials(accessKeyID: "AKIATESTTESTTEST", secretAccessKey: "test-secret"),
            configuration: S3Configuration(retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.02, maxDelay: 0.1), requestTimeout: 10),
            transport: URLSessionTransport(timeout: 10), logger: EdgeFixtures.logger)
        try await store.createBucket()
        return store
    }
}
