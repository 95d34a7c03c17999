import AllotCore
import AllotServer
import AllotStore
import AllotTestSupport
import Foundation
import Synchronization
import Testing

/// Bundles swapped while clients hammer the server: no request fails, and every answer is the
/// library's answer for one of the published versions (never a mixture, never going backwards
/// on a connection).
@Suite("Swap under load", .serialized)
struct SwapUnderLoadTests {
    /// The fixed requests the load generator cycles through.
    static let targets: [String] = {
        var random = SeededRandom(seed: 7)
        let countries = ["US", "CA", "FR", "DE"]
        return (0..<200).map { i in
            var query = "user_id=load-\(i)"
            if Bool.random(using: &random) { query += "&country=\(countries.randomElement(using: &random)!)" }
            if Bool.random(using: &random) { query += "&device_id=dev-\(i % 37)" }
            if i % 11 == 0 { query = "user_id=qa-user" }
            return "/v1/assign?" + query
        }
    }()

    /// What the library answers for every target, per version.
    static func expectations(_ bundles: [EdgeFixtures.Compiled], now: Int64) throws -> [UInt64: [String]] {
        var result: [UInt64: [String]] = [:]
        for compiled in bundles {
            result[compiled.version] = try targets.map { target in
                var units: [String: String] = [:]
                var attributes: [String: String] = [:]
                for pair in target.dropFirst("/v1/assign?".count).split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    if parts[0].hasSuffix("_id") { units[parts[0]] = parts[1] } else { attributes[parts[0]] = parts[1] }
                }
                return try compiled.bundle.answerJSON(units: units, attributes: attributes, now: now)
            }
        }
        return result
    }

    /// What the load generator saw.
    struct Tally: Sendable {
        var requests = 0
        var failures: [String] = []
        var mismatches: [String] = []
        var backwards = 0
        var versions: [UInt64: Int] = [:]
    }

    /// `threads` clients, each on its own keep-alive connection and thread, until `stop` is set.
    static func generateLoad(port: Int, threads: Int, expected: [UInt64: [String]], stop: StopFlag) async throws -> Tally {
        try await withThrowingTaskGroup(of: Tally.self) { group in
            for worker in 0..<threads {
                group.addTask {
                    try await onThread {
                        var tally = Tally()
                        var connection = try HTTPConnection(port: port)
                        var last: UInt64 = 0
                        var index = worker * 17
                        while !stop.isSet {
                            let target = targets[index % targets.count]
                            let response: RawResponse
                            do {
                                response = try connection.get(target)
                            } catch {
                                tally.failures.append("\(target): \(error)")
                                connection = try HTTPConnection(port: port)
                                continue
                            }
                            tally.requests += 1
                            guard response.status == 200 else {
                                tally.failures.append("\(target): status \(response.status) \(response.text)")
                                continue
                            }
                            let text = response.text
                            guard let version = (response.json["version"] as? Int).map(UInt64.init), let answers = expected[version] else {
                                tally.mismatches.append("\(target): unknown version in \(text)")
                                continue
                            }
                            tally.versions[version, default: 0] += 1
                            if text != answers[index % targets.count] { tally.mismatches.append("\(target) v\(version): \(text)") }
                            if version < last { tally.backwards += 1 }
                            last = version
                            index += 1
                        }
                        return tally
                    }
                }
            }
            var total = Tally()
            for try await tally in group {
                total.requests += tally.requests
                total.failures += tally.failures
                total.mismatches += tally.mismatches
                total.backwards += tally.backwards
                total.versions.merge(tally.versions, uniquingKeysWith: +)
            }
            return total
        }
    }

    /// Publishes `bundles[1...]` every `every` while the load runs against a server polling `store`.
    func run(store: any ObjectStore, versions: ClosedRange<UInt64>, every: Duration) async throws -> (Tally, [UInt64]) {
        let bundles = try versions.map { version in
            try EdgeFixtures.compile(EdgeFixtures.project(traffic: Int(10 + (version * 37) % 90)), version: version)
        }
        try await EdgeFixtures.publish(bundles[0].envelope, to: [store])
        let harness = try EdgeHarness(stores: [store]) { $0.poller.interval = .milliseconds(40) }
        defer { Scratch.remove(harness.cacheDirectory) }
        try await harness.start(poll: true)
        try await harness.waitForVersion(versions.lowerBound)
        let expected = try Self.expectations(bundles, now: EdgeFixtures.now)
        let stop = StopFlag()
        let port = harness.port
        async let load = Self.generateLoad(port: port, threads: 3, expected: expected, stop: stop)
        var swapped: [UInt64] = []
        for compiled in bundles.dropFirst() {
            try await Task.sleep(for: every)
            try await EdgeFixtures.publish(compiled.envelope, to: [store])
            swapped.append(compiled.version)
        }
        try await harness.waitForVersion(versions.upperBound)
        try await Task.sleep(for: .milliseconds(200))
        stop.set()
        let tally = try await load
        await harness.stop()
        #expect(harness.metrics.swapCount >= 2)
        return (tally, swapped)
    }

    func check(_ tally: Tally, versions: ClosedRange<UInt64>) {
        #expect(tally.failures.isEmpty, "\(tally.failures.prefix(5))")
        #expect(tally.mismatches.isEmpty, "\(tally.mismatches.prefix(5))")
        #expect(tally.backwards == 0)
        #expect(tally.requests > 500)
        #expect(tally.versions[versions.upperBound, default: 0] > 0)
        #expect(tally.versions.count >= 3, "versions seen: \(tally.versions)")
        #expect(Set(tally.versions.keys).isSubset(of: Set(versions)))
    }

    @Test("local store: 12 versions published 250 ms apart under load")
    func localStore() async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let (tally, _) = try await run(store: LocalStore(root: root), versions: 1...12, every: .milliseconds(250))
        check(tally, versions: 1...12)
        print("swap under load (local): \(tally.requests) requests, versions \(tally.versions.sorted { $0.key < $1.key })")
    }

    @Test("S3 (moto): 8 versions published 300 ms apart under load", .enabled(if: Moto.available, Moto.skipReason))
    func s3() async throws {
        let moto = try await Moto.start()
        defer { moto.kill() }
        let store = try await Moto.store(port: moto.port)
        let (tally, _) = try await run(store: store, versions: 1...8, every: .milliseconds(300))
        check(tally, versions: 1...8)
        print("swap under load (moto S3): \(tally.requests) requests, versions \(tally.versions.sorted { $0.key < $1.key })")
    }
}

/// A flag one task sets and client threads read.
final class StopFlag: Sendable {
    private let flag = Atomic(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}
