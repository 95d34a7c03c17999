import AllotCore
import AllotServer
import AllotStore
import AllotTestSupport
import Foundation
import Testing

/// Every route of `allot serve` and every error path, on a real socket.
@Suite("Edge server routes", .serialized)
struct EdgeRoutesTests {
    /// Runs `body` against a server serving the fixture project (version 1) from a local store.
    func withServer(
        configure: @escaping (inout EdgeConfiguration) -> Void = { _ in },
        _ body: (EdgeHarness, EdgeFixtures.Compiled) async throws -> Void
    ) async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let compiled = try EdgeFixtures.compile()
        try await EdgeFixtures.publish(compiled.envelope, to: [LocalStore(root: root)])
        let harness = try EdgeHarness(stores: [LocalStore(root: root)], configure: configure)
        defer { Scratch.remove(harness.cacheDirectory) }
        try await harness.start(poll: false)
        await harness.poller.pollOnce()
        do {
            try await body(harness, compiled)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    @Test("/readyz and the assignment routes answer 503 until a verified bundle is mapped, then 200")
    func readiness() async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let harness = try EdgeHarness(stores: [LocalStore(root: root)])
        defer { Scratch.remove(harness.cacheDirectory) }
        try await harness.start(poll: false)
        let port = harness.port
        let before = try await onThread { () -> [RawResponse] in
            let connection = try HTTPConnection(port: port)
            return [
                try connection.get("/readyz"), try connection.get("/healthz"), try connection.get("/v1/assign?user_id=u1"),
                try connection.post("/ofrep/v1/evaluate/flags/button_color", #"{"context":{"targetingKey":"u1"}}"#),
                try connection.get("/v1/bundle"),
            ]
        }
        #expect(before[0].status == 503)
        #expect(before[0].json["status"] as? String == "not_ready")
        #expect(before[0].header("Retry-After") == "1")
        #expect(before[1].status == 200)
        #expect(before[2].status == 503)
        #expect(before[2].errorCode == "not_ready")
        #expect(before[3].status == 503)
        #expect(before[3].json["errorCode"] as? String == "GENERAL")
        #expect(before[4].status == 503)

        let compiled = try EdgeFixtures.compile(version: 7)
        try await EdgeFixtures.publish(compiled.envelope, to: [LocalStore(root: root)])
        await harness.poller.pollOnce()
        let after = try await onThread { try HTTPConnection.get(port: port, "/readyz") }
        #expect(after.status == 200)
        #expect(after.json["status"] as? String == "ready")
        #expect(after.json["version"] as? Int == 7)
        await harness.stop()
    }

    @Test("GET, HEAD and POST /v1/assign answer what `allot assign --json` prints")
    func assign() async throws {
        try await withServer { harness, compiled in
            let port = harness.port
            let now = EdgeFixtures.now
            let responses = try await onThread { () -> [RawResponse] in
                let connection = try HTTPConnection(port: port)
                return [
                    try connection.get(
                        "/v1/assign?user_id=u42&device_id=d7&country=US&app_version=5.1.0&is_employee=false&cart_value=12.5&tags=beta,x"),
                    try connection.request("HEAD", "/v1/assign?user_id=u42&country=US"),
                    try connection.post(
                        "/v1/assign",
                        #"{"units":{"user_id":"u42","device_id":"d7"},"attributes":{"country":"US","app_version":"5.1.0","is_employee":false,"cart_value":12.5,"tags":["beta","x"]}}"#
                    ),
                    try connection.get("/v1/assign?user_id=qa-user&unknown=1&another=x"),
                    try connection.get("/v1/assign?user_id=u42&tags=beta&country=US&tags=x,y&app_version=5.1.0&cart_value=11"),
                    try connection.get("/v1/assign"),
                ]
            }
            let expected = try compiled.bundle.answerJSON(
                units: ["user_id": "u42", "device_id": "d7"],
                attributes: ["country": "US", "app_version": "5.1.0", "is_employee": "false", "cart_value": "12.5", "tags": "beta,x"],
                now: now)
            #expect(responses[0].status == 200)
            #expect(responses[0].header("Content-Type") == "application/json")
            #expect(responses[0].text == expected)
            #expect(responses[0].text.contains(#""new-search":{"variant":"enabled""#))
            #expect(responses[1].status == 200)
            #expect(responses[1].body.isEmpty)
            #expect(
                Int(responses[1].header("Content-Length") ?? "")
                    == (try compiled.bundle.answerJSON(units: ["user_id": "u42"], attributes: ["country": "US"], now: now)).utf8.count)
            #expect(responses[2].text == expected)
            #expect(responses[3].text == (try compiled.bundle.answerJSON(units: ["user_id": "qa-user"], now: now)))
            #expect(responses[3].text.contains(#""checkout-redesign":{"variant":"redesign","layer":"checkout","reason":"override"}"#))
            // Repeated list keys and comma-separated values make one list, in order.
            #expect(
                responses[4].text
                    == (try compiled.bundle.answerJSON(
                        units: ["user_id": "u42"],
                        attributes: ["tags": "beta,x,y", "country": "US", "app_version": "5.1.0", "cart_value": "11"],
                        now: now)))
            // No unit: every layer yields nothing; the answer is the defaults.
            #expect(responses[5].status == 200)
            #expect(responses[5].text == (try compiled.bundle.answerJSON(units: [:], now: now)))
        }
    }

    /// `answer` with the `ignored_attributes` member the server adds for wrongly typed attributes.
    static func withIgnored(_ answer: String, _ ignored: [(name: String, reason: String)]) -> String {
        let items = ignored.map { #"{"name":"\#($0.name)","reason":\#(JSONString.quoted($0.reason))}"# }
        return String(answer.dropLast()) + #","ignored_attributes":["# + items.joined(separator: ",") + "]}"
    }

    @Test("a wrongly typed attribute is ignored, not a 400: GET, POST and batch answer with the rest and name it")
    func wronglyTypedAttributes() async throws {
        try await withServer { harness, compiled in
            let port = harness.port
            let now = EdgeFixtures.now
            // new-search reads all four; checkout-redesign reads country (US), which is fine.
            let good = ["country": "US", "tags": "beta"]
            let query = "/v1/assign?user_id=u7&country=US&tags=beta&cart_value=lots&is_employee=yes&app_version=five"
            let body =
                #"{"units":{"user_id":"u7"},"attributes":{"country":"US","tags":["beta"],"cart_value":"lots","is_employee":1,"app_version":true}}"#
            let batch = #"{"requests":[\#(body),{"units":{"user_id":"u8"},"attributes":{"country":["US"]}}]}"#
            let (get, post, batched) = try await onThread { () -> (RawResponse, RawResponse, RawResponse) in
                let connection = try HTTPConnection(port: port)
                return (try connection.get(query), try connection.post("/v1/assign", body), try connection.post("/v1/assign/batch", batch))
            }
            let plain = try compiled.bundle.answerJSON(units: ["user_id": "u7"], attributes: good, now: now)
            #expect(plain.contains(#""new-search":{"variant":null,"layer":"rollouts","reason":"targeting_miss"}"#))
            let reasons = [
                ("cart_value", "expected a number"), ("is_employee", "expected true or false"),
                ("app_version", #"expected a version such as "5.2.0""#),
            ]
            #expect(get.status == 200)
            #expect(get.text == Self.withIgnored(plain, reasons), "\(get.text)")
            #expect(post.status == 200)
            #expect(post.text == Self.withIgnored(plain, reasons), "\(post.text)")
            #expect(batched.status == 200)
            let second = try compiled.bundle.answerJSON(units: ["user_id": "u8"], now: now)
            #expect(
                batched.text
                    == #"{"version":1,"answers":["# + Self.withIgnored(plain, reasons) + ","
                    + Self.withIgnored(second, [("country", "expected a string")])
                    + "]}")
            // The checkout experiment still decides for u7: the wrong attributes touched only new-search.
            #expect(plain.contains(#""checkout-redesign":{"variant":""#))
        }
    }

    @Test(
        "malformed queries are 400 with a JSON error naming the problem",
        arguments: [
            ("/v1/assign?user_id=u1&user_id=u2", "repeated_parameter"),
            ("/v1/assign?user_id=u1&country=US&country=CA", "repeated_parameter"),
            ("/v1/assign?user_id=", "bad_unit"),
            ("/v1/assign?user_id=\(String(repeating: "x", count: 513))", "bad_unit"),
            ("/v1/assign?user_id=%zz", "bad_query"),
        ])
    func badQueries(target: String, code: String) async throws {
        try await withServer { harness, _ in
            let port = harness.port
            let response = try await onThread { try HTTPConnection.get(port: port, target) }
            #expect(response.status == 400)
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.errorCode == code)
            #expect((response.json["error"] as? [String: Any])?["message"] as? String != nil)
        }
    }

    @Test(
        "malformed POST bodies are 400 with the evaluator's error code",
        arguments: [
            ("", "malformed_json"),
            ("{", "malformed_json"),
            (#"{"units":{"user_id":"u1"}} trailing"#, "malformed_json"),
            (#"{"units":{"user_id":42}}"#, "bad_unit"),
            (#"{"units":{"user_id":""}}"#, "bad_unit"),
            ("[1,2]", "malformed_json"),
            (#"{"units":{"user_id":"u1"},"attributes":{"tags":[1,}}"#, "malformed_json"),
        ])
    func badBodies(body: String, code: String) async throws {
        try await withServer { harness, _ in
            let port = harness.port
            let response = try await onThread { try HTTPConnection.post(port: port, "/v1/assign", body) }
            #expect(response.status == 400)
            #expect(response.errorCode == code, "\(response.text)")
        }
    }

    @Test("the batch form answers each request in order, with per-request errors, from one bundle")
    func batch() async throws {
        try await withServer { harness, compiled in
            let port = harness.port
            let now = EdgeFixtures.now
            let body = """
                {"requests":[
                  {"units":{"user_id":"qa-user"}},
                  {"units":{"user_id":"u9","device_id":"d9"},"attributes":{"country":"CA"}},
                  {"units":{"user_id":"u1"},"attributes":{"cart_value":"lots"}},
                  {"units":{"user_id":5}},
                  {"id":"ignored","units":{"user_id":"u2"}}
                ]}
                """
            let (ok, empty) = try await onThread { () -> (RawResponse, RawResponse) in
                let connection = try HTTPConnection(port: port)
                return (try connection.post("/v1/assign/batch", body), try connection.post("/v1/assign/batch", #"{"requests":[]}"#))
            }
            #expect(ok.status == 200)
            let answers = [
                try compiled.bundle.answerJSON(units: ["user_id": "qa-user"], now: now),
                try compiled.bundle.answerJSON(units: ["user_id": "u9", "device_id": "d9"], attributes: ["country": "CA"], now: now),
                Self.withIgnored(try compiled.bundle.answerJSON(units: ["user_id": "u1"], now: now), [("cart_value", "expected a number")]),
                #"{"error":{"code":"bad_unit","message":"unit 'user_id' must be a string"}}"#,
                try compiled.bundle.answerJSON(units: ["user_id": "u2"], now: now),
            ]
            #expect(ok.text == #"{"version":1,"answers":["# + answers.joined(separator: ",") + "]}")
            #expect(empty.text == #"{"version":1,"answers":[]}"#)
        }
    }

    @Test(
        "malformed batches and batches over the limit are 400",
        arguments: [
            (#"{"requests":[{"units":{"user_id":"a"}},{"units":{"user_id":"b"}},{"units":{"user_id":"c"}}]}"#, "batch_too_large"),
            (#"{"requests":{"units":{}}}"#, "bad_request"),
            (#"{"other":[]}"#, "bad_request"),
            (#"{"requests":[{"units":{"user_id":"a"}},]}"#, "malformed_json"),
            (#"{"requests":[]"#, "malformed_json"),
            ("[]", "malformed_json"),
        ])
    func badBatches(body: String, code: String) async throws {
        try await withServer(configure: { $0.maxBatchRequests = 2 }) { harness, _ in
            let port = harness.port
            let response = try await onThread { try HTTPConnection.post(port: port, "/v1/assign/batch", body) }
            #expect(response.status == 400)
            #expect(response.errorCode == code, "\(response.text)")
        }
    }

    @Test("wrong methods are 405 with Allow, unknown paths 404, huge bodies 413, all with JSON errors")
    func methodsAndLimits() async throws {
        try await withServer(configure: { $0.http.maxBodyBytes = 1024 }) { harness, _ in
            let port = harness.port
            let responses = try await onThread { () -> [RawResponse] in
                [
                    try HTTPConnection(port: port).request("DELETE", "/v1/assign"),
                    try HTTPConnection(port: port).get("/v1/assign/batch"),
                    try HTTPConnection(port: port).get("/ofrep/v1/evaluate/flags/button_color"),
                    try HTTPConnection(port: port).get("/ofrep/v1/evaluate/flags"),
                    try HTTPConnection(port: port).post("/metrics", "{}"),
                    try HTTPConnection(port: port).get("/v2/assign"),
                    try HTTPConnection(port: port).get("/ofrep/v1/evaluate/flagsX"),
                    try HTTPConnection(port: port).post(
                        "/v1/assign", #"{"units":{"user_id":"u1"},"pad":""# + String(repeating: "x", count: 2000) + #""}"#),
                    try HTTPConnection(port: port).request("BREW", "/v1/assign"),
                ]
            }
            #expect(responses[0].status == 405)
            #expect(responses[0].header("Allow") == "GET, HEAD, POST")
            #expect(responses[0].errorCode == "method_not_allowed")
            #expect(responses[1].status == 405)
            #expect(responses[1].header("Allow") == "POST")
            #expect(responses[2].status == 405)
            #expect(responses[2].json["errorCode"] as? String == "GENERAL")
            #expect(responses[3].status == 405)
            #expect(responses[4].status == 405)
            #expect(responses[4].header("Allow") == "GET, HEAD")
            #expect(responses[5].status == 404)
            #expect(responses[5].errorCode == "not_found")
            #expect(responses[6].status == 404)
            #expect(responses[7].status == 413)
            #expect(responses[7].errorCode == "body_too_large")
            #expect(responses[8].status == 405)
        }
    }

    @Test("/v1/bundle describes the bundle served; /healthz; /metrics has the bundle and request metrics")
    func statusRoutes() async throws {
        try await withServer { harness, compiled in
            let port = harness.port
            let (info, health, metrics) = try await onThread { () -> (RawResponse, RawResponse, RawResponse) in
                let connection = try HTTPConnection(port: port)
                _ = try connection.get("/v1/assign?user_id=u1")
                _ = try connection.get("/v1/assign?user_id=&cart_value=x")
                return (try connection.get("/v1/bundle"), try connection.get("/healthz"), try connection.get("/metrics"))
            }
            #expect(info.status == 200)
            let json = info.json
            #expect(json["version"] as? Int == 1)
            #expect(json["created_at"] as? String == "2025-11-24T16:00:00Z")
            #expect(json["created_at_unix"] as? Int == 1_764_000_000)
            #expect(json["key_id"] as? String == EdgeFixtures.key.id.description)
            #expect((json["age_seconds"] as? Int ?? 0) >= Int(EdgeFixtures.now - 1_764_000_000 - 5))
            #expect((json["source"] as? String)?.hasPrefix("/") == true)
            #expect(json["envelope_blake2b"] as? String == Hex.encode(Blake2b.hash256(compiled.envelope)))
            #expect(json["layers"] as? Int == 4)
            #expect(health.status == 200)
            #expect(health.text == #"{"status":"ok"}"#)
            #expect(metrics.status == 200)
            #expect(metrics.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = metrics.text
            #expect(text.contains("allot_bundle_version 1\n"))
            #expect(text.contains("allot_ready 1\n"))
            #expect(text.contains("allot_bundle_swaps_total 1\n"))
            #expect(text.contains(#"allot_http_requests_total{route="assign",status="2xx"} 1"#))
            #expect(text.contains(#"allot_http_requests_total{route="assign",status="4xx"} 1"#))
            #expect(text.contains(#"allot_http_request_duration_seconds_count{route="assign"} 2"#))
            #expect(text.contains(#"allot_bundle_polls_total{store=""#))
            #expect(text.contains(#"result="updated"} 1"#))
            #expect(text.contains("allot_bundle_age_seconds "))
        }
    }
}
