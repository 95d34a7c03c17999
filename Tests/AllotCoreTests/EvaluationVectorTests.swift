import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

/// `Tests/Vectors/evaluation.json`: a language-neutral suite for SDKs. Each case holds experiment
/// sources (and a lock when allocation history matters), the bundle they compile to (signed with a
/// fixed-seed key, so it is byte-stable), requests and the exact JSON answers. An SDK loads the
/// bundle with the public key and must produce the answers byte for byte. This test checks both
/// that the compiler still produces the same bundle and that the evaluator still gives the
/// answers. `ALLOT_UPDATE_VECTORS=1` regenerates the file; review the diff before committing.
struct EvaluationVectorTests {
    struct File: Codable {
        var description: String
        var publicKey: String
        var cases: [Case]
    }
    struct Case: Codable {
        var name: String
        var sources: [String: String]
        var lock: String?
        var bundle: String
        var requests: [Request]
    }
    struct Request: Codable {
        var units: [String: String]
        var attributes: [String: String]
        var now: Int64
        var answer: String
    }

    static let key = try! SigningKey(seed: Array(0..<32))

    /// Sources and requests; answers and bundles are derived.
    static let definitions:
        [(
            name: String, sources: [String: String], previous: [String: String]?,
            requests: [(units: [String: String], attributes: [String: String], now: Int64)]
        )] = {
            let layers = """
                kind: Attributes
                attributes:
                  country: { type: string, values: [US, CA, DE] }
                  app_version: semver
                  age: number
                  beta: bool
                  tags: list
                  email: string
                ---
                kind: Layer
                name: checkout
                unit: user_id
                params:
                  color: { type: string, default: blue }
                  limit: { type: number, default: 10 }
                  theme: { type: json, default: { dark: false, accent: "#00f" } }
                ---
                kind: Layer
                name: devices
                unit: device_id
                params:
                  fast_start: { type: bool, default: false }

                """
            let users = (0..<24).map { ["user_id": "user-\($0)"] } + [["user_id": "qa-1"], ["device_id": "d1"], [:]]
            func plain(_ units: [[String: String]], _ attributes: [String: String] = [:], now: Int64 = 1_800_000_000) -> [(
                [String: String], [String: String], Int64
            )] {
                units.map { ($0, attributes, now) }
            }
            let split =
                layers + """
                    ---
                    kind: Experiment
                    name: color
                    layer: checkout
                    owner: o@example.com
                    status: running
                    traffic: 60%
                    variants:
                      - { name: control, weight: 40% }
                      - { name: red, weight: 35%, params: { color: red, limit: 12.5 } }
                      - { name: dark, weight: 25%, params: { theme: { dark: true, accent: "#fff" } } }
                    overrides: { red: [qa-1] }
                    ---
                    kind: Experiment
                    name: fast
                    layer: devices
                    owner: o@example.com
                    status: running
                    traffic: 100%
                    variants: [ { name: on, weight: 50%, params: { fast_start: true } }, { name: off, weight: 50% } ]
                    """
            let targeted =
                layers + """
                    ---
                    kind: Segment
                    name: staff
                    unit: user_id
                    ids: [user-3, user-5]
                    rule: email endsWith "@example.com"
                    ---
                    kind: Experiment
                    name: targeted
                    layer: checkout
                    owner: o@example.com
                    status: running
                    traffic: 100%
                    targeting: (country in ["US", "CA"] && app_version >= "5.2.0-beta.2" && age < 40) || in segment("staff") || "vip" in tags || beta
                    variants: [ { name: a, weight: 50%, params: { color: green } }, { name: b, weight: 50%, params: { color: pink } } ]
                    """
            let targetedRequests: [([String: String], [String: String], Int64)] =
                plain([["user_id": "user-1"]], ["country": "US", "app_version": "5.2.0", "age": "30"])
                + plain([["user_id": "user-1"]], ["country": "US", "app_version": "5.2.0-beta.1", "age": "30"])
                + plain([["user_id": "user-1"]], ["country": "DE", "app_version": "6.0.0", "age": "30"])
                + plain([["user_id": "user-1"]], ["country": "CA", "app_version": "5.10.0", "age": "40"])
                + plain([["user_id": "user-3"]], [:]) + plain([["user_id": "user-4"]], ["email": "x@example.com"])
                + plain([["user_id": "user-6"]], ["tags": "a,vip"]) + plain([["user_id": "user-7"]], ["beta": "true"])
                + plain([["user_id": "user-8"]], ["beta": "false", "tags": ""])
            let lifecycle =
                layers + """
                    ---
                    kind: Experiment
                    name: windowed
                    layer: checkout
                    owner: o@example.com
                    status: running
                    start: 2027-01-01T00:00:00Z
                    stop: 2027-02-01T00:00:00Z
                    traffic: 40%
                    variants: [ { name: a, weight: 100%, params: { color: green } } ]
                    ---
                    kind: Experiment
                    name: paused
                    layer: checkout
                    owner: o@example.com
                    status: paused
                    traffic: 20%
                    variants: [ { name: a, weight: 100%, params: { color: grey } } ]
                    ---
                    kind: Experiment
                    name: ended
                    layer: checkout
                    owner: o@example.com
                    status: concluded
                    traffic: 20%
                    variants: [ { name: a, weight: 100%, params: { color: black } } ]
                    ---
                    kind: Holdout
                    name: hold
                    unit: user_id
                    traffic: 10%
                    """
            let ranges =
                layers + """
                    ---
                    kind: Experiment
                    name: ranged
                    layer: checkout
                    owner: o@example.com
                    status: running
                    traffic: 100%
                    targeting: app_version in semver("^5.2") || (app_version in semver("~0.9.1") && app_version not in semver("^0.9.3"))
                    variants: [ { name: a, weight: 50%, params: { color: green } }, { name: b, weight: 50%, params: { color: pink } } ]
                    """
            let rangeRequests =
                ["5.2.0", "5.1.9", "5.99.0-rc.1", "6.0.0-0", "6.0.0", "0.9.1", "0.9.2", "0.9.3", "0.10.0", "v5.2", "0.9.0-rc.1"]
                .flatMap { plain([["user_id": "user-1"]], ["app_version": $0]) } + plain([["user_id": "user-1"]])
            let folded =
                layers + """
                    ---
                    kind: Experiment
                    name: folded
                    layer: checkout
                    owner: o@example.com
                    status: running
                    traffic: 100%
                    targeting: lower(email) endsWith "@example.com" || lower(email) in ["root", "élan"] || lower(email) contains "+qa"
                    variants: [ { name: a, weight: 50%, params: { color: green } }, { name: b, weight: 50%, params: { color: pink } } ]
                    """
            let foldedRequests =
                [
                    "x@example.com", "X@EXAMPLE.COM", "x@example.org", "ROOT", "Root2", "ÉLAN", "éLAN", "a+QA@x", "a+q@x", "",
                ].flatMap { plain([["user_id": "user-1"]], ["email": $0]) } + plain([["user_id": "user-1"]])
            let networks =
                """
                kind: Attributes
                attributes:
                  client_ip: ip
                ---
                kind: Layer
                name: checkout
                unit: user_id
                params:
                  color: { type: string, default: blue }
                ---
                kind: Experiment
                name: network
                layer: checkout
                owner: o@example.com
                status: running
                traffic: 100%
                targeting: client_ip in cidr("10.0.0.0/8", "2001:db8::/32", "192.0.2.1") && client_ip not in cidr("10.9.0.0/16")
                variants: [ { name: a, weight: 50%, params: { color: green } }, { name: b, weight: 50%, params: { color: pink } } ]
                """
            let networkRequests =
                [
                    "10.1.2.3", "10.9.1.1", "11.0.0.0", "::ffff:10.1.2.3", "::ffff:a01:203", "2001:db8::1", "2001:DB8:FFFF::",
                    "2001:db9::", "192.0.2.1", "192.0.2.2", "0.0.0.0", "::",
                ].flatMap { plain([["user_id": "user-1"]], ["client_ip": $0]) } + plain([["user_id": "user-1"]])
            let timed =
                """
                kind: Attributes
                attributes:
                  signup: datetime
                ---
                kind: Layer
                name: checkout
                unit: user_id
                params:
                  color: { type: string, default: blue }
                ---
                kind: Experiment
                name: timed
                layer: checkout
                owner: o@example.com
                status: running
                traffic: 100%
                targeting: now() > "2026-12-01T10:00:00+01:00" && now() < "2026-12-02" && (signup >= "2026-11-01" || !has(signup))
                variants: [ { name: a, weight: 50%, params: { color: green } }, { name: b, weight: 50%, params: { color: pink } } ]
                """
            let nine: Int64 = 1_796_115_600  // 2026-12-01T09:00:00Z
            let timedRequests =
                [nine - 1, nine, nine + 1, nine + 15 * 3600 - 1, nine + 15 * 3600].flatMap { plain([["user_id": "user-1"]], now: $0) }
                + ["2026-10-31T23:59:59Z", "2026-11-01T00:00:00Z", "2026-11-01T01:00:00+02:00", "2026-11-01T00:00:00.5Z"].flatMap {
                    plain([["user_id": "user-1"]], ["signup": $0], now: nine + 60)
                }
            let patterned =
                layers + """
                    ---
                    kind: Experiment
                    name: patterned
                    layer: checkout
                    owner: o@example.com
                    status: running
                    traffic: 100%
                    targeting: 'email matches "^[a-z]+\\\\.[a-z]+@(corp|lab)\\\\.example$" || email matches "\\\\+qa\\\\d{2}@"'
                    variants: [ { name: a, weight: 50%, params: { color: green } }, { name: b, weight: 50%, params: { color: pink } } ]
                    """
            let patternedRequests = [
                "ann.lee@corp.example", "ann.lee@corp.example.org", "ann@corp.example", "Ann.Lee@lab.example", "x+qa12@y", "x+qa1@y", "",
            ].flatMap { plain([["user_id": "user-1"]], ["email": $0]) }
            let lifecycleBefore = lifecycle.replacingOccurrences(of: "status: concluded", with: "status: running")
            let times: [Int64] = [1_798_761_599, 1_798_761_600, 1_801_439_999, 1_801_440_000]
            let lifecycleRequests = times.flatMap { now in plain((0..<12).map { ["user_id": "user-\($0)"] }, now: now) }
            return [
                ("split-overrides-json-two-unit-types", ["experiments/main.yaml": split], nil, plain(users)),
                ("targeting-segments", ["experiments/main.yaml": targeted], nil, targetedRequests),
                (
                    "schedule-paused-concluded-holdout", ["experiments/main.yaml": lifecycle], ["experiments/main.yaml": lifecycleBefore],
                    lifecycleRequests
                ),
                ("targeting-version-ranges", ["experiments/main.yaml": ranges], nil, rangeRequests),
                ("targeting-case-insensitive", ["experiments/main.yaml": folded], nil, foldedRequests),
                ("targeting-ip-networks", ["experiments/main.yaml": networks], nil, networkRequests),
                ("targeting-time", ["experiments/main.yaml": timed], nil, timedRequests),
                ("targeting-regex", ["experiments/main.yaml": patterned], nil, patternedRequests),
            ]
        }()

