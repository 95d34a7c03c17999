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
/// - `exposure-writer [REQUESTS]`: the writer alone, on one core: a worker's buffer is filled
///   with REQUESTS requests' events first, then the writer service drains it into segments in a
///   scratch spool, timed from its start to the last event written. Prints events/s and bytes.
enum ExposureBenchmark {
    static func log(spool: String, bufferBytes: Int) throws -> (ExposureLog, MetricsRegistry) {
        var configuration = ExposureConfiguration(spoolDirectory: spool, region: "bench", serverID: "bench-1")
        configuration.bufferBytes = bufferBytes
        configuration.spoolLimitBytes = 64 << 30
        configuration.flushInterval = .milliseconds(1)
        configuration.writerNice = 0
        let registry = MetricsRegistry()
        return (try ExposureLog(configuration: configuration, store: nil, registry: registry, logger: Logger(label: "bench")), registry)
    }

    static func recordLoop(count: Int) throws {
        let bundle = try EvaluationBenchmark.syntheticBundle(targeting: TargetingSupport.available)
        let names = ExposureNames(contents: bundle.contents(expandingVariantBuckets: false))
        let inputs = try EvaluationBenchmark.units(256, bundle: bundle)
        let spool = NSTemporaryDirectory() + "allot-bench-spool-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: spool) }
        // Room for every request's events: the loop measures recording, never dropping.
        let (log, registry) = try log(spool: spool, bufferBytes: min(1 << 30, max(1 << 20, count * 1024)))
        var recorder = log.makeRecorder(shard: registry.makeShard())
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(64)
        var output: [UInt8] = []
        output.reserveCapacity(8192)
        var total = 0
        for i in 0..<count {
            bundle.evaluate(inputs[i & 255], now: 1_800_000_000, into: &outcomes)
            output.removeAll(keepingCapacity: true)
            bundle.writeAnswer(outcomes, into: &output)
            recorder.begin(names)
            recorder.add(.native, input: inputs[i & 255], outcomes: outcomes)
            recorder.commit()
            total &+= output.count &+ outcomes.count
        }
        print(total)
    }

    static func writer(requests: Int) async throws {
        let bundle = try EvaluationBenchmark.syntheticBundle(targeting: TargetingSupport.available)
        let names = ExposureNames(contents: bundle.contents(expandingVariantBuckets: false))
        let spool = NSTemporaryDirectory() + "allot-bench-spool-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: spool) }
        let (log, registry) = try log(spool: spool, bufferBytes: 1 << 30)
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
        let task = Task { try await group.run() }
        while log.metrics.eventCount < UInt64(events) - dropped {
            try await Task.sleep(for: .milliseconds(1))
        }
        let elapsed = Double(now() - start) / 1e9
        await group.triggerGracefulShutdown()
        try await task.value
        var bytes = 0
        if let enumerator = FileManager.default.enumerator(atPath: log.spool.readyRoot) {
            while let path = enumerator.nextObject() as? String {
                bytes += (try? FileManager.default.attributesOfItem(atPath: log.spool.readyRoot + "/" + path)[.size] as? Int) ?? 0
            }
        }
        report([
            "name": "exposure_writer", "requests": requests, "events": events, "dropped": Int(dropped), "seconds": elapsed,
            "events_per_s": Double(events) / elapsed, "compressed_bytes": bytes, "bytes_per_event": Double(bytes) / Double(max(1, events)),
        ])
    }
}
