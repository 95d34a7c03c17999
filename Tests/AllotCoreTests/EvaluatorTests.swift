import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

struct EvaluatorTests {
    static let base = """
        kind: Attributes
        attributes:
          country: { type: string, values: [US, CA, DE] }
          age: number
          beta: bool
          app_version: semver
          tags: list
        ---
        kind: Layer
        name: checkout
        unit: user_id
        params:
          color: { type: string, default: blue }
          size: { type: number, default: 10 }
        ---
        kind: Layer
        name: search
        unit: user_id
        params:
          ranking: { type: string, default: bm25 }
        ---
        kind: Layer
        name: device
        unit: device_id
        params:
          dark_mode: { type: bool, default: false }
        """

    static func experiment(
        _ name: String, layer: String = "checkout", status: String = "running", traffic: String = "50%",
        extra: String = "", variants: String? = nil
    ) -> String {
        let body =
            variants ?? """
                variants:
                  - { name: control, weight: 50% }
                  - { name: treatment, weight: 50%, params: { color: red } }
                """
        return
            "\n---\nkind: Experiment\nname: \(name)\nlayer: \(layer)\nowner: o@example.com\nstatus: \(status)\ntraffic: \(traffic)\n\(extra)\(body)"
    }

    static func units(_ count: Int, prefix: String = "u") -> [String] { (0..<count).map { "\(prefix)\($0)" } }

