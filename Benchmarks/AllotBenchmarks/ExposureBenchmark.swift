import AllotCore
import AllotExposures
import AllotHTTP
import Foundation
import Logging
import ServiceLifecycle

/// The exposure log's two costs, on the 1,000-experiment / 50-layer bundle:
///
/// - `record-loop N`: N requests evaluated, answered and recorded (what a worker does with the
///   log on), for instruction counting against `answer-loop N` (the same without recording):
///   `Benchmarks/count-instructions.sh record-loop`.
/// - `exposure-writer [REQUESTS [LEVEL]]`: the writer alone (zstd LEVEL, default 1), on one core: a worker's buffer is filled
///   with REQUESTS requests' events first, then the writer service drains it into segments in a
///   scratch spool, timed from its start to the last event written. Prints events/s and bytes.
enum ExposureBenchmark {
    static func log(spool: String, bufferBytes: Int, level: Int32 = 1) throws -> (ExposureLog, MetricsRegistry) {
        var configuration = ExposureConfiguration(spoolDirectory: spool, region: "bench", serverID: "bench-1")
        configuration.bufferBytes = bufferBytes
        configuration.compressionLevel = level
        configuration.spoolLimitBytes = 64 << 30
        configuration.flushInterval = .milliseconds(1)
        configuration.writerNice = 0
        let registry = MetricsRegistry()
        return (try ExposureLog(configuration: configuration, store: nil, registry: registry, logger: Logger(label: "bench")), registry)
    }

    /// A worker's state on the synthetic bundle: its users, buffers and exposure recorder.
    final class Worker {
        let bundle: LoadedBundle
        let names: ExposureNames
        let inputs: [EvaluationInput]
        let log: ExposureLog
        let spool = NSTemporaryDirectory() + "allot-bench-spool-\(getpid())"
        // One thread: no dynamic exclusivity checks (the answer-loop baseline uses locals).
        @exclusivity(unchecked) var recorder: ExposureRecorder
        @exclusivity(unchecked) var outcomes: [Outcome] = []
        @exclusivity(unchecked) var output: [UInt8] = []

        /// `users` distinct users (a power of two); a buffer of `bufferBytes` (room for every
        /// request measured, so recording is measured and never dropping).
        init(users: Int, bufferBytes: Int, level: Int32 = 1) throws {
            bundle = try EvaluationBenchmark.syntheticBundle(targeting: TargetingSupport.available)
            names = ExposureNames(contents: bundle.contents(expandingVariantBuckets: false))
            inputs = try EvaluationBenchmark.units(users, bundle: bundle)
            let (log, registry) = try ExposureBenchmark.log(spool: spool, bufferBytes: bufferBytes, level: level)
            self.log = log
            recorder = log.makeRecorder(shard: registry.makeShard())
            outcomes.reserveCapacity(64)
            output.reserveCapacity(8192)
        }

        deinit { try? FileManager.default.removeItem(atPath: spool) }

        /// Evaluates and answers request `index` (a user), recording its exposures if asked.
        @inline(__always)
        func answer(_ index: Int, record: Bool) -> Int {
            let input = inputs[index & (inputs.count - 1)]
            bundle.evaluate(input, now: 1_800_000_000, into: &outcomes)
            output.removeAll(keepingCapacity: true)
            bundle.writeAnswer(outcomes, into: &output)
            if record {
                recorder.begin(names)
                recorder.add(.native, input: input, outcomes: outcomes)
                recorder.commit()
            }
            return output.count &+ outcomes.count
        }
    }

    static func recordLoop(count: Int) throws {
        let worker = try Worker(users: 256, bufferBytes: min(1 << 30, max(1 << 20, count * 1024)))
        var total = 0
        for i in 0..<count { total &+= worker.answer(i, record: true) }
        print(total)
    }

