import AllotCore
import AllotServer
import AllotStore
import AllotTestSupport
import Foundation
import Testing

/// The OpenFeature Python SDK (`openfeature-sdk`) with its OFREP provider
/// (`openfeature-provider-ofrep`) against a real server, through `Clients/ofrep_client.py`.
@Suite("OFREP through the OpenFeature Python client", .serialized, .enabled(if: PythonOpenFeature.available, PythonOpenFeature.skipReason))
struct OFREPPythonClientTests {
    @Test(
        "values, variants and reasons as the SDK reports them; FLAG_NOT_FOUND, TYPE_MISMATCH and context errors; wrongly typed attributes ignored"
    )
    func client() async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let compiled = try EdgeFixtures.compile()
        try await EdgeFixtures.publish(compiled.envelope, to: [LocalStore(root: root)])
        let harness = try EdgeHarness(stores: [LocalStore(root: root)])
        defer { Scratch.remove(harness.cacheDirectory) }
        try await harness.start(poll: false)
        await harness.poller.pollOnce()

        // A user the split puts in each arm (country US).
        var arms: [String: String] = [:]
        for i in 0..<1000 where arms.count < 2 {
            let id = "py-\(i)"
            let assignments = try compiled.bundle.assignments(units: ["user_id": id], attributes: ["country": "US"], now: EdgeFixtures.now)
            if let arm = assignments.first(where: { $0.experiment == "checkout-redesign" && $0.reason == .split })?.variant,
                arms[arm] == nil
            {
                arms[arm] = id
            }
        }
        let redesign = try #require(arms["redesign"])
        let control = try #require(arms["control"])

        let cases: [[String: Any]] = [
            ["type": "string", "flag": "button_color", "default": "x", "context": ["targetingKey": redesign, "country": "US"]],
            ["type": "string", "flag": "button_color", "default": "x", "context": ["targetingKey": control, "country": "US"]],
            ["type": "boolean", "flag": "express_pay", "default": false, "context": ["targetingKey": "qa-user"]],
            ["type": "float", "flag": "discount", "default": 0.0, "context": ["targetingKey": "qa-user"]],
            ["type": "float", "flag": "discount", "default": 0.0, "context": ["targetingKey": redesign, "country": "FR"]],
            ["type": "integer", "flag": "max_items", "default": 0, "context": ["targetingKey": "qa-control"]],
            ["type": "object", "flag": "layout", "default": [String: Any](), "context": ["targetingKey": "qa-user"]],
            ["type": "string", "flag": "banner", "default": "x", "context": ["targetingKey": "anyone"]],
            [
                "type": "boolean", "flag": "new_search", "default": false,
                "context": ["targetingKey": "u1", "app_version": "5.3.0", "is_employee": false, "cart_value": 99.5, "tags": ["beta"]],
            ],
            ["type": "boolean", "flag": "tutorial", "default": false, "context": ["targetingKey": "u1", "device_id": "d1"]],
            // Errors.
            ["type": "boolean", "flag": "no_such_flag", "default": false, "context": ["targetingKey": "u1"]],
            ["type": "string", "flag": "express_pay", "default": "x", "context": ["targetingKey": "u1"]],
            ["type": "float", "flag": "max_items", "default": 0.0, "context": ["targetingKey": "u1"]],
            ["type": "boolean", "flag": "tutorial", "default": false, "context": ["targetingKey": "u1"]],
            ["type": "boolean", "flag": "express_pay", "default": false, "context": NSNull()],
            // A wrongly typed attribute: only the rules reading it do not match; every flag evaluates.
            ["type": "boolean", "flag": "express_pay", "default": false, "context": ["targetingKey": "u1", "cart_value": "lots"]],
            [
                "type": "string", "flag": "button_color", "default": "x",
                "context": ["targetingKey": redesign, "country": "US", "cart_value": "lots"],
            ],
            [
                "type": "boolean", "flag": "new_search", "default": false,
                "context": ["targetingKey": "u1", "app_version": "5.3.0", "is_employee": false, "cart_value": "lots", "tags": ["beta"]],
            ],
            ["type": "string", "flag": "button_color", "default": "x", "context": ["targetingKey": redesign, "country": 5]],
        ]
        let results = try await PythonOpenFeature.run(baseURL: "http://127.0.0.1:\(harness.port)", cases: cases)
        await harness.stop()
        try #require(results.count == cases.count)

