import AllotCore
import AllotServer
import AllotStore
import AllotTestSupport
import Foundation
import Testing

/// The OFREP endpoints on a real socket: values, reasons, variants, metadata, errors, ETag and 304.
@Suite("OFREP endpoints", .serialized)
struct OFREPTests {
    func withServer(_ body: (EdgeHarness, EdgeFixtures.Compiled, String) async throws -> Void) async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let compiled = try EdgeFixtures.compile()
        try await EdgeFixtures.publish(compiled.envelope, to: [LocalStore(root: root)])
        let harness = try EdgeHarness(stores: [LocalStore(root: root)])
        defer { Scratch.remove(harness.cacheDirectory) }
        try await harness.start(poll: false)
        await harness.poller.pollOnce()
        do {
            try await body(harness, compiled, root)
        } catch {
            await harness.stop()
            throw error
        }
        await harness.stop()
    }

    func evaluate(_ port: Int, _ flag: String, _ context: String) async throws -> RawResponse {
        try await onThread { try HTTPConnection.post(port: port, "/ofrep/v1/evaluate/flags/\(flag)", #"{"context":"# + context + "}") }
    }

    /// A user id the split puts in `variant` of checkout-redesign (country US).
    func user(in variant: String, bundle: LoadedBundle) throws -> String {
        for i in 0..<1000 {
            let assignments = try bundle.assignments(units: ["user_id": "user-\(i)"], attributes: ["country": "US"], now: EdgeFixtures.now)
            if assignments.contains(where: { $0.experiment == "checkout-redesign" && $0.variant == variant && $0.reason == .split }) {
                return "user-\(i)"
            }
        }
        throw FixtureError(message: "no user in \(variant)")
    }

    @Test("value, reason, variant and metadata for split, override, targeting miss, paused and untouched flags")
    func single() async throws {
        try await withServer { harness, compiled, _ in
            let port = harness.port
            let green = try user(in: "redesign", bundle: compiled.bundle)
            let control = try user(in: "control", bundle: compiled.bundle)

            let split = try await evaluate(port, "button_color", #"{"targetingKey":"\#(green)","country":"US"}"#)
            #expect(split.status == 200)
            #expect(split.header("Content-Type") == "application/json")
            #expect(
                split.text
                    == #"{"key":"button_color","value":"green","reason":"SPLIT","variant":"redesign","metadata":{"bundleVersion":1,"layer":"checkout","experiment":"checkout-redesign","allotReason":"split"}}"#
            )
            // The control arm sets nothing but still decides the flag: SPLIT, variant control.
            let controlArm = try await evaluate(port, "discount", #"{"targetingKey":"\#(control)","country":"US"}"#)
            #expect(controlArm.json["value"] as? Double == 0.5)
            #expect(controlArm.json["reason"] as? String == "SPLIT")
            #expect(controlArm.json["variant"] as? String == "control")

            let override = try await evaluate(port, "express_pay", #"{"targetingKey":"qa-user"}"#)
            #expect(override.json["value"] as? Bool == true)
            #expect(override.json["reason"] as? String == "TARGETING_MATCH")
            #expect(override.json["variant"] as? String == "redesign")
            #expect((override.json["metadata"] as? [String: Any])?["allotReason"] as? String == "override")

            let miss = try await evaluate(port, "button_color", #"{"targetingKey":"\#(green)","country":"FR"}"#)
            #expect(
                miss.text
                    == #"{"key":"button_color","value":"blue","reason":"STATIC","variant":"default","metadata":{"bundleVersion":1,"layer":"checkout","experiment":"checkout-redesign","allotReason":"targeting_miss"}}"#
            )
            let paused = try await evaluate(port, "banner", #"{"targetingKey":"anyone"}"#)
            #expect(paused.json["value"] as? String == "none")
            #expect(paused.json["reason"] as? String == "DISABLED")
            #expect(paused.json["variant"] as? String == "default")
            #expect((paused.json["metadata"] as? [String: Any])?["allotReason"] as? String == "paused")

            // No variant of checkout-redesign sets `footer`: the experiment does not decide it.
            let untouched = try await evaluate(port, "footer", #"{"targetingKey":"qa-user"}"#)
            #expect(
                untouched.text
                    == #"{"key":"footer","value":"plain","reason":"STATIC","variant":"default","metadata":{"bundleVersion":1,"layer":"checkout"}}"#
            )

            let object = try await evaluate(port, "layout", #"{"targetingKey":"qa-user"}"#)
            #expect((object.json["value"] as? [String: Any])?["columns"] as? Int == 3)

            // Typed context values reach targeting: every condition of new-search holds.
            let typed = try await evaluate(
                port, "new_search",
                #"{"targetingKey":"u1","app_version":"5.2.0","is_employee":false,"cart_value":10.5,"tags":["a","beta"]}"#)
            #expect(typed.json["value"] as? Bool == true)
            #expect(typed.json["reason"] as? String == "SPLIT")
            let typedAsText = try await evaluate(
                port, "new_search",
                #"{"targetingKey":"u1","app_version":"5.2.0","is_employee":"false","cart_value":"10.5","tags":"a,beta"}"#)
            #expect(typedAsText.json["value"] as? Bool == true)
            let typedMiss = try await evaluate(
                port, "new_search", #"{"targetingKey":"u1","app_version":"4.9.9","is_employee":false,"cart_value":10.5,"tags":["beta"]}"#)
            #expect(typedMiss.json["value"] as? Bool == false)
            #expect((typedMiss.json["metadata"] as? [String: Any])?["allotReason"] as? String == "targeting_miss")

            // Another unit type, by its name in the context; the percent-encoded key is decoded.
            let device = try await evaluate(port, "tutori%61l", #"{"targetingKey":"u1","device_id":"d1","unknown":{"nested":[1,2]}}"#)
            #expect(device.json["key"] as? String == "tutorial")
            #expect(device.json["value"] as? Bool == true)
            #expect(device.json["variant"] as? String == "shown")

            // targetingKey wins over a context key naming the same unit type.
            let both = try await evaluate(port, "button_color", #"{"targetingKey":"qa-user","user_id":"someone-else"}"#)
            #expect(both.json["variant"] as? String == "redesign")
            let userIDOnly = try await evaluate(port, "button_color", #"{"user_id":"qa-user"}"#)
            #expect(userIDOnly.json["variant"] as? String == "redesign")
        }
    }

    @Test(
        "errors carry the spec's codes",
        arguments: [
            ("no_such_flag", #"{"context":{"targetingKey":"u1"}}"#, 404, "FLAG_NOT_FOUND"),
            ("button_color", #"{"context":{}}"#, 400, "TARGETING_KEY_MISSING"),
            ("button_color", #"{}"#, 400, "TARGETING_KEY_MISSING"),
            ("button_color", #"{"context":{"targetingKey":""}}"#, 400, "TARGETING_KEY_MISSING"),
            ("tutorial", #"{"context":{"targetingKey":"u1"}}"#, 400, "TARGETING_KEY_MISSING"),
            ("button_color", #"{"context":{"targetingKey":"u1"}"#, 400, "PARSE_ERROR"),
            ("button_color", "", 400, "PARSE_ERROR"),
            ("button_color", #"{"context":{"targetingKey":"u1","country":"\ud800"}}"#, 400, "PARSE_ERROR"),
            ("button_color", #"{"context":5}"#, 400, "INVALID_CONTEXT"),
            ("button_color", #"{"context":{"targetingKey":5}}"#, 400, "INVALID_CONTEXT"),
            ("button_color", #"{"context":{"targetingKey":"u1","device_id":7}}"#, 400, "INVALID_CONTEXT"),
            ("button_color", #"{"context":{"targetingKey":"u1","tags":[1,]}}"#, 400, "PARSE_ERROR"),
            ("%zz", #"{"context":{"targetingKey":"u1"}}"#, 400, "PARSE_ERROR"),
        ])
    func errors(flag: String, body: String, status: Int, code: String) async throws {
        try await withServer { harness, _, _ in
            let port = harness.port
            let response = try await onThread { try HTTPConnection.post(port: port, "/ofrep/v1/evaluate/flags/\(flag)", body) }
            #expect(response.status == status, "\(response.text)")
            #expect(response.json["errorCode"] as? String == code, "\(response.text)")
            #expect((response.json["errorDetails"] as? String)?.isEmpty == false)
            #expect(response.json["key"] != nil)
        }
    }

    @Test("a wrongly typed attribute fails only the rules that read it; single and bulk answers name it in metadata")
    func wronglyTypedAttributes() async throws {
        try await withServer { harness, compiled, _ in
            let port = harness.port
            let green = try user(in: "redesign", bundle: compiled.bundle)
            // new-search reads cart_value; checkout-redesign reads only country.
            let context =
                #"{"targetingKey":"\#(green)","country":"US","app_version":"5.3.0","is_employee":false,"cart_value":"lots","tags":["beta"]}"#
            let ignored = "cart_value: expected a number"
            let color = try await evaluate(port, "button_color", context)
            #expect(color.status == 200)
            #expect(
                color.text
                    == #"{"key":"button_color","value":"green","reason":"SPLIT","variant":"redesign","metadata":{"bundleVersion":1,"layer":"checkout","experiment":"checkout-redesign","allotReason":"split","ignoredAttributes":"\#(ignored)"}}"#
            )
            let search = try await evaluate(port, "new_search", context)
            #expect(search.status == 200)
            #expect(search.json["value"] as? Bool == false)
            #expect(search.json["reason"] as? String == "STATIC")
            let metadata = search.json["metadata"] as? [String: Any]
            #expect(metadata?["allotReason"] as? String == "targeting_miss")
            #expect(metadata?["ignoredAttributes"] as? String == ignored)
            // Well typed, the same context enrols in new-search: the miss was the ignored attribute.
            let typed = try await evaluate(port, "new_search", context.replacingOccurrences(of: #""lots""#, with: "99"))
            #expect(typed.json["value"] as? Bool == true)
            #expect((typed.json["metadata"] as? [String: Any])?["ignoredAttributes"] == nil)
            // A JSON number for the semver attribute is a version read from its text, not ignored:
            // 5.3 is 5.3.0 (enrols); 4.10 is 4.10.0, below 5.0.0 (a double would have made it 4.1).
            let numeric = context.replacingOccurrences(of: #""lots""#, with: "99")
            for (version, enrolled) in [("5.3", true), ("4.10", false), ("5", true)] {
                let answer = try await evaluate(port, "new_search", numeric.replacingOccurrences(of: #""5.3.0""#, with: version))
                #expect(answer.json["value"] as? Bool == enrolled, "\(version): \(answer.text)")
                #expect((answer.json["metadata"] as? [String: Any])?["ignoredAttributes"] == nil, "\(version)")
            }

            // Bulk: every flag evaluates; each item and the document's metadata name the attribute.
            let twoWrong = context.replacingOccurrences(of: #""is_employee":false"#, with: #""is_employee":"no""#)
            let bulk = try await onThread {
                try HTTPConnection.post(port: port, "/ofrep/v1/evaluate/flags", #"{"context":"# + twoWrong + "}")
            }
            #expect(bulk.status == 200)
            let both = "is_employee: expected true or false; cart_value: expected a number"  // in context order
            #expect((bulk.json["metadata"] as? [String: Any])?["ignoredAttributes"] as? String == both)
            let flags = try #require(bulk.json["flags"] as? [[String: Any]])
            let byKey = Dictionary(uniqueKeysWithValues: flags.map { ($0["key"] as! String, $0) })
            #expect(byKey["button_color"]?["value"] as? String == "green")
            #expect(byKey["new_search"]?["value"] as? Bool == false)
            // tutorial needs device_id, which the context lacks: that failure stays per flag.
            #expect(byKey["tutorial"]?["errorCode"] as? String == "TARGETING_KEY_MISSING")
            for flag in flags where flag["errorCode"] == nil {
                #expect((flag["metadata"] as? [String: Any])?["ignoredAttributes"] as? String == both, "\(flag)")
            }
        }
    }

    @Test("bulk evaluation: every flag in name order, the native answer's values, ETag and 304")
    func bulk() async throws {
        try await withServer { harness, compiled, root in
            let port = harness.port
            let context = #"{"context":{"targetingKey":"qa-user","device_id":"d1","country":"US"}}"#
            let first = try await onThread { try HTTPConnection.post(port: port, "/ofrep/v1/evaluate/flags", context) }
            #expect(first.status == 200)
            let etag = try #require(first.header("ETag"))
            #expect(etag.hasPrefix("\"1-"))
            let flags = try #require(first.json["flags"] as? [[String: Any]])
            #expect(
                flags.map { $0["key"] as? String ?? "" } == [
                    "banner", "button_color", "discount", "express_pay", "footer", "layout", "max_items", "new_search", "tutorial",
                ])
            #expect((first.json["metadata"] as? [String: Any])?["bundleVersion"] as? Int == 1)
            // Values equal the native answer's params for the same units and attributes.
            let native = try compiled.bundle.answerJSON(
                units: ["user_id": "qa-user", "device_id": "d1"], attributes: ["country": "US"], now: EdgeFixtures.now)
            let params = try #require(
                (try JSONSerialization.jsonObject(with: Data(native.utf8)) as? [String: Any])?["params"] as? [String: Any])
            for flag in flags {
                let key = flag["key"] as! String
                #expect(try canonicalJSON(flag["value"]!) == canonicalJSON(params[key]!), "\(key)")
            }

            let (same, weak, star, other) = try await onThread { () -> (RawResponse, RawResponse, RawResponse, RawResponse) in
                let connection = try HTTPConnection(port: port)
                return (
                    try connection.post("/ofrep/v1/evaluate/flags", context, headers: [("If-None-Match", etag)]),
                    try connection.post("/ofrep/v1/evaluate/flags", context, headers: [("If-None-Match", "\"x\", W/\(etag)")]),
                    try connection.post("/ofrep/v1/evaluate/flags", context, headers: [("If-None-Match", "*")]),
                    try connection.post(
                        "/ofrep/v1/evaluate/flags", #"{"context":{"targetingKey":"someone"}}"#, headers: [("If-None-Match", etag)])
                )
            }
            #expect(same.status == 304)
            #expect(same.body.isEmpty)
            #expect(same.header("Content-Length") == nil)
            #expect(same.header("ETag") == etag)
            #expect(weak.status == 304)
            #expect(star.status == 304)
            #expect(other.status == 200)
            #expect(other.header("ETag") != etag)
            // Only device_id: the user_id flags fail one by one, tutorial evaluates.
            let deviceOnly = try await onThread {
                try HTTPConnection.post(port: port, "/ofrep/v1/evaluate/flags", #"{"context":{"device_id":"d1"}}"#)
            }
            let items = try #require(deviceOnly.json["flags"] as? [[String: Any]])
            #expect(items.filter { $0["errorCode"] as? String == "TARGETING_KEY_MISSING" }.count == 8)
            #expect(items.first { $0["key"] as? String == "tutorial" }?["value"] as? Bool == true)

            // A new bundle: the old tag no longer matches.
            let next = try EdgeFixtures.compile(EdgeFixtures.project(traffic: 40), version: 2)
            try await EdgeFixtures.publish(next.envelope, to: [LocalStore(root: root)])
            await harness.poller.pollOnce()
            let after = try await onThread {
                try HTTPConnection.post(port: port, "/ofrep/v1/evaluate/flags", context, headers: [("If-None-Match", etag)])
            }
            #expect(after.status == 200)
            #expect(after.header("ETag")?.hasPrefix("\"2-") == true)
        }
    }

    @Test(
        "bulk failures are 400 without a key",
        arguments: [
            (#"{"context":{}}"#, "TARGETING_KEY_MISSING"),
            (#"{"context":{"unknown":"x"}}"#, "TARGETING_KEY_MISSING"),
            ("nope", "PARSE_ERROR"),
            (#"{"context":{"targetingKey":"u1","device_id":7}}"#, "INVALID_CONTEXT"),
            (#"{"context":{"targetingKey":"u1","cart_value":[}}"#, "PARSE_ERROR"),
        ])
    func bulkErrors(body: String, code: String) async throws {
        try await withServer { harness, _, _ in
            let port = harness.port
            let response = try await onThread { try HTTPConnection.post(port: port, "/ofrep/v1/evaluate/flags", body) }
            #expect(response.status == 400)
            #expect(response.json["errorCode"] as? String == code)
            #expect(response.json["key"] == nil)
            #expect(response.json["errorDetails"] as? String != nil)
        }
    }
}

/// A JSON value's text with sorted keys, for comparing values parsed from two documents.
func canonicalJSON(_ value: Any) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: ["v": value], options: [.sortedKeys]), as: UTF8.self)
}
