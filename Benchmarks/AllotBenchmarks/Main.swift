import AllotCompiler
import AllotCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Allot's micro- and macro-benchmarks. Prints one JSON line per benchmark:
/// `{"name":…, "ns_per_op":…, …}` plus, where it makes sense, a baseline measured in the same run
/// (the physical floor: the hashes alone, or the hash and decompression alone). Run through
/// `Benchmarks/run.sh`, which builds in release mode and preloads the allocation counter.
@main
struct AllotBenchmarks {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        let only = arguments.first { !$0.hasPrefix("-") }
        let quick = arguments.contains("--quick")
        let count = Int(arguments.dropFirst().first ?? "")
        switch only {
        case "record-loop": return try ExposureBenchmark.recordLoop(count: count ?? 10_000)
        case "writer-loop":
            let level = Int32(ProcessInfo.processInfo.environment["ALLOT_BENCH_ZSTD_LEVEL"] ?? "") ?? 1
            return try ExposureBenchmark.writerLoop(requests: count ?? 10_000, level: level)
        case "exposure-writer":
            let level = Int32(arguments.dropFirst(2).first ?? "") ?? 1
            return try await ExposureBenchmark.writer(requests: count ?? 100_000, level: level)
        case "write-project":
            // The 1,000-experiment / 50-layer project as YAML files, for the serve benchmarks
            // (`write-project DIR LAYERS PER_LAYER` for another size: 100 100 is the compile benchmark's).
            let directory = arguments.dropFirst().first ?? "synthetic-experiments"
            let size = arguments.dropFirst(2).compactMap { Int($0) }
            let layers = size.count == 2 ? size[0] : 50
            let perLayer = size.count == 2 ? size[1] : 20
            for file in SyntheticProject.files(layers: layers, experimentsPerLayer: perLayer, targeting: true) {
                let path = directory + "/" + file.path
                let folder = (path as NSString).deletingLastPathComponent
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try file.text.write(toFile: path, atomically: true, encoding: .utf8)
            }
            return
        default: break
        }
        let loops: [String: EvaluationBenchmark.AnswerWriting] = [
            "evaluate-loop": .none, "answer-loop": .array, "answer-in-place-loop": .inPlace,
        ]
        if let only, let answers = loops[only] {
            try EvaluationBenchmark.loop(count: Int(arguments.dropFirst().first ?? "") ?? 10_000, answers: answers)
            return
        }
        if only == "hash" {
            HashLoop.run(count: Int(arguments.dropFirst().first ?? "") ?? 1_000_000)
            return
        }
        if only == nil || only == "evaluate" { try EvaluationBenchmark.run(quick: quick) }
        if only == nil || only == "load" { try LoadBenchmark.run(quick: quick) }
        if only == nil || only == "compile" { try CompileBenchmark.run(quick: quick) }
        if only == nil || only == "record" { try ExposureBenchmark.run(quick: quick) }
    }
}

/// Writes a JSON line.
func report(_ fields: KeyValuePairs<String, Any>) {
    var parts: [String] = []
    for (key, value) in fields {
        let rendered: String
        switch value {
        case let string as String: rendered = "\"\(string)\""
        case let double as Double: rendered = String(format: "%.1f", double)
        default: rendered = "\(value)"
        }
        parts.append("\"\(key)\":\(rendered)")
    }
    let line = "{" + parts.joined(separator: ",") + "}\n"
    FileHandle.standardOutput.write(line.data(using: .utf8)!)
}

/// Monotonic nanoseconds.
func now() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// Heap allocations so far, when the malloc counter is preloaded; nil otherwise.
let mallocCounter: (@convention(c) () -> UInt)? = {
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "allot_malloc_count") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) () -> UInt).self)
}()

/// Runs `body` `iterations` times per round, several rounds, and returns the best ns/op (the
/// least disturbed by the shared machine) and the allocations per op of the last round.
func measure(iterations: Int, rounds: Int = 7, _ body: () -> Void) -> (nsPerOp: Double, allocationsPerOp: Double?) {
    for _ in 0..<max(1, iterations / 10) { body() }  // warm up
    var best = Double.infinity
    var allocations: Double? = nil
    for _ in 0..<rounds {
        let mallocBefore = mallocCounter?()
        let start = now()
        for _ in 0..<iterations { body() }
        let elapsed = Double(now() - start) / Double(iterations)
        if let before = mallocBefore, let after = mallocCounter?() { allocations = Double(after - before) / Double(iterations) }
        best = min(best, elapsed)
    }
    return (best, allocations)
}

/// `allot-benchmarks hash N`: N bucket hashes of a 36-byte id under a 10-byte salt, for
/// instruction counting under callgrind (`valgrind --tool=callgrind`).
enum HashLoop {
    static func run(count: Int) {
        let salt = Array("layer-1234".utf8)
        var id = Array("d8f1c2a0-5b6e-4c1f-9a3e-7b2d4c6e8f10".utf8)
        var sink = 0
        for i in 0..<count {
            id[0] = UInt8(truncatingIfNeeded: i)
            sink &+= salt.withUnsafeBytes { s in id.withUnsafeBytes { Bucketing.bucket(salt: s, unitID: $0) } }
        }
        print(sink)
    }
}