        func check(_ index: Int, value: Any?, variant: String?, reason: String, error: String? = nil, metadata: [String: Any] = [:]) throws
        {
            let result = results[index]
            if let value { #expect(try canonicalJSON(result["value"]!) == canonicalJSON(value), "case \(index): \(result)") }
            #expect(result["variant"] as? String == variant, "case \(index): \(result)")
            #expect(result["reason"] as? String == reason, "case \(index): \(result)")
            #expect(result["error_code"] as? String == error, "case \(index): \(result)")
            let got = result["flag_metadata"] as? [String: Any] ?? [:]
            for (key, expected) in metadata {
                #expect(try canonicalJSON(got[key] ?? NSNull()) == canonicalJSON(expected), "case \(index) metadata \(key): \(got)")
            }
        }
        try check(
            0, value: "green", variant: "redesign", reason: "SPLIT",
            metadata: ["experiment": "checkout-redesign", "layer": "checkout", "bundleVersion": 1, "allotReason": "split"])
        try check(1, value: "blue", variant: "control", reason: "SPLIT")
        try check(2, value: true, variant: "redesign", reason: "TARGETING_MATCH", metadata: ["allotReason": "override"])
        try check(3, value: 0.75, variant: "redesign", reason: "TARGETING_MATCH")
        try check(4, value: 0.5, variant: "default", reason: "STATIC", metadata: ["allotReason": "targeting_miss"])
        try check(5, value: 10, variant: "control", reason: "TARGETING_MATCH")
        try check(6, value: ["columns": 3], variant: "redesign", reason: "TARGETING_MATCH")
        try check(7, value: "none", variant: "default", reason: "DISABLED", metadata: ["allotReason": "paused"])
        try check(8, value: true, variant: "enabled", reason: "SPLIT")
        try check(9, value: true, variant: "shown", reason: "SPLIT", metadata: ["layer": "onboarding"])
        try check(10, value: false, variant: nil, reason: "ERROR", error: "FLAG_NOT_FOUND")
        try check(11, value: "x", variant: nil, reason: "ERROR", error: "TYPE_MISMATCH")
        // Integer-valued number parameters are integers on the wire: a float read is a type mismatch.
        try check(12, value: 0.0, variant: nil, reason: "ERROR", error: "TYPE_MISMATCH")
        try check(13, value: false, variant: nil, reason: "ERROR", error: "TARGETING_KEY_MISSING")
        try check(14, value: false, variant: nil, reason: "ERROR", error: "TARGETING_KEY_MISSING")
        #expect((results[10]["error_message"] as? String)?.contains("no_such_flag") == true)
        let cartValueIgnored = ["ignoredAttributes": "cart_value: expected a number"]
        try check(15, value: false, variant: "default", reason: "STATIC", metadata: cartValueIgnored)
        try check(
            16, value: "green", variant: "redesign", reason: "SPLIT", metadata: cartValueIgnored.merging(["allotReason": "split"]) { $1 })
        try check(
            17, value: false, variant: "default", reason: "STATIC",
            metadata: cartValueIgnored.merging(["allotReason": "targeting_miss"]) { $1 })
        try check(
            18, value: "blue", variant: "default", reason: "STATIC",
            metadata: ["ignoredAttributes": "country: expected a string", "allotReason": "targeting_miss"])
    }
}

/// Finds and runs the Python client script.
enum PythonOpenFeature {
    static let python: String? = which("python3")

    static let available: Bool = {
        guard let python else { return false }
        return (try? runProcessBlocking(python, ["-c", "import openfeature.contrib.provider.ofrep"]))?.status == 0
    }()

    static let skipReason: Comment =
        "python3 with openfeature-sdk and openfeature-provider-ofrep is needed: pip install openfeature-sdk openfeature-provider-ofrep"

    static func run(baseURL: String, cases: [[String: Any]]) async throws -> [[String: Any]] {
        let input = try JSONSerialization.data(withJSONObject: cases)
        let python = python!
        let script = Repository.clients + "/ofrep_client.py"
        let output = try await ChildProcess.run(python, [script, baseURL], stdin: input)
        guard let results = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]] else {
            throw FixtureError(message: "the client printed no result list:\n\(output)")
        }
        return results
    }
}
