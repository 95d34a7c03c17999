import AllotCompiler
import AllotCore
import Dispatch
import Foundation
import Synchronization
import Yams

/// Compiling 10,000 experiments in 100 layers (parse, check, allocate, lay out), on one thread
/// and on every core the process may use, against the floor of parsing the same YAML alone (Yams,
/// on one thread and on every core, files handed out the same way as the compiler does).
enum CompileBenchmark {
    static func run(quick: Bool) throws {
        let layers = quick ? 20 : 100
        let files = SyntheticProject.files(layers: layers, experimentsPerLayer: 100, targeting: TargetingSupport.available)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var payloadBytes = 0
        var lock = AllocationLock()
        var payloads: [[UInt8]] = []
        func compile(threads: Int, lock: AllocationLock, version: UInt64) throws -> Double {
            var best = Double.infinity
            for _ in 0..<3 {
                let start = now()
                let output = try Compiler.compile(files: files, lock: lock, version: version, createdAt: 0, threads: threads).get()
                best = min(best, Double(now() - start) / 1e9)
                payloadBytes = output.payload.count
                payloads.append(output.payload)
            }
            return best
        }
        let one = try compile(threads: 1, lock: AllocationLock(), version: 1)
        let all = try compile(threads: cores, lock: AllocationLock(), version: 1)
        guard payloads.allSatisfy({ $0 == payloads[0] }) else { throw BenchmarkError.differentOutput }
        lock = try Compiler.compile(files: files, lock: AllocationLock(), version: 1, createdAt: 0).get().lock
        let withLock = try compile(threads: cores, lock: lock, version: 2)
        let parseOne = try parseFloor(files, threads: 1)
        let parseAll = try parseFloor(files, threads: cores)
        let ms = { (seconds: Double) in Int((seconds * 1000).rounded()) }
        report([
            "name": "compile_experiments", "ns_per_op": all * 1e9, "ms": ms(all), "threads": cores, "ms_one_thread": ms(one),
            "ms_with_lock": ms(withLock), "experiments": layers * 100, "layers": layers, "payload_mb": Double(payloadBytes) / 1e6,
            "yaml_parse_floor_ms": ms(parseAll), "yaml_parse_floor_ms_one_thread": ms(parseOne), "goal_ms": 1000,
        ])
    }

    /// Best of three: Yams parsing every file (events to nodes, nothing else) on `threads` threads.
    static func parseFloor(_ files: [SourceFile], threads: Int) throws -> Double {
        var best = Double.infinity
        for _ in 0..<3 {
            let start = now()
            let next = Atomic<Int>(0)
            let failed = Atomic<Bool>(false)
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                while true {
                    let index = next.add(1, ordering: .relaxed).oldValue
                    guard index < files.count else { return }
                    do {
                        let parser = try Parser(yaml: files[index].text, resolver: .basic)
                        while try parser.nextRoot() != nil {}
                    } catch {
                        failed.store(true, ordering: .relaxed)
                    }
                }
            }
            if failed.load(ordering: .relaxed) { throw BenchmarkError.yamlFailed }
            best = min(best, Double(now() - start) / 1e9)
        }
        return best
    }

    enum BenchmarkError: Error {
        /// Compiling on one thread and on several gave different payloads.
        case differentOutput
        case yamlFailed
    }
}
