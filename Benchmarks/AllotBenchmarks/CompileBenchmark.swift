import AllotCompiler
import AllotCore
import Yams

/// Compiling 10,000 experiments in 100 layers (parse, check, allocate, lay out), against the
/// floor of parsing the same YAML alone.
enum CompileBenchmark {
    static func run(quick: Bool) throws {
        let layers = quick ? 20 : 100
        let files = SyntheticProject.files(layers: layers, experimentsPerLayer: 100, targeting: TargetingSupport.available)
        var best = Double.infinity
        var lockBest = Double.infinity
        var payloadBytes = 0
        var lock = AllocationLock()
        for _ in 0..<3 {
            let start = now()
            let output = try Compiler.compile(files: files, lock: AllocationLock(), version: 1, createdAt: 0).get()
            best = min(best, Double(now() - start) / 1e9)
            payloadBytes = output.payload.count
            lock = output.lock
        }
        for _ in 0..<3 {
            let start = now()
            _ = try Compiler.compile(files: files, lock: lock, version: 2, createdAt: 0).get()
            lockBest = min(lockBest, Double(now() - start) / 1e9)
        }
        var parseBest = Double.infinity
        for _ in 0..<3 {
            let start = now()
            for file in files {
                let parser = try Parser(yaml: file.text, resolver: .basic)
                while try parser.nextRoot() != nil {}
            }
            parseBest = min(parseBest, Double(now() - start) / 1e9)
        }
        report([
            "name": "compile_experiments", "ns_per_op": best * 1e9, "seconds": best, "seconds_with_lock": lockBest,
            "experiments": layers * 100, "layers": layers, "payload_mb": Double(payloadBytes) / 1e6,
            "yaml_parse_floor_seconds": parseBest, "goal_seconds": 2.0,
        ])
    }
}