    static func compile(_ sources: [String: String], lock: AllocationLock) throws -> (Compiler.Output, [UInt8]) {
        let files = sources.keys.sorted().map { SourceFile(path: $0, text: sources[$0]!) }
        let output = try Compiler.compile(files: files, lock: lock, version: 42, createdAt: 1_790_000_000).get()
        return (output, try BundleEnvelope.seal(payload: output.payload, version: 42, createdAt: 1_790_000_000, key: key))
    }

    /// Every definition under bucketing scheme 1 (payload format 1), then again under scheme 2
    /// (payload format 2, the case name suffixed `-scheme2`, its lock always shown).
    static func generate() throws -> File {
        var cases: [Case] = []
        for (definition, scheme) in BucketingScheme.allCases.flatMap({ scheme in definitions.map { ($0, scheme) } }) {
            var lock = AllocationLock(bucketingScheme: scheme)
            if let previous = definition.previous { lock = try compile(previous, lock: lock).0.lock }
            let (output, envelope) = try compile(definition.sources, lock: lock)
            _ = output
            let bundle = try LoadedBundle.open(envelope: envelope, trustedKeys: [key.publicKey])
            let requests = try definition.requests.map { request in
                Request(
                    units: request.units, attributes: request.attributes, now: request.now,
                    answer: try bundle.answerJSON(units: request.units, attributes: request.attributes, now: request.now))
            }
            cases.append(
                Case(
                    name: definition.name + (scheme == .saltedID ? "" : "-scheme\(scheme.rawValue)"), sources: definition.sources,
                    lock: definition.previous == nil && scheme == .saltedID ? nil : lock.text,
                    bundle: Base64.encode(envelope), requests: requests))
        }
        return File(
            description:
                "Load `bundle` (base64) trusting `publicKey` (allot-ed25519-public:...), evaluate each request at `now` (unix seconds) "
                + "with `units` and `attributes` (attribute text parsed by declared type; lists comma-separated), and compare the JSON answer "
                + "byte for byte. `sources` (and `lock`, the allocation lock compiled against) show where each bundle came from. "
                + "Bundles of payload format 1 use bucketing scheme 1, those of payload format 2 (cases named -scheme2, whose lock "
                + "says bucketing-scheme: 2) scheme 2; docs/bundle-format.md section 3 defines both.",
            publicKey: key.publicKey.fileText.trimmingCharacters(in: .newlines), cases: cases)
    }