    /// `record`: ns and heap allocations per request of evaluating and answering, with and without
    /// recording the request's exposures (same run, same users).
    static func run(quick: Bool) throws {
        let worker = try Worker(users: 4096, bufferBytes: 1 << 30)
        let iterations = quick ? 5_000 : 20_000
        var index = 0
        var sink = 0
        let answer = measure(iterations: iterations) {
            sink &+= worker.answer(index, record: false)
            index &+= 1
        }
        let recorded = measure(iterations: iterations) {
            sink &+= worker.answer(index, record: true)
            index &+= 1
        }
        report([
            "name": "answer_and_record_exposures", "ns_per_op": recorded.nsPerOp, "allocations_per_op": recorded.allocationsPerOp ?? -1,
            "baseline_answer_ns_per_op": answer.nsPerOp, "ratio_to_baseline": recorded.nsPerOp / answer.nsPerOp,
            "dropped": Int(worker.log.metrics.droppedCount(.bufferFull)), "sink": sink & 1,
        ])
    }

    /// `writer-loop REQUESTS`: the same work as `exposure-writer`, on the calling thread (the
    /// writer's cycles run by hand), for instruction counting under callgrind.
    static func writerLoop(requests: Int, level: Int32) throws {
        let worker = try Worker(users: 4096, bufferBytes: min(1 << 30, max(64 << 20, requests * 1024)), level: level)
        for i in 0..<requests { _ = worker.answer(i, record: true) }
        worker.log.writer.runOnce()
        print(worker.log.metrics.eventCount)
    }

    static func writer(requests: Int, level: Int32) async throws {
        let bundle = try EvaluationBenchmark.syntheticBundle(targeting: TargetingSupport.available)
        let names = ExposureNames(contents: bundle.contents(expandingVariantBuckets: false))
        let spool = NSTemporaryDirectory() + "allot-bench-spool-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let (log, registry) = try log(spool: spool, bufferBytes: min(1 << 30, max(64 << 20, requests * 1024)), level: level)
        var recorder = log.makeRecorder(shard: registry.makeShard())
        // Distinct random users, as a server sees them.
        var random = SystemRandomNumberGenerator()
        var input = EvaluationInput(for: bundle)
        var outcomes: [Outcome] = []
        var events = 0
        for i in 0..<requests {
            input.reset(for: bundle)
            try input.set(
                units: ["user_id": "u-\(random.next() % 100_000_000)-\(i)"],
                attributes: ["country": ["US", "DE", "CA", "JP"][i % 4], "app_version": "5.\(i % 4).0", "platform": "ios"], bundle: bundle)
            bundle.evaluate(input, now: 1_800_000_000, into: &outcomes)
            recorder.begin(names)
            recorder.add(.native, input: input, outcomes: outcomes)
            recorder.commit()
            events += outcomes.filter { $0.reason.isEnrolled }.count
        }
        let dropped = log.metrics.droppedCount(.bufferFull)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [log.writer], logger: Logger(label: "bench")))
        let start = now()
        let cpuStart = processCPUTime()
        let task = Task { try await group.run() }
        while log.metrics.eventCount < UInt64(events) - dropped {
            try await Task.sleep(for: .milliseconds(1))
        }
        let elapsed = Double(now() - start) / 1e9
        // CPU time is what the shared machine does not disturb (the poll above costs little).
        let cpu = processCPUTime() - cpuStart
        await group.triggerGracefulShutdown()
        try await task.value
        var bytes = 0
        if let enumerator = FileManager.default.enumerator(atPath: log.spool.readyRoot) {
            while let path = enumerator.nextObject() as? String {
                bytes += (try? FileManager.default.attributesOfItem(atPath: log.spool.readyRoot + "/" + path)[.size] as? Int) ?? 0
            }
        }
        report([
            "name": "exposure_writer", "zstd_level": Int(level), "requests": requests, "events": events, "dropped": Int(dropped),
            "seconds": elapsed, "cpu_seconds": cpu,
            "events_per_s": Double(events) / elapsed, "events_per_cpu_s": Double(events) / cpu,
            "ns_cpu_per_event": cpu * 1e9 / Double(events), "compressed_bytes": bytes,
            "bytes_per_event": Double(bytes) / Double(max(1, events)),
        ])
    }
}

/// CPU seconds this process has used (all threads).
func processCPUTime() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}