    @Test func missingUnitTypeYieldsNothingAndDefaults() throws {
        let bundle = try Fixture.compile(Self.base + Self.experiment("a", traffic: "100%")).bundle
        let answer = try bundle.answerJSON(units: ["device_id": "d1"], now: 0)
        #expect(
            answer == #"{"version":1,"assignments":{},"params":{"color":"blue","size":10,"dark_mode":false,"ranking":"bm25"}}"#,
            "layers in name order")
    }

    @Test func fullTrafficEnrollsEveryoneWithWeightedSplit() throws {
        let yaml =
            Self.base
            + Self.experiment(
                "a", traffic: "100%",
                variants: """
                    variants:
                      - { name: control, weight: 25% }
                      - { name: treatment, weight: 75%, params: { color: red, size: 12.5 } }
                    """)
        let bundle = try Fixture.compile(yaml).bundle
        var treatment = 0
        let total = 20_000
        for unit in Self.units(total) {
            let assignment = try #require(try bundle.assignments(units: ["user_id": unit], now: 0).first)
            #expect(assignment.reason == .split)
            if assignment.variant == "treatment" { treatment += 1 }
        }
        // 75% ± 4 standard deviations (σ ≈ 0.31%).
        #expect(abs(Double(treatment) / Double(total) - 0.75) < 0.0125, "\(treatment)")
        let answer = try bundle.answerJSON(units: ["user_id": "u1"], now: 0)
        let variant = try bundle.assignments(units: ["user_id": "u1"], now: 0).first!.variant!
        let expectedParams = variant == "treatment" ? #""color":"red","size":12.5"# : #""color":"blue","size":10"#
        #expect(answer.contains(#""params":{\#(expectedParams),"dark_mode":false,"ranking":"bm25"}"#))
    }

    @Test func experimentsInALayerAreExclusiveAndLayersAreIndependent() throws {
        let yaml =
            Self.base + Self.experiment("a", traffic: "50%") + Self.experiment("b", traffic: "50%")
            + Self.experiment(
                "s", layer: "search", traffic: "50%", variants: "variants:\n  - { name: only, weight: 100%, params: { ranking: neural } }\n"
            )
        let bundle = try Fixture.compile(yaml).bundle
        var table = [[0, 0], [0, 0]]
        for unit in Self.units(20_000) {
            let assignments = try bundle.assignments(units: ["user_id": unit], now: 0)
            let checkout = assignments.filter { $0.layer == "checkout" }
            #expect(checkout.count == 1, "every unit is in exactly one of a and b")
            let inA = checkout.first?.experiment == "a" ? 1 : 0
            let inS = assignments.contains { $0.experiment == "s" } ? 1 : 0
            table[inA][inS] += 1
        }
        // Chi-square test of independence (1 degree of freedom); 15 is far beyond p = 0.001 (10.8).
        let total = Double(table.joined().reduce(0, +))
        var chi = 0.0
        for i in 0..<2 {
            for j in 0..<2 {
                let expected = Double(table[i].reduce(0, +)) * Double(table[0][j] + table[1][j]) / total
                chi += pow(Double(table[i][j]) - expected, 2) / expected
            }
        }
        #expect(chi < 15, "layers look correlated: \(table)")
    }

    @Test func overridesWinOverBucketsHoldoutsAndStatus() throws {
        let yaml =
            Self.base
            + Self.experiment("paused-one", status: "paused", traffic: "10%", extra: "overrides:\n  treatment: [qa-paused]\n")
            + Self.experiment("draft-one", status: "draft", traffic: "10%", extra: "overrides:\n  treatment: [qa-draft]\n")
            + Self.experiment("done", status: "concluded", traffic: "10%", extra: "overrides:\n  treatment: [qa-done]\n")
            + "\n---\nkind: Holdout\nname: everyone\nunit: user_id\ntraffic: 100%\n"
        let bundle = try Fixture.compile(yaml).bundle
        let paused = try bundle.assignments(units: ["user_id": "qa-paused"], now: 0)
        #expect(paused == [Assignment(experiment: "paused-one", layer: "checkout", variant: "treatment", reason: .override)])
        let draft = try bundle.assignments(units: ["user_id": "qa-draft"], now: 0)
        #expect(draft == [Assignment(experiment: "draft-one", layer: "checkout", variant: "treatment", reason: .override)])
        #expect(try bundle.answerJSON(units: ["user_id": "qa-draft"], now: 0).contains(#""color":"red""#))
        // Concluded experiments have no overrides: the QA unit falls through (here, into the holdout or nothing).
        #expect(
            try bundle.assignments(units: ["user_id": "qa-done"], now: 0).allSatisfy { $0.experiment != "done" || $0.reason != .override })
    }

    @Test func holdoutsExcludeTheirShareFromCoveredLayersOnly() throws {
        let yaml =
            Self.base + Self.experiment("a", traffic: "100%")
            + Self.experiment(
                "s", layer: "search", traffic: "100%",
                variants: "variants:\n  - { name: only, weight: 100%, params: { ranking: neural } }\n")
            + "\n---\nkind: Holdout\nname: ten\nunit: user_id\ntraffic: 10%\nlayers: [checkout]\n"
        let bundle = try Fixture.compile(yaml).bundle
        var heldOut = 0
        for unit in Self.units(20_000) {
            let assignments = try bundle.assignments(units: ["user_id": unit], now: 0)
            let checkout = try #require(assignments.first { $0.layer == "checkout" })
            let search = try #require(assignments.first { $0.layer == "search" })
            #expect(search.reason == .split, "the holdout does not cover search")
            if checkout.reason == .holdout {
                heldOut += 1
                #expect(checkout.variant == nil)
                #expect(Bucketing.bucket(salt: "holdout:ten", unitID: unit) < 1_000)
            } else {
                #expect(Bucketing.bucket(salt: "holdout:ten", unitID: unit) >= 1_000)
            }
        }
        #expect(abs(Double(heldOut) / 20_000 - 0.10) < 0.009)
    }

    @Test func scheduleAndStatusGiveDefaultsWithTheirReason() throws {
        let yaml =
            Self.base
            + Self.experiment("windowed", traffic: "50%", extra: "start: 2026-12-01T00:00:00Z\nstop: 2026-12-31T00:00:00Z\n")
            + Self.experiment("paused", status: "paused", traffic: "50%")
        let bundle = try Fixture.compile(yaml).bundle
        let start: Int64 = 1_796_083_200  // 2026-12-01T00:00:00Z
        let stop: Int64 = 1_798_675_200  // 2026-12-31T00:00:00Z
        var seen: Set<String> = []
        for unit in Self.units(200) {
            for (now, expected) in [(start - 1, Reason.scheduled), (start, .split), (stop - 1, .split), (stop, .scheduled)] {
                let assignment = try #require(try bundle.assignments(units: ["user_id": unit], now: now).first)
                if assignment.experiment == "windowed" {
                    #expect(assignment.reason == expected, "\(unit) at \(now)")
                    seen.insert("windowed")
                } else {
                    #expect(assignment.reason == .paused)
                    #expect(try bundle.answerJSON(units: ["user_id": unit], now: now).contains(#""color":"blue""#))
                    seen.insert("paused")
                }
            }
        }
        #expect(seen == ["windowed", "paused"])
    }

    @Test func concludedExperimentsAreReportedUntilTheirBucketsAreReused() throws {
        let first = try Fixture.compile(Self.base + Self.experiment("old", traffic: "30%"))
        let second = try Fixture.compile(Self.base + Self.experiment("old", status: "concluded", traffic: "30%"), lock: first.output.lock)
        var concluded = 0
        for unit in Self.units(2_000) {
            let before = try first.bundle.assignments(units: ["user_id": unit], now: 0).first
            let after = try second.bundle.assignments(units: ["user_id": unit], now: 0).first
            #expect((before != nil) == (after != nil), "same units, same buckets")
            if let after {
                #expect(after.reason == .concluded && after.variant == nil)
                concluded += 1
            }
        }
        #expect(concluded > 400)
        // A new experiment takes never-used buckets first: none of old's units are in it.
        let third = try Fixture.compile(
            Self.base + Self.experiment("old", status: "concluded", traffic: "30%") + Self.experiment("new", traffic: "70%"),
            lock: second.output.lock)
        for unit in Self.units(2_000) {
            let before = try second.bundle.assignments(units: ["user_id": unit], now: 0).first
            let after = try third.bundle.assignments(units: ["user_id": unit], now: 0).first
            if before != nil {
                #expect(after?.experiment == "old" && after?.reason == .concluded)
            } else {
                #expect(after?.experiment == "new")
            }
        }
    }

    @Test func segmentsWithIDListsRestrictEnrollment() throws {
        let yaml =
            Self.base + "\n---\nkind: Segment\nname: staff\nunit: user_id\nids: [u1, u2, u3]\n"
            + Self.experiment("a", traffic: "100%", extra: "segments: [staff]\n")
        let bundle = try Fixture.compile(yaml).bundle
        for unit in Self.units(50) {
            let assignment = try #require(try bundle.assignments(units: ["user_id": unit], now: 0).first)
            #expect(assignment.reason == (["u1", "u2", "u3"].contains(unit) ? .split : .targetingMiss), "\(unit)")
        }
    }

    @Test func largeSegmentsAreSearchedInPlace() throws {
        let directory = URL(fileURLWithPath: Scratch.folder("segment"))
        defer { try? FileManager.default.removeItem(at: directory) }
        let ids = (0..<200_000).map { "member-\($0 * 3)" }
        try ("# members\n" + ids.joined(separator: "\n") + "\n").write(
            to: directory.appendingPathComponent("members.txt"), atomically: true, encoding: .utf8)
        let yaml =
            Self.base + "\n---\nkind: Segment\nname: members\nunit: user_id\nidsFile: members.txt\n"
            + Self.experiment("a", traffic: "100%", extra: "segments: [members]\n")
        let bundle = try Fixture.compile([directory.appendingPathComponent("main.yaml").path: yaml]).bundle
        #expect(bundle.contents.segments.first?.ids == 200_000)
        for i in stride(from: 0, to: 600_000, by: 997) {
            let reason = try #require(try bundle.assignments(units: ["user_id": "member-\(i)"], now: 0).first).reason
            #expect(reason == (i % 3 == 0 ? .split : .targetingMiss), "member-\(i)")
        }
    }

    @Test func jsonRequestsAreParsedByDeclaredType() throws {
        let bundle = try Fixture.compile(Self.base + Self.experiment("a", traffic: "100%")).bundle
        var input = EvaluationInput(for: bundle)
        let request =
            #"{"units":{"user_id":"\u0075\u0031","unknown_unit":"x"},"attributes":{"country":"US","age":"42","beta":true,"app_version":"5.2.0-rc.1","tags":["a","b"],"other":{"x":[1,2]}},"id":17}"#
        try Array(request.utf8).withUnsafeBytes { try input.setJSON($0, bundle: bundle) }
        var outcomes: [Outcome] = []
        bundle.evaluate(input, now: 0, into: &outcomes)
        var viaJSON: [UInt8] = []
        bundle.writeAnswer(outcomes, into: &viaJSON)
        let viaText = try bundle.answerJSON(units: ["user_id": "u1"], attributes: ["age": "42"], now: 0)
        #expect(String(decoding: viaJSON, as: UTF8.self) == viaText)
    }

    @Test(arguments: [
        (#"{"units":{"user_id":5}}"#, RequestError.Code.badUnit),
        (#"{"units":{"user_id":"u1"},"attributes":{"tags":[1,]}}"#, .malformedJSON),
        (#"{"units":{"user_id":"u1"},"attributes":{"age":tru}}"#, .malformedJSON),
        (#"{"units":{"user_id":""}}"#, .badUnit),
        (#"{"units":{"user_id":"u1"}} trailing"#, .malformedJSON),
        (#"{"units":{"user_id":"\ud800"}}"#, .malformedJSON),
        (#"{"units":"#, .malformedJSON),
        ("", .malformedJSON),
    ])
    func badJSONRequestsAreRefusedWithACode(_ request: String, _ code: RequestError.Code) throws {
        let bundle = try Fixture.compile(Self.base + Self.experiment("a", traffic: "100%")).bundle
        var input = EvaluationInput(for: bundle)
        do {
            try Array(request.utf8).withUnsafeBytes { try input.setJSON($0, bundle: bundle) }
            Issue.record("accepted \(request)")
        } catch let error as RequestError {
            #expect(error.code == code, "\(request): \(error.message)")
        }
    }

    @Test(
        "an attribute of the wrong type is present but unusable: rules reading it do not match, the rest evaluates",
        arguments: [
            ("age >= 18", #""age":"old""#, Reason.targetingMiss),
            ("age >= 18", #""age":true"#, .targetingMiss),
            ("age >= 18", #""age":{"n":18}"#, .targetingMiss),
            ("!(age >= 18)", #""age":"old""#, .split),
            ("has(age)", #""age":[18]"#, .split),
            ("has(age) && age != 3", #""age":"4""#, .split),
            ("beta", #""beta":"maybe""#, .targetingMiss),
            ("beta == false", #""beta":0"#, .targetingMiss),
            ("app_version >= \"1.0.0\"", #""app_version":-5"#, .targetingMiss),
            ("app_version >= \"1.0.0\"", #""app_version":5e0"#, .targetingMiss),
            ("app_version >= \"1.0.0\"", #""app_version":"five""#, .targetingMiss),
            ("tags contains \"a\"", #""tags":["a",1,"b"]"#, .targetingMiss),
            ("tags contains \"a\"", #""tags":"a""#, .split),
            ("country == \"US\"", #""country":["US"]"#, .targetingMiss),
            ("country != \"US\"", #""country":7"#, .targetingMiss),
        ])
    func wronglyTypedAttributesAreUnusable(targeting: String, attribute: String, reason: Reason) throws {
        let yaml =
            Self.base + Self.experiment("a", traffic: "100%", extra: "targeting: '\(targeting)'\n")
            + Self.experiment(
                "s", layer: "search", traffic: "100%", extra: "targeting: 'country == \"US\" || !has(country)'\n",
                variants: "variants:\n  - { name: only, weight: 100%, params: { ranking: neural } }\n")
        let bundle = try Fixture.compile(yaml).bundle
        var input = EvaluationInput(for: bundle)
        let request = #"{"units":{"user_id":"u1"},"attributes":{"# + attribute + #"}}"#
        try Array(request.utf8).withUnsafeBytes { try input.setJSON($0, bundle: bundle) }
        var outcomes: [Outcome] = []
        bundle.evaluate(input, now: 0, into: &outcomes)
        let reasons = Dictionary(uniqueKeysWithValues: outcomes.map { (bundle.assignment(for: $0).experiment, $0.reason) })
        #expect(reasons["a"] == reason, "\(targeting) with \(attribute)")
        // The experiment that reads another attribute is untouched (country is absent or US).
        let other = attribute.hasPrefix(#""country""#) ? Reason.targetingMiss : .split
        #expect(reasons["s"] == other, "\(attribute)")
        let wellTyped = attribute.hasSuffix(#""a""#) || attribute.hasSuffix(#""4""#)
        let name = String(attribute.dropFirst().prefix { $0 != "\"" })
        #expect(input.ignoredAttributes.map { bundle.attributeName($0.attribute) } == (wellTyped ? [] : [name]))

        // The answer names what was ignored, after the usual document.
        var answer: [UInt8] = []
        bundle.writeAnswer(outcomes, input: input, into: &answer)
        var plain: [UInt8] = []
        bundle.writeAnswer(outcomes, into: &plain)
        if wellTyped {
            #expect(answer == plain)
        } else {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(answer)) as? [String: Any])
            let ignored = try #require(object["ignored_attributes"] as? [[String: String]])
            #expect(ignored.map { $0["name"] } == [name])
            #expect(ignored.first?["reason"]?.hasPrefix("expected ") == true)
            #expect(Array(answer.prefix(plain.count - 1)) == Array(plain.dropLast()))
        }
    }

    @Test(
        "a JSON number for a semver attribute is a version read from its text as written",
        arguments: [
            ("1.2", "app_version == \"1.2.0\"", true),
            ("1.10", "app_version == \"1.10.0\"", true),
            ("1.10", "app_version > \"1.9.0\"", true),
            ("1.02", "app_version == \"1.2.0\"", true),
            ("5", "app_version == \"5.0.0\"", true),
            ("0.5", "app_version in semver(\"^0.5\")", true),
            ("1.2", "app_version in semver(\"~1.1\")", false),
        ])
    func jsonNumbersAreVersions(number: String, targeting: String, matches: Bool) throws {
        let yaml = Self.base + Self.experiment("a", traffic: "100%", extra: "targeting: '\(targeting)'\n")
        let bundle = try Fixture.compile(yaml).bundle
        var input = EvaluationInput(for: bundle)
        for request in [
            #"{"units":{"user_id":"u1"},"attributes":{"app_version":"# + number + "}}",
            #"{"units":{"user_id":"u1"},"attributes":{"app_version": "# + number + " }}",
        ] {
            try Array(request.utf8).withUnsafeBytes { try input.setJSON($0, bundle: bundle) }
            #expect(input.ignoredAttributes.isEmpty, "\(request)")
            var outcomes: [Outcome] = []
            bundle.evaluate(input, now: 0, into: &outcomes)
            let reason = outcomes.first { bundle.assignment(for: $0).experiment == "a" }?.reason
            #expect(reason == (matches ? .split : .targetingMiss), "\(request) with \(targeting)")
            #expect(outcomes == ReferenceEvaluator(bundle: bundle).evaluate(input, now: 0))
        }
    }

    @Test func theReferenceEvaluatorAgreesOnUnusableAttributes() throws {
        let yaml = Self.base + Self.experiment("a", traffic: "100%", extra: "targeting: 'has(age) && !(age < 3) || beta'\n")
        let bundle = try Fixture.compile(yaml).bundle
        var input = EvaluationInput(for: bundle)
        for body in [#""age":"x","beta":true"#, #""age":"x","beta":"x""#, #""age":5"#, #""beta":[true]"#] {
            let request = #"{"units":{"user_id":"u1"},"attributes":{"# + body + "}}"
            try Array(request.utf8).withUnsafeBytes { try input.setJSON($0, bundle: bundle) }
            var outcomes: [Outcome] = []
            bundle.evaluate(input, now: 0, into: &outcomes)
            #expect(outcomes == ReferenceEvaluator(bundle: bundle).evaluate(input, now: 0), "\(body)")
        }
        // Each attribute is listed once, and a reused input forgets the last request's.
        let twice = #"{"units":{"user_id":"u1"},"attributes":{"age":"x","age":"y","beta":1}}"#
        try Array(twice.utf8).withUnsafeBytes { try input.setJSON($0, bundle: bundle) }
        #expect(input.ignoredAttributes.map(\.expected) == [.number, .bool])
        try Array(#"{"units":{"user_id":"u1"}}"#.utf8).withUnsafeBytes { try input.setJSON($0, bundle: bundle) }
        #expect(input.ignoredAttributes.isEmpty)
    }

    @Test func answersAreValidJSONWithEveryParameter() throws {
        let yaml = Self.base + Self.experiment("a", traffic: "60%")
        let bundle = try Fixture.compile(yaml).bundle
        for unit in Self.units(500) {
            let answer = try bundle.answerJSON(units: ["user_id": unit, "device_id": "d-\(unit)"], now: 0)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any])
            #expect(object["version"] as? Int == 1)
            let params = try #require(object["params"] as? [String: Any])
            #expect(Set(params.keys) == ["color", "size", "ranking", "dark_mode"])
        }
    }
}
