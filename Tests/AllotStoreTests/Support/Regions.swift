import AllotCore
import AllotTestSupport
import Foundation

@testable import AllotStore

/// Simulated regions: one moto server each, a bucket per region, stores under a `prod/` prefix.
final class Regions: @unchecked Sendable {
    static let names = ["eu-west-1", "us-east-1", "ap-southeast-2"]
    static let credentials = AWSCredentials(accessKeyID: "AKIATESTTESTTEST", secretAccessKey: "test-secret")
    /// Quick retries so failure tests stay fast; a long request timeout, because moto under a full
    /// suite's load can be slow to answer (tests of timeouts configure their own).
    static let configuration = S3Configuration(retry: RetryPolicy(maxAttempts: 3, baseDelay: 0.02, maxDelay: 0.1), requestTimeout: 30)

    let servers: [ChildProcess]
    let transport = CurlTransport()

    private init(servers: [ChildProcess]) { self.servers = servers }

    /// Starts `count` moto servers concurrently and creates each region's bucket.
    static func start(_ count: Int = 3) async throws -> Regions {
        let servers = try await withThrowingTaskGroup(of: (Int, ChildProcess).self) { group in
            for index in 0..<count { group.addTask { (index, try await Moto.start()) } }
            var servers = [ChildProcess?](repeating: nil, count: count)
            for try await (index, server) in group { servers[index] = server }
            return servers.map { $0! }
        }
        let regions = Regions(servers: servers)
        for index in 0..<count { try await regions.bucketStore(index).createBucket() }
        return regions
    }

    func stop() { servers.forEach { $0.kill() } }

    deinit { stop() }

    static func bucket(_ index: Int) -> String { "allot-\(names[index % names.count])" }
    static func region(_ index: Int) -> String { names[index % names.count] }

    /// The store URL of region `index` (optionally through another port, such as a fault proxy).
    func url(_ index: Int, port: Int? = nil, prefix: String = "prod") -> String {
        "s3://\(Self.bucket(index))/\(prefix)?endpoint=http://127.0.0.1:\(port ?? servers[index].port)&region=\(Self.region(index))"
    }

    func store(_ index: Int, port: Int? = nil) throws -> S3Store {
        try Self.s3Store(url(index, port: port), transport: transport)
    }

    /// The bucket without prefix, to look at everything in it.
    func bucketStore(_ index: Int) throws -> S3Store {
        try Self.s3Store(
            "s3://\(Self.bucket(index))?endpoint=http://127.0.0.1:\(servers[index].port)&region=\(Self.region(index))", transport: transport
        )
    }

    var stores: [S3Store] { get throws { try servers.indices.map { try store($0) } } }

    static func s3Store(_ url: String, credentials: AWSCredentials? = credentials, transport: (any HTTPTransport)? = nil) throws -> S3Store
    {
        guard case .s3(let location) = try StoreLocation(parsing: url) else { throw ChildProcessError("not an S3 URL: \(url)") }
        return S3Store(location, credentials: credentials, configuration: configuration, transport: transport, logger: Fixtures.logger)
    }
}
