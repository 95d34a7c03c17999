import AllotCompiler
import AllotCore
import Foundation

/// Evaluating one unit against 1,000 experiments in 50 layers, with and without writing the JSON
/// answer, against the floor of the hashes alone.
enum EvaluationBenchmark {
    /// How a loop writes each answer.
    enum AnswerWriting {
        /// Not at all: `evaluate-loop`.
        case none
        /// Appended to an array (`writeAnswer(_:into:)`): `answer-loop`.
        case array
        /// In place into room for its bound (`writeAnswer(_:to:)`), as `allot serve` writes it,
        /// without the array's zero fill and give-back: `answer-in-place-loop`.
        case inPlace
    }

    /// `evaluate-loop N`: builds the bundle, then N evaluations, for instruction counting: run
    /// twice under callgrind with different N and divide the difference
    /// (`Benchmarks/count-instructions.sh` does that). `answer-loop N` and `answer-in-place-loop N`
    /// also write each JSON answer (`AnswerWriting`).
    static func loop(count: Int, answers: AnswerWriting = .none) throws {
        let bundle = try syntheticBundle(targeting: TargetingSupport.available)
        let inputs = try units(256, bundle: bundle)
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(64)
        var output: [UInt8] = []
        output.reserveCapacity(8192)
        let room = UnsafeMutableRawBufferPointer.allocate(byteCount: bundle.answerBound(64), alignment: 16)
        defer { room.deallocate() }
        var total = 0
        for i in 0..<count {
            bundle.evaluate(inputs[i & 255], now: 1_800_000_000, into: &outcomes)
            total &+= outcomes.count
            switch answers {
            case .none:
                break
            case .array:
                output.removeAll(keepingCapacity: true)
                bundle.writeAnswer(outcomes, into: &output)
                total &+= output.count
            case .inPlace:
                guard let written = bundle.writeAnswer(outcomes, to: room) else { fatalError("an answer is longer than its bound") }
                total &+= written &+ Int(room[written &- 1])
            }
        }
        print(total)
    }

    /// The bucketing scheme of the benchmark's bundle: `ALLOT_BENCH_BUCKETING_SCHEME` (1 or 2),
    /// by default scheme 2, what `allot compile` gives a project without a lock.
    static var scheme: BucketingScheme {
        ProcessInfo.processInfo.environment["ALLOT_BENCH_BUCKETING_SCHEME"].flatMap { Int($0) }.flatMap(BucketingScheme.init(rawValue:))
            ?? BucketingScheme.newProjectDefault
    }

    /// The benchmark's bundle: 50 layers of 20 experiments (a third targeted when targeting is
    /// available), compiled under `scheme`, sealed and opened as a server would.
    static func syntheticBundle(targeting: Bool) throws -> LoadedBundle {
        let files = SyntheticProject.files(layers: 50, experimentsPerLayer: 20, targeting: targeting)
        let compiled = try Compiler.compile(
            files: files, lock: AllocationLock(bucketingScheme: scheme), version: 1, createdAt: 0, threads: 1
        ).get()
        let key = SigningKey.generate()
        let envelope = try BundleEnvelope.seal(payload: compiled.payload, version: 1, createdAt: 0, key: key)
        return try LoadedBundle.open(envelope: envelope, trustedKeys: [key.publicKey])
    }

    /// `count` distinct users with attributes that cycle through the targeted values.
    static func units(_ count: Int, bundle: LoadedBundle) throws -> [EvaluationInput] {
        try (0..<count).map { i in
            var input = EvaluationInput(for: bundle)
            try input.set(
                units: ["user_id": "user-\(i * 7919)"],
                attributes: ["country": ["US", "DE", "CA", "JP"][i % 4], "app_version": "5.\(i % 4).0", "platform": "ios"], bundle: bundle)
            return input
        }
    }