    @Test func vectorsHold() throws {
        let url = Repository.root.appendingPathComponent("Tests/Vectors/evaluation.json")
        let generated = try Self.generate()
        if ProcessInfo.processInfo.environment["ALLOT_UPDATE_VECTORS"] == "1" {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try (String(decoding: try encoder.encode(generated), as: UTF8.self) + "\n").write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let stored = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        #expect(stored.cases.count == generated.cases.count)
        let key = try PublicKey(text: stored.publicKey)
        var answers = 0
        var enrolled = 0
        for (vector, fresh) in zip(stored.cases, generated.cases) {
            #expect(vector.bundle == fresh.bundle, "\(vector.name): the compiler no longer produces the same bundle")
            let bundle = try LoadedBundle.open(envelope: Base64.decode(vector.bundle)!, trustedKeys: [key])
            for request in vector.requests {
                let answer = try bundle.answerJSON(units: request.units, attributes: request.attributes, now: request.now)
                #expect(answer == request.answer, "\(vector.name) \(request.units) at \(request.now)")
                answers += 1
                if answer.contains(#""reason":"split""#) { enrolled += 1 }
            }
        }
        #expect(answers > 70)
        #expect(enrolled > 20, "the vectors should exercise real splits")
    }

    /// `scripts/check-evaluation-vectors.py` reads the checked-in bundles with its own parser and
    /// recomputes every layer, holdout and variant bucket with its own implementation of both
    /// bucketing schemes (the `xxhash` PyPI package): the answers must agree.
    @Test func anIndependentImplementationAgreesOnEveryBucket() async throws {
        let script = Repository.root.appendingPathComponent("scripts/check-evaluation-vectors.py").path
        let result = try await runProcess(which("python3") ?? "/usr/bin/python3", [script])
        #expect(result.status == 0, "\(result.output)")
        #expect(
            result.stdout.contains("-scheme2: scheme 2,") && result.stdout.contains("targeting-segments: scheme 1,"), "\(result.stdout)")
    }
}

/// The fuzzer's seed corpus (`Tests/Fuzz/corpus`), made from the vector bundles: each bundle as
/// an envelope seed (first byte 0) and its payload as a payload seed (first byte 1), plus hostile
/// payloads the validator must refuse (`payload-short-parameter-index`: a PARAMETER_INDEX section
/// one entry short of the parameter count). The checked-in corpus must be what this makes; with
/// `ALLOT_WRITE_FUZZ_SEEDS=1` the test rewrites it instead of comparing.
struct FuzzSeedTests {
    static func seeds() throws -> [(name: String, bytes: [UInt8])] {
        let generated = try EvaluationVectorTests.generate()
        var seeds: [(String, [UInt8])] = []
        var payloads: [[UInt8]] = []
        for (index, vector) in generated.cases.enumerated() {
            let envelope = Base64.decode(vector.bundle)!
            seeds.append(("envelope-\(index)", [0] + envelope))
            let opened = try envelope.withUnsafeBytes { try BundleEnvelope.open($0, trustedKeys: [EvaluationVectorTests.key.publicKey]) }
            seeds.append(("payload-\(index)", [1] + opened.payload))
            payloads.append(opened.payload)
        }
        // The first payload with parameters, its PARAMETER_INDEX (section 11) one entry short.
        let payload = try #require(
            payloads.first { bytes in bytes.withUnsafeBytes { (try? Payload.validate($0))?.parameterCount ?? 0 } > 0 })
        var short = payload
        let entry = PayloadFormat.headerLength + Int(PayloadFormat.Section.parameterIndex.rawValue - 1) * PayloadFormat.directoryEntryLength
        short[entry + 8] &-= 4  // the length's low byte; a section of 1-63 entries does not borrow
        #expect(short.withUnsafeBytes { (try? Payload.validate($0)) == nil }, "the short parameter index must be refused")
        seeds.append(("payload-short-parameter-index", [1] + short))
        return seeds
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["ALLOT_WRITE_FUZZ_SEEDS"] == "1", "set ALLOT_WRITE_FUZZ_SEEDS=1 to rewrite"))
    func writeSeeds() throws {
        let directory = Repository.root.appendingPathComponent("Tests/Fuzz/corpus")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for seed in try Self.seeds() { try Data(seed.bytes).write(to: directory.appendingPathComponent(seed.name)) }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["ALLOT_WRITE_FUZZ_SEEDS"] != "1"))
    func theCheckedInCorpusIsCurrent() throws {
        let directory = Repository.root.appendingPathComponent("Tests/Fuzz/corpus")
        let seeds = try Self.seeds()
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(names == seeds.map(\.name).sorted(), "run ALLOT_WRITE_FUZZ_SEEDS=1 swift test --filter FuzzSeedTests")
        for seed in seeds {
            let stored = try? Data(contentsOf: directory.appendingPathComponent(seed.name))
            #expect(
                stored.map(Array.init) == seed.bytes,
                "\(seed.name) is stale: run ALLOT_WRITE_FUZZ_SEEDS=1 swift test --filter FuzzSeedTests")
        }
    }
}
