import AllotCore
import AllotServer
import AllotStore
import AllotTestSupport
import Foundation
import Testing

/// The server answers exactly what the library (`allot assign --json`) answers, for thousands of
/// random requests over the sample experiments, through GET, POST, batch and OFREP.
@Suite("Answers identical to allot assign", .serialized)
struct AnswerEquivalenceTests {
    /// One random request: units and attributes as text, as `allot assign --unit/--attr` takes them.
    struct Request: Sendable {
        var units: [(String, String)]
        var attributes: [(String, String)]
        /// List attributes as their elements (sent as arrays or repeated keys).
        var lists: [(String, [String])]

        var unitDictionary: [String: String] { Dictionary(units, uniquingKeysWith: { $1 }) }
        var attributeDictionary: [String: String] {
            Dictionary(attributes + lists.map { ($0.0, $0.1.joined(separator: ",")) }, uniquingKeysWith: { $1 })
        }

        /// The query string; lists alternate between repeated keys and comma-separated values.
        func query(repeatLists: Bool) -> String {
            var pairs = (units + attributes).map { "\(queryEncode($0.0))=\(queryEncode($0.1))" }
            for (name, elements) in lists {
                if repeatLists && !elements.isEmpty {
                    pairs += elements.map { "\(queryEncode(name))=\(queryEncode($0))" }
                } else {
                    pairs.append("\(queryEncode(name))=\(queryEncode(elements.joined(separator: ",")))")
                }
            }
            return pairs.joined(separator: "&")
        }

        /// The JSON body, with typed values (numbers, bools, arrays) where the type allows.
        func json(numbers: Set<String>, bools: Set<String>) throws -> String {
            var attributes: [String: Any] = [:]
            for (name, value) in self.attributes {
                if numbers.contains(name), let number = Double(value) {
                    attributes[name] = number
                } else if bools.contains(name) {
                    attributes[name] = value == "true"
                } else {
                    attributes[name] = value
                }
            }
            for (name, elements) in lists { attributes[name] = elements }
            let object: [String: Any] = ["units": unitDictionary, "attributes": attributes]
            return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
    }

    static func randomRequests(count: Int, seed: UInt64) -> [Request] {
        var random = SeededRandom(seed: seed)
        let users =
            ["alice", "bob", "qa-user-1", "qa-user-2", "carol", "dave"] + (0..<400).map { "user-\($0)" } + ["ü-ñ space+plus&amp=eq"]
        let devices = ["qa-device-1", "qa-device-2"] + (0..<200).map { "device-\($0)" }
        let countries = ["US", "CA", "GB", "DE", "FR", "JP", "BR", "IN", "AU", "XX"]
        let platforms = ["ios", "android", "web", "tv"]
        let plans = ["free", "plus", "business"]
        let emails = ["a@example.com", "b@other.org", "staff@example.com"]
        let tags = ["internal-build", "beta", "vip", "x y", "ç"]
        var requests: [Request] = []
        for _ in 0..<count {
            var request = Request(units: [], attributes: [], lists: [])
            if Int.random(in: 0..<10, using: &random) > 0 { request.units.append(("user_id", users.randomElement(using: &random)!)) }
            if Bool.random(using: &random) { request.units.append(("device_id", devices.randomElement(using: &random)!)) }
            func maybe(_ name: String, _ value: () -> String) {
                if Int.random(in: 0..<3, using: &random) > 0 { request.attributes.append((name, value())) }
            }
            maybe("country") { countries.randomElement(using: &random)! }
            maybe("platform") { platforms.randomElement(using: &random)! }
            maybe("app_version") {
                "\(Int.random(in: 4...7, using: &random)).\(Int.random(in: 0...5, using: &random)).\(Int.random(in: 0...3, using: &random))"
                    + (Int.random(in: 0..<8, using: &random) == 0 ? "-beta.1" : "")
            }
            maybe("email") { emails.randomElement(using: &random)! }
            maybe("is_employee") { Bool.random(using: &random) ? "true" : "false" }
            maybe("account_age_days") { String(Int.random(in: 0...900, using: &random)) }
            maybe("cart_value") { String(Double(Int.random(in: 0...20000, using: &random)) / 100) }
            maybe("plan") { plans.randomElement(using: &random)! }
            maybe("undeclared") { "ignored" }
            if Int.random(in: 0..<3, using: &random) > 0 {
                let count = Int.random(in: 0...3, using: &random)
                request.lists.append(("tags", (0..<count).map { _ in tags.randomElement(using: &random)! }))
            }
            requests.append(request)
        }
        return requests
    }