    static func run(quick: Bool) throws {
        let targeting = TargetingSupport.available
        let bundle = try syntheticBundle(targeting: targeting)
        let unitCount = 4096
        let inputs = try units(unitCount, bundle: bundle)
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(64)
        var output: [UInt8] = []
        output.reserveCapacity(8192)
        let iterations = quick ? 20_000 : 200_000
        var index = 0
        var enrolled = 0

        let evaluate = measure(iterations: iterations) {
            bundle.evaluate(inputs[index & (unitCount - 1)], now: 1_800_000_000, into: &outcomes)
            enrolled &+= outcomes.count
            index &+= 1
        }
        let answer = measure(iterations: iterations) {
            bundle.evaluate(inputs[index & (unitCount - 1)], now: 1_800_000_000, into: &outcomes)
            output.removeAll(keepingCapacity: true)
            bundle.writeAnswer(outcomes, into: &output)
            index &+= 1
        }

        // The floor: one layer hash and one variant hash per layer, nothing else.
        let layerSalts = (0..<50).map { Array("layer-\($0)".utf8) }
        let experimentSalts = (0..<50).map { Array("exp-\($0)-0".utf8) }
        let ids = (0..<unitCount).map { Array("user-\($0 * 7919)".utf8) }
        var sink = 0
        let floor = measure(iterations: iterations) {
            ids[index & (unitCount - 1)].withUnsafeBytes { id in
                for salt in 0..<50 {
                    sink &+= layerSalts[salt].withUnsafeBytes { Bucketing.bucket(salt: $0, unitID: id) }
                    sink &+= experimentSalts[salt].withUnsafeBytes { Bucketing.bucket(salt: $0, unitID: id) }
                }
            }
            index &+= 1
        }

        // A tighter floor: the same 100 hashes with the evaluator's key layout (the id written
        // once per op at the end of a stack buffer, each salt copied in front of it), with no
        // closures or arrays per hash. What is left above it is the evaluator's own work.
        let saltBytes = (0..<50).flatMap { [layerSalts[$0], experimentSalts[$0]] }
        let flatSalts = saltBytes.flatMap { $0 }
        var saltOffsets: [Int] = []
        for salt in saltBytes { saltOffsets.append((saltOffsets.last ?? 0) + salt.count) }
        let tightFloor = measure(iterations: iterations) {
            let id = ids[index & (unitCount - 1)]
            withUnsafeTemporaryAllocation(byteCount: 1024, alignment: 16) { scratch in
                let base = scratch.baseAddress!
                let separator = 1024 - id.count - 1
                id.withUnsafeBytes { (base + separator + 1).copyMemory(from: $0.baseAddress!, byteCount: id.count) }
                base.storeBytes(of: 0, toByteOffset: separator, as: UInt8.self)
                flatSalts.withUnsafeBytes { salts in
                    var start = 0
                    for end in saltOffsets {
                        let length = end - start
                        (base + separator - length).copyMemory(from: salts.baseAddress! + start, byteCount: length)
                        let key = UnsafeRawBufferPointer(start: base + separator - length, count: length + 1 + id.count)
                        sink &+= Bucketing.bucket(forHash: XXH3.hash64(key))
                        start = end
                    }
                }
            }
            index &+= 1
        }

        // Scheme 2's floor: one XXH3-128 of the id, then the same 100 buckets from the digest
        // under precomputed salt keys.
        let saltKeys = saltBytes.map { salt in salt.withUnsafeBytes { SaltKey(salt: $0) } }
        let digestFloor = measure(iterations: iterations) {
            let digest = ids[index & (unitCount - 1)].withUnsafeBytes { UnitDigest(id: $0) }
            saltKeys.withUnsafeBufferPointer { keys in
                for key in keys { sink &+= Bucketing.bucket(forHash: key.hash(digest)) }
            }
            index &+= 1
        }

        var json: [UInt8] = []
        let request = Array(
            #"{"units":{"user_id":"user-424242"},"attributes":{"country":"US","app_version":"5.2.0","platform":"ios"}}"#.utf8)
        var parsed = EvaluationInput(for: bundle)
        let parse = measure(iterations: iterations) {
            request.withUnsafeBytes { try? parsed.setJSON($0, bundle: bundle) }
            bundle.evaluate(parsed, now: 1_800_000_000, into: &outcomes)
            json.removeAll(keepingCapacity: true)
            bundle.writeAnswer(outcomes, into: &json)
        }

        let layers = bundle.payload.layerCount
        let experiments = bundle.payload.experimentCount
        report([
            "name": "evaluate_all_layers", "ns_per_op": evaluate.nsPerOp, "allocations_per_op": evaluate.allocationsPerOp ?? -1,
            "layers": layers, "experiments": experiments, "targeting": targeting ? "yes" : "no",
            "bucketing_scheme": bundle.payload.bucketingScheme.rawValue,
            "floor_ns_per_op": floor.nsPerOp, "ratio_to_floor": evaluate.nsPerOp / floor.nsPerOp, "goal_ns": 1000,
        ])
        report(["name": "hash_floor_100_buckets", "ns_per_op": floor.nsPerOp, "allocations_per_op": floor.allocationsPerOp ?? -1])
        report([
            "name": "hash_floor_100_buckets_tight", "ns_per_op": tightFloor.nsPerOp,
            "allocations_per_op": tightFloor.allocationsPerOp ?? -1,
        ])
        report([
            "name": "hash_floor_scheme2_digest_and_100_buckets", "ns_per_op": digestFloor.nsPerOp,
            "allocations_per_op": digestFloor.allocationsPerOp ?? -1,
        ])
        report([
            "name": "evaluate_and_write_json_answer", "ns_per_op": answer.nsPerOp, "allocations_per_op": answer.allocationsPerOp ?? -1,
            "answer_bytes": output.count,
        ])
        report([
            "name": "parse_json_request_evaluate_answer", "ns_per_op": parse.nsPerOp, "allocations_per_op": parse.allocationsPerOp ?? -1,
        ])
        if sink == 42 && enrolled == 42 { print("") }
    }
}

/// Whether this build compiles targeting expressions (the benchmark adds targeting when it can).
enum TargetingSupport {
    static let available: Bool = {
        let probe = [
            SourceFile(
                path: "probe.yaml",
                text: """
                    kind: Attributes
                    attributes: { country: string }
                    ---
                    kind: Layer
                    name: l
                    unit: user_id
                    ---
                    kind: Experiment
                    name: e
                    layer: l
                    owner: o
                    status: running
                    traffic: 1%
                    targeting: country == "US"
                    variants: [ { name: a, weight: 100% } ]
                    """)
        ]
        if case .success = Compiler.compile(files: probe, lock: AllocationLock(), version: 1, createdAt: 0) { return true }
        return false
    }()
}
