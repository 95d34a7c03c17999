import AllotCore
import AllotExposures
import AllotStore
import AllotTestSupport
import Foundation
import Testing

/// The exposure log of a live server: real sockets, real stores (a folder and moto S3), every API,
/// shipping, retries, outages and limits, read back with zstandard, jsonschema and DuckDB.
@Suite("Exposure log of a live server", .serialized, .enabled(if: ExposureReader.available, ExposureReader.skipReason))
struct ExposureServerTests {
    /// Sends the requests of every API and returns the records the answers promise.
    func exerciseEveryAPI(port: Int, defaults: Bool = false) async throws -> (expected: [String], refused: Int) {
        try await onThread {
            let connection = try HTTPConnection(port: port)
            var expected: [String] = []
            // Native GET and POST.
            for (index, country) in ["US", "CA", "FR"].enumerated() {
                let units = ["user_id": "user-\(index)", "device_id": "device-\(index)"]
                let answer = try connection.get("/v1/assign?user_id=user-\(index)&device_id=device-\(index)&country=\(country)")
                #expect(answer.status == 200)
                expected += ExpectedExposures.from(answer: answer.json, units: units, api: "native", defaults: defaults)
            }
            let posted = try connection.post("/v1/assign", #"{"units":{"user_id":"qa-user"},"attributes":{"country":"US"}}"#)
            #expect(posted.status == 200)
            expected += ExpectedExposures.from(answer: posted.json, units: ["user_id": "qa-user"], api: "native", defaults: defaults)
            // A batch: each request is its own exposure; the one that cannot be evaluated records nothing.
            let batch = try connection.post(
                "/v1/assign/batch",
                #"{"requests":[{"units":{"user_id":"b-1"},"attributes":{"country":"US"}},{"units":{"user_id":""}},{"units":{"device_id":"b-d"}}]}"#
            )
            #expect(batch.status == 200)
            let answers = batch.json["answers"] as? [[String: Any]] ?? []
            #expect(answers.count == 3)
            expected += ExpectedExposures.from(answer: answers[0], units: ["user_id": "b-1"], api: "batch", defaults: defaults)
            expected += ExpectedExposures.from(answer: answers[2], units: ["device_id": "b-d"], api: "batch", defaults: defaults)
            // OFREP single flags: the deciding experiment, with the flag.
            for (flag, key) in [("button_color", "qa-user"), ("express_pay", "qa-control"), ("banner", "anyone"), ("tutorial", "t")] {
                let body = #"{"context":{"targetingKey":"\#(key)","device_id":"dev-\#(key)","country":"US"}}"#
                let answer = try connection.post("/ofrep/v1/evaluate/flags/\(flag)", body)
                #expect(answer.status == 200)
                let metadata = answer.json["metadata"] as? [String: Any] ?? [:]
                let reason = metadata["allotReason"] as? String
                if let experiment = metadata["experiment"] as? String, let reason,
                    reason == "split" || reason == "override" || defaults
                {
                    let unit = flag == "tutorial" ? "dev-\(key)" : key
                    let variant = reason == "split" || reason == "override" ? answer.json["variant"] as? String ?? "?" : "null"
                    expected.append("\(unit)|\(experiment)|\(variant)|ofrep")
                }
            }
            // OFREP bulk: every enrolling experiment, marked as bulk.
            let bulk = try connection.post(
                "/ofrep/v1/evaluate/flags", #"{"context":{"targetingKey":"bulk-user","device_id":"bulk-device","country":"US"}}"#)
            #expect(bulk.status == 200)
            // The native answer for the same context says which experiments enroll the unit.
            let same = try connection.get("/v1/assign?user_id=bulk-user&device_id=bulk-device&country=US")
            expected += ExpectedExposures.from(
                answer: same.json, units: ["user_id": "bulk-user", "device_id": "bulk-device"], api: "native", defaults: defaults)
            expected += ExpectedExposures.from(
                answer: same.json, units: ["user_id": "bulk-user", "device_id": "bulk-device"], api: "ofrep_bulk", defaults: defaults)

            // HEAD sends no answer: nothing is recorded.
            #expect(try connection.request("HEAD", "/v1/assign?user_id=head-user&country=US").status == 200)
            // Refused requests record nothing.
            var refused = 0
            for (status, response) in [
                (400, try connection.get("/v1/assign?user_id=&country=US")),
                (400, try connection.get("/v1/assign?user_id=a&user_id=b")),
                (400, try connection.post("/v1/assign", #"{"units":{"user_id":7},"attributes":{"cart_value":"lots"}}"#)),
                (404, try connection.post("/ofrep/v1/evaluate/flags/nope", #"{"context":{"targetingKey":"x"}}"#)),
                (400, try connection.post("/ofrep/v1/evaluate/flags/tutorial", #"{"context":{"targetingKey":"x"}}"#)),
                (
                    400,
                    try connection.post(
                        "/v1/assign/batch", #"{"requests":[{"units":{"user_id":"r-1"}},{"units":{"user_id":"r-2"}}],"requests":[]}"#)
                ),
            ] {
                #expect(response.status == status, "\(response.text)")
                refused += 1
            }
            return (expected, refused)
        }
    }

    @Test("every API is recorded as it answered, refused requests are not; shipped to a folder store and valid against the schema")
    func everyAPI() async throws {
        let storeRoot = Scratch.folder("exposure-store")
        defer { Scratch.remove(storeRoot) }
        let server = try await ExposureServer(exposureStore: LocalStore(root: storeRoot))
        defer { server.remove() }
        try await server.start()
        let started = Int64(Date().timeIntervalSince1970 * 1000)
        let (expected, _) = try await exerciseEveryAPI(port: server.port)
        // A batch found too large half-way is refused whole: none of its requests is recorded.
        let tooLarge = try await onThread {
            try HTTPConnection.post(
                port: server.port, "/v1/assign/batch",
                "{\"requests\":[" + (0..<1001).map { #"{"units":{"user_id":"big-\#($0)"}}"# }.joined(separator: ",") + "]}")
        }
        #expect(tooLarge.status == 400)
        try await server.stop()
        let finished = Int64(Date().timeIntervalSince1970 * 1000)

        let report = try await ExposureReader.read(storeRoot)
        #expect(report.errors.isEmpty, "\(report.errors)")
        #expect(report.decisions == expected.sorted())
        #expect(report.duckDBCount == expected.count)
        #expect(report.duckDBByAPI["batch"] == expected.filter { $0.hasSuffix("|batch") }.count)
        #expect(report.duckDBByAPI["ofrep_bulk"] == expected.filter { $0.hasSuffix("|ofrep_bulk") }.count)
        #expect(!report.records(api: "ofrep").isEmpty)
        for record in report.records {
            #expect(record["v"] as? Int == 1)
            #expect(record["bundle"] as? Int == 1)
            #expect(record["region"] as? String == "eu-west")
            #expect(record["server"] as? String == "edge-eu-1")
            let ts = record["ts"] as? Int64 ?? 0
            #expect(ts >= started - 1000 && ts <= finished)
            let layer = record["layer"] as? String ?? ""
            #expect(record["unit_type"] as? String == ExpectedExposures.layerUnit[layer])
            #expect((record["flag"] != nil) == (record["api"] as? String == "ofrep"))
            #expect(["split", "override"].contains(record["reason"] as? String ?? ""))
            #expect(((record["_key"] as? String) ?? "").contains("/region=eu-west/edge-eu-1-"))
        }
        let flags = report.records(api: "ofrep").map { "\($0["flag"] ?? "")|\($0["experiment"] ?? "")" }.sorted()
        #expect(flags == ["button_color|checkout-redesign", "express_pay|checkout-redesign", "tutorial|tutorial"])
        // Shipped segments leave nothing behind, not even their folders.
        #expect(try FileManager.default.contentsOfDirectory(atPath: server.spool + "/exposures").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: server.spool + "/open").isEmpty)
    }

    @Test("with --exposure-log-defaults, decisions that gave the defaults are recorded with variant null")
    func logDefaults() async throws {
        let storeRoot = Scratch.folder("exposure-store")
        defer { Scratch.remove(storeRoot) }
        let server = try await ExposureServer(exposureStore: LocalStore(root: storeRoot)) { $0.logDefaults = true }
        defer { server.remove() }
        try await server.start()
        let (expected, _) = try await exerciseEveryAPI(port: server.port, defaults: true)
        try await server.stop()
        let report = try await ExposureReader.read(storeRoot)
        #expect(report.errors.isEmpty, "\(report.errors)")
        #expect(report.decisions == expected.sorted())
        let defaults = report.records.filter { $0["variant"] is NSNull }
        #expect(Set(defaults.compactMap { $0["reason"] as? String }) == ["targeting_miss", "paused"])
        #expect(defaults.contains { $0["api"] as? String == "ofrep" && $0["flag"] as? String == "banner" })
    }

    @Test(
        "moto S3: every request's events shipped once, read by DuckDB; sample-ratio counters and shares on /metrics",
        .enabled(if: Moto.available, Moto.skipReason))
    func motoAndSampleRatio() async throws {
        let moto = try await Moto.start()
        defer { moto.kill() }
        let store = try await Moto.store(port: moto.port, bucket: "allot-exposures")
        let server = try await ExposureServer(exposureStore: store)
        defer { server.remove() }
        try await server.start()
        let port = server.port
        let expected = try await onThread { () -> [String] in
            let connection = try HTTPConnection(port: port)
            var expected: [String] = []
            for i in 0..<400 {
                let units = ["user_id": "srm-\(i)", "device_id": "srm-d-\(i)"]
                let answer = try connection.get("/v1/assign?user_id=srm-\(i)&device_id=srm-d-\(i)&country=US")
                expected += ExpectedExposures.from(answer: answer.json, units: units, api: "native")
            }
            return expected
        }
        try await server.wait("the writer to count every split") {
            server.metric(#"allot_assignments_total{experiment="checkout-redesign",variant="control"}"#)
                + server.metric(#"allot_assignments_total{experiment="checkout-redesign",variant="redesign"}"#) >= 400
        }
        let control = server.metric(#"allot_assignments_total{experiment="checkout-redesign",variant="control"}"#)
        let redesign = server.metric(#"allot_assignments_total{experiment="checkout-redesign",variant="redesign"}"#)
        #expect(control + redesign == 400)
        #expect(control == Double(expected.filter { $0.contains("|checkout-redesign|control|") }.count))
        #expect(server.metric(#"allot_assignment_expected_share{experiment="checkout-redesign",variant="redesign"}"#) == 0.5)
        #expect(server.metric(#"allot_assignment_expected_share{experiment="tutorial",variant="shown"}"#) == 1)
        // The paused experiment has series (its split would be 50/50) but no splits.
        #expect(server.metric(#"allot_assignments_total{experiment="banner-test",variant="big"}"#) == 0)
        try await server.stop()

        let copy = try await ExposureReader.download(store)
        defer { Scratch.remove(copy) }
        let report = try await ExposureReader.read(copy)
        #expect(report.errors.isEmpty, "\(report.errors)")
        #expect(report.decisions == expected.sorted())
        #expect(report.duckDBCount == expected.count)
        #expect(report.partitions.count >= 1)
        #expect(server.metric("allot_exposure_segments_shipped_total") == Double(report.segments.count))
    }

    /// Rounds of requests for distinct users (three, or more until three segments have closed), a
    /// pause (longer than the segment age) after each, then waits until every closed segment has
    /// shipped. Returns the records the answers promise.
    func sendInRounds(_ server: ExposureServer, prefix: String, perRound: Int, pause: Duration) async throws -> [String] {
        let port = server.port
        var expected: [String] = []
        // At least three rounds, and more until three segments have closed: a writer held off the
        // CPU for longer than a pause drains two rounds into one segment, and then no fourth
        // would ever close.
        var round = 0
        while round < 3 || server.metric("allot_exposure_segments_closed_total") < 3 {
            guard round < 40 else { throw FixtureError(message: "fewer than three segments closed after \(round) rounds") }
            let user = "\(prefix)\(round)-"
            expected += try await onThread {
                let connection = try HTTPConnection(port: port)
                return try (0..<perRound).flatMap { i in
                    let answer = try connection.get("/v1/assign?user_id=\(user)\(i)&country=US")
                    return ExpectedExposures.from(answer: answer.json, units: ["user_id": "\(user)\(i)"], api: "native")
                }
            }
            try await Task.sleep(for: pause)
            round += 1
        }
        func counts() -> String {
            ["allot_exposure_segments_closed_total", "allot_exposure_segments_shipped_total", "allot_exposure_unshipped_segments"]
                .map { "\($0) \(server.metric($0))" }.joined(separator: ", ")
        }
        do {
            try await server.wait("every segment to ship") {
                server.metric("allot_exposure_unshipped_segments") == 0 && server.metric("allot_exposure_segments_closed_total") >= 3
                    && server.metric("allot_exposure_segments_shipped_total") == server.metric("allot_exposure_segments_closed_total")
            }
        } catch {
            throw FixtureError(message: "\(error) (after \(round) rounds: \(counts()))")
        }
        return expected
    }

    @Test(
        "lost acknowledgements: a put the store did but whose answer was lost is retried under the same key, never duplicated",
        .enabled(if: Moto.available, Moto.skipReason))
    func idempotentRetries() async throws {
        let moto = try await Moto.start()
        defer { moto.kill() }
        let direct = try await Moto.store(port: moto.port, bucket: "allot-retries")
        // Three answers lost per object: the store's own retry (2 attempts) fails, the uploader retries.
        let proxy = try await ChildProcess.start(
            name: "ack-dropping-proxy", executable: Moto.python,
            arguments: { [Repository.clients + "/ack_dropping_proxy.py", "\($0)", "\(moto.port)", "3"] })
        defer { proxy.kill() }
        let flaky = try await Moto.store(port: proxy.port, bucket: "allot-retries", create: false)
        let server = try await ExposureServer(exposureStore: flaky) { $0.segmentMaxAge = .milliseconds(200) }
        defer { server.remove() }
        try await server.start()
        let expected = try await sendInRounds(server, prefix: "r", perRound: 50, pause: .milliseconds(300))
        #expect(server.uploadFailures > 0)
        try await server.stop()
        #expect(proxy.log.contains("dropped the answer to PUT"))
        let objects = try await direct.list(prefix: "exposures/")
        #expect(Double(objects.count) == server.metric("allot_exposure_segments_closed_total"))
        let copy = try await ExposureReader.download(direct)
        defer { Scratch.remove(copy) }
        let report = try await ExposureReader.read(copy)
        #expect(report.errors.isEmpty, "\(report.errors)")
        #expect(report.decisions == expected.sorted())
        #expect(report.duckDBCount == expected.count)
    }

    @Test(
        "a store that acknowledges puts it drops or cuts short: every segment stays until a HEAD shows it held, nothing is lost",
        arguments: [LyingStore.Lie.drop, .truncate])
    func lyingStore(_ lie: LyingStore.Lie) async throws {
        let storeRoot = Scratch.folder("exposure-store")
        defer { Scratch.remove(storeRoot) }
        let liar = LyingStore(LocalStore(root: storeRoot), lie: lie, lies: 3)
        let server = try await ExposureServer(exposureStore: liar) { $0.segmentMaxAge = .milliseconds(200) }
        defer { server.remove() }
        try await server.start()
        let expected = try await sendInRounds(server, prefix: "l", perRound: 40, pause: .milliseconds(250))
        try await server.stop()
        #expect(liar.liesTold == 3)
        #expect(server.metric(#"allot_exposure_upload_failures_total{reason="unconfirmed"}"#) >= 3)
        let report = try await ExposureReader.read(storeRoot)
        #expect(report.errors.isEmpty, "\(report.errors)")
        #expect(report.decisions == expected.sorted())
    }

    @Test(
        "a store outage: segments wait in the spool, failures are counted, shipping resumes by itself when the store is back",
        .enabled(if: Moto.available, Moto.skipReason))
    func outageAndRecovery() async throws {
        var moto = try await Moto.start()
        let motoPort = moto.port
        let store = try await Moto.store(port: motoPort, bucket: "allot-outage")
        let server = try await ExposureServer(exposureStore: store) { $0.segmentMaxAge = .milliseconds(200) }
        defer { server.remove() }
        try await server.start()
        let port = server.port
        func send(_ prefix: String) async throws -> [String] {
            try await onThread {
                let connection = try HTTPConnection(port: port)
                return try (0..<100).flatMap { i in
                    let answer = try connection.get("/v1/assign?user_id=\(prefix)-\(i)&device_id=\(prefix)-d\(i)&country=CA")
                    #expect(answer.status == 200)
                    return ExpectedExposures.from(
                        answer: answer.json, units: ["user_id": "\(prefix)-\(i)", "device_id": "\(prefix)-d\(i)"], api: "native")
                }
            }
        }
        var expected = try await send("before")
        try await server.wait("the first segment to ship") { server.metric("allot_exposure_segments_shipped_total") >= 1 }
        moto.kill()
        expected += try await send("during")
        try await server.wait("failed uploads") {
            server.metric(#"allot_exposure_upload_failures_total{reason="unreachable"}"#) > 0
                && server.metric("allot_exposure_unshipped_segments") >= 1
        }
        #expect(server.metric("allot_exposure_spool_bytes") > 0)
        try await Task.sleep(for: .milliseconds(300))
        #expect(server.metric("allot_exposure_oldest_unshipped_segment_age_seconds") > 0.2)
        moto = try await Moto.start(port: motoPort)
        defer { moto.kill() }
        // moto keeps nothing across restarts: the bucket comes back empty, as after a store's data loss.
        _ = try await Moto.store(port: motoPort, bucket: "allot-outage")
        expected += try await send("after")
        try await server.wait("the spool to drain", timeout: .seconds(60)) {
            server.metric("allot_exposure_unshipped_segments") == 0
                && server.metric("allot_exposure_oldest_unshipped_segment_age_seconds") == 0
                && server.metric("allot_exposure_segments_shipped_total") == server.metric("allot_exposure_segments_closed_total")
        }
        try await server.stop()
        let copy = try await ExposureReader.download(store)
        defer { Scratch.remove(copy) }
        let report = try await ExposureReader.read(copy)
        #expect(report.errors.isEmpty, "\(report.errors)")
        // What shipped before the outage went with moto's memory; everything from the outage on is there, once.
        let survivors = expected.filter { !$0.hasPrefix("before-") }.sorted()
        #expect(report.decisions.filter { !$0.hasPrefix("before-") } == survivors)
        #expect(Set(report.decisions).count == report.decisions.count)
    }

    @Test("a full spool with the store down: every request is still answered; the events beyond the limit are dropped and counted")
    func spoolFullServingUnaffected() async throws {
        // A store folder below a regular file: every put fails (even for root).
        let blocker = Scratch.folder("blocker")
        defer { Scratch.remove(blocker) }
        _ = FileManager.default.createFile(atPath: blocker + "/file", contents: Data("x".utf8))
        let server = try await ExposureServer(exposureStore: LocalStore(root: blocker + "/file/store")) {
            $0.segmentMaxBytes = 64 << 10
            $0.spoolLimitBytes = 128 << 10
            $0.segmentMaxAge = .milliseconds(100)
            $0.shipGrace = .milliseconds(200)
        }
        defer { server.remove() }
        try await server.start()
        let port = server.port
        let (answered, events) = try await onThread { () -> (Int, Int) in
            let connection = try HTTPConnection(port: port)
            var answered = 0
            var events = 0
            for i in 0..<3000 {
                let id = "full-\(i)-\(UUID().uuidString)\(UUID().uuidString)"
                let answer = try connection.get("/v1/assign?user_id=\(id)&device_id=\(id)&country=US")
                if answer.status == 200 { answered += 1 }
                events += ExpectedExposures.from(answer: answer.json, units: ["user_id": id, "device_id": id], api: "native").count
            }
            return (answered, events)
        }
        #expect(answered == 3000)
        try await server.wait("the writer to take every event") {
            server.metric("allot_exposure_events_total") + server.metric(#"allot_exposure_events_dropped_total{reason="spool_full"}"#)
                + server.metric(#"allot_exposure_events_dropped_total{reason="buffer_full"}"#) == Double(events)
        }
        #expect(
            server.metric(#"allot_exposure_events_dropped_total{reason="spool_full"}"#) > 0,
            "\(server.metric("allot_exposure_events_total")) \(server.metric("allot_exposure_spool_bytes")) \(server.uploadFailures) \(server.metric("allot_exposure_segments_closed_total")) \(server.metric("allot_exposure_files_rejected_total"))"
        )
        #expect(server.metric("allot_exposure_spool_bytes") <= Double(128 << 10))
        #expect(server.uploadFailures > 0)
        try await server.stop()
    }
}

/// A store that answers the first `lies` puts with success and an entity tag while keeping nothing
/// (`drop`) or only half the bytes (`truncate`); honest afterwards.
final class LyingStore: ObjectStore, @unchecked Sendable {
    enum Lie: Sendable, CustomStringConvertible {
        case drop, truncate
        var description: String { self == .drop ? "drop" : "truncate" }
    }
    let inner: LocalStore
    let lie: Lie
    private let lock = NSLock()
    private var left: Int
    private(set) var liesTold = 0

    init(_ inner: LocalStore, lie: Lie, lies: Int) {
        self.inner = inner
        self.lie = lie
        self.left = lies
    }

    var location: StoreLocation { inner.location }

    func get(_ key: String, ifNoneMatch: ETag?) async throws(StoreError) -> ReadResult {
        try await inner.get(key, ifNoneMatch: ifNoneMatch)
    }

    func get(_ key: String, ifNoneMatch: ETag?, maxBytes: Int) async throws(StoreError) -> ReadResult {
        try await inner.get(key, ifNoneMatch: ifNoneMatch, maxBytes: maxBytes)
    }

    func put(_ key: String, bytes: [UInt8], condition: WriteCondition) async throws(StoreError) -> ETag {
        let lying = lock.withLock { () -> Bool in
            guard left > 0 else { return false }
            left -= 1
            liesTold += 1
            return true
        }
        guard lying else { return try await inner.put(key, bytes: bytes, condition: condition) }
        switch lie {
        case .drop: return ETag("\"0123456789abcdef0123456789abcdef\"")
        case .truncate:
            _ = try await inner.put(key, bytes: Array(bytes.prefix(bytes.count / 2)), condition: condition)
            return ETag("\"0123456789abcdef0123456789abcdef\"")
        }
    }

    func head(_ key: String) async throws(StoreError) -> ObjectInfo? { try await inner.head(key) }

    func list(prefix: String) async throws(StoreError) -> [ObjectInfo] { try await inner.list(prefix: prefix) }
}

/// A store that refuses puts of some keys (all of them when `keys` is nil) with `code`, as an S3
/// bucket policy or a gateway refusing one object would; the rest goes to `inner`.
final class RefusingStore: ObjectStore, @unchecked Sendable {
    let inner: LocalStore
    let keys: Set<String>?
    let code: StoreError.Code
    private let lock = NSLock()
    private var refusedCount = 0

    init(_ inner: LocalStore, refusing keys: Set<String>?, with code: StoreError.Code) {
        self.inner = inner
        self.keys = keys
        self.code = code
    }

    var refused: Int { lock.withLock { refusedCount } }
    var location: StoreLocation { inner.location }

    func get(_ key: String, ifNoneMatch: ETag?) async throws(StoreError) -> ReadResult {
        try await inner.get(key, ifNoneMatch: ifNoneMatch)
    }

    func get(_ key: String, ifNoneMatch: ETag?, maxBytes: Int) async throws(StoreError) -> ReadResult {
        try await inner.get(key, ifNoneMatch: ifNoneMatch, maxBytes: maxBytes)
    }

    func put(_ key: String, bytes: [UInt8], condition: WriteCondition) async throws(StoreError) -> ETag {
        if keys?.contains(key) ?? true {
            lock.withLock { refusedCount += 1 }
            throw StoreError(code, "refused by the test store", store: location, key: key)
        }
        return try await inner.put(key, bytes: bytes, condition: condition)
    }

    func head(_ key: String) async throws(StoreError) -> ObjectInfo? { try await inner.head(key) }

    func list(prefix: String) async throws(StoreError) -> [ObjectInfo] { try await inner.list(prefix: prefix) }
}