    @Test("2,000 random GET requests, 2,000 POST requests and batches of them, and OFREP bulk values")
    func equivalence() async throws {
        let root = Scratch.folder("store")
        defer { Scratch.remove(root) }
        let compiled = try EdgeFixtures.compileSamples(version: 3)
        try await EdgeFixtures.publish(compiled.envelope, to: [LocalStore(root: root)])
        let harness = try EdgeHarness(stores: [LocalStore(root: root)])
        defer { Scratch.remove(harness.cacheDirectory) }
        try await harness.start(poll: false)
        await harness.poller.pollOnce()
        let port = harness.port
        let bundle = compiled.bundle
        let requests = Self.randomRequests(count: 2000, seed: 42)
        let numbers: Set<String> = ["account_age_days", "cart_value"]
        let bools: Set<String> = ["is_employee"]

        let bodies = try requests.map { try $0.json(numbers: numbers, bools: bools) }
        let (gets, posts, batch, ofrep, now) = try await onThread {
            () -> ([String], [String], String, [RawResponse], Int64) in
            let now = EdgeFixtures.now
            let connection = try HTTPConnection(port: port)
            var gets: [String] = []
            var posts: [String] = []
            for (index, request) in requests.enumerated() {
                let get = try connection.get("/v1/assign?" + request.query(repeatLists: index % 2 == 0))
                gets.append(get.status == 200 ? get.text : "status \(get.status): \(get.text)")
                let post = try connection.post("/v1/assign", bodies[index])
                posts.append(post.status == 200 ? post.text : "status \(post.status): \(post.text)")
            }
            let batch = try connection.post("/v1/assign/batch", #"{"requests":["# + bodies.prefix(500).joined(separator: ",") + "]}")
            var ofrep: [RawResponse] = []
            for request in requests.prefix(300) where !request.units.isEmpty {
                var context: [String: Any] = [:]
                for (name, id) in request.units { context[name == "user_id" ? "targetingKey" : name] = id }
                for (name, value) in request.attributes { context[name] = value }
                for (name, elements) in request.lists { context[name] = elements }
                let body = String(decoding: try JSONSerialization.data(withJSONObject: ["context": context]), as: UTF8.self)
                ofrep.append(try connection.post("/ofrep/v1/evaluate/flags", body))
            }
            return (gets, posts, batch.text, ofrep, now)
        }
        await harness.stop()

        var expected: [String] = []
        for request in requests {
            expected.append(try bundle.answerJSON(units: request.unitDictionary, attributes: request.attributeDictionary, now: now))
        }
        var mismatches = 0
        for index in requests.indices where gets[index] != expected[index] || posts[index] != expected[index] {
            mismatches += 1
            if mismatches <= 3 {
                Issue.record(
                    "request \(index) \(requests[index]):\n  expected \(expected[index])\n  GET      \(gets[index])\n  POST     \(posts[index])"
                )
            }
        }
        #expect(mismatches == 0)
        // The requests exercise the semantics, not just the defaults.
        #expect(Set(expected).count > 100)
        for reason in ["split", "override", "targeting_miss", "holdout", "paused"] {
            #expect(expected.contains { $0.contains(#""reason":"\#(reason)""#) }, "no answer with reason \(reason)")
        }
        #expect(batch == #"{"version":3,"answers":["# + expected.prefix(500).joined(separator: ",") + "]}")

        // OFREP bulk values are the native answer's params.
        let withUnits = requests.prefix(300).enumerated().filter { !$0.element.units.isEmpty }.map(\.offset)
        #expect(ofrep.count == withUnits.count)
        for (position, index) in withUnits.enumerated() {
            let native = try JSONSerialization.jsonObject(with: Data(expected[index].utf8)) as! [String: Any]
            let params = native["params"] as! [String: Any]
            let flags = try #require(ofrep[position].json["flags"] as? [[String: Any]], "\(ofrep[position].text)")
            #expect(flags.count == params.count)
            for flag in flags {
                guard let value = flag["value"] else {
                    // A flag of a unit type the request does not carry.
                    #expect(flag["errorCode"] as? String == "TARGETING_KEY_MISSING")
                    continue
                }
                let key = flag["key"] as! String
                #expect(try canonicalJSON(value) == canonicalJSON(params[key]!), "request \(index) flag \(key)")
            }
        }
    }
}
