import AllotCore
import AllotHTTP
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The writer thread's work: drains the workers' rings, turns their events into records, writes
/// them into the open segments, rotates segments (size, age, UTC hour), recovers segments a
/// previous process left open, and counts split exposures for sample-ratio monitoring.
///
/// Confined to the writer thread (created by `ExposureWriter`); nothing here is shared but the
/// spool's byte count, the metrics and the assignment counters, which are thread-safe.
final class SegmentWriter: @unchecked Sendable {
    // @unchecked: handed once to the writer thread, which alone uses it afterwards.
    let configuration: ExposureConfiguration
    let spool: ExposureSpool
    let metrics: ExposureMetrics
    let shard: MetricsShard
    let counters: AssignmentCounters
    let rings: @Sendable () -> [ExposureRing]
    let logger: Logger
    let boot: Int64
    private let encoder: RecordEncoder

    /// Records are compressed in pieces of this many bytes: 128 KiB, or an eighth of the segment
    /// limit when that is smaller, so a piece always fits in a fresh segment.
    let chunkBytes: Int

    /// Open segments, one per UTC hour that has records (two at most).
    private var segments: [OpenSegment] = []
    private var idleCompressors: [ZstdCompressor] = []
    private var nextSequence = 1
    /// After a file failure: no writes until then (monotonic ms).
    private var blockedUntil: Int64 = 0
    private var lastWarning: [String: Int64] = [:]
    /// Open files of segments that failed, to recover into closed segments.
    private var pendingRecovery: [String] = []
    private var nextRecoveryAttempt: Int64 = 0
    /// Whether the segments a previous process left open have been recovered (before any cycle).
    private var leftoversRecovered = false

    init(
        configuration: ExposureConfiguration, spool: ExposureSpool, metrics: ExposureMetrics, counters: AssignmentCounters,
        rings: @escaping @Sendable () -> [ExposureRing], boot: Int64, logger: Logger
    ) {
        self.configuration = configuration
        self.spool = spool
        self.metrics = metrics
        self.shard = metrics.registry.makeShard()
        self.counters = counters
        self.rings = rings
        self.boot = boot
        self.logger = logger
        encoder = RecordEncoder(region: configuration.region, server: configuration.serverID)
        chunkBytes = min(128 << 10, configuration.segmentMaxBytes / 8)
        metrics.registry.set(metrics.spoolLimit, Double(spool.limit))
    }

    // MARK: The loop

    /// Runs until `stop` returns true, then drains every ring, closes the open segments and returns.
    func run(stop: () -> Bool) {
        if configuration.writerNice != 0 {
            // Linux: with `who` 0, the calling thread's nice value only.
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, configuration.writerNice)
        }
        recoverLeftovers()
        let interval = Self.milliseconds(configuration.flushInterval)
        while !stop() {
            let started = Self.monotonicMilliseconds()
            cycle()
            let elapsed = Self.monotonicMilliseconds() - started
            if elapsed < interval { Self.sleep(milliseconds: interval - elapsed) }
        }
        // The HTTP server has drained (it stops first): take everything left, then close.
        while cycle() > 0 {}
        for segment in segments { finish(segment) }
        segments.removeAll()
        for path in pendingRecovery { recover(openPath: path) }
        publishGauges()
        let dropped = ExposureMetrics.DropReason.allCases.reduce(UInt64(0)) { $0 + metrics.droppedCount($1) }
        logger.info(
            "exposure writer stopped",
            metadata: [
                "spool": "\(spool.root)", "spool_bytes": "\(spool.bytes)", "events_written": "\(metrics.eventCount)",
                "events_dropped": "\(dropped)",
            ])
    }

    /// One pass: every ring drained, segments flushed, aged ones closed. Returns the bytes drained.
    @discardableResult
    func cycle() -> Int {
        recoverLeftovers()
        let now = Self.monotonicMilliseconds()
        var drained = 0
        for ring in rings() {
            drained += ring.consume { record in handle(record, ring: ring, now: now) }
        }
        var index = 0
        while index < segments.count {
            let segment = segments[index]
            if now - segment.openedAt >= Self.milliseconds(configuration.segmentMaxAge) {
                segments.remove(at: index)
                finish(segment)
            } else {
                write(segment, flush: true, now: now)
                index += 1
            }
        }
        if !pendingRecovery.isEmpty, now >= nextRecoveryAttempt {
            let paths = pendingRecovery
            pendingRecovery.removeAll()
            for path in paths { recover(openPath: path) }
            nextRecoveryAttempt = now + 5000
        }
        publishGauges()
        return drained
    }

    private func publishGauges() {
        metrics.registry.set(metrics.spoolBytes, Double(spool.bytes))
    }

    // MARK: Records

    private func handle(_ record: UnsafeRawPointer, ring: ExposureRing, now: Int64) {
        if record.load(fromByteOffset: RecordLayout.kind, as: UInt8.self) == RecordLayout.Kind.names {
            let names = RecordLayout.takeNames(record)
            ring.consumerNames = names
            let (slots, overflowed) = counters.slots(for: names)
            ring.consumerSlots = slots
            if overflowed {
                logger.warning(
                    "too many experiment variants for sample-ratio counters: some are not counted",
                    metadata: ["capacity": "\(counters.capacity)", "version": "\(names.version)"])
            }
            return
        }
        guard let names = ring.consumerNames else { return }
        let count = Int(record.load(fromByteOffset: RecordLayout.eventCount, as: UInt16.self))
        countSplits(record, names: names, slots: ring.consumerSlots, count: count)

        guard now >= blockedUntil else { return drop(.writeFailed, count) }
        guard spool.bytes + reserveBytes <= spool.limit else {
            warn("spool_full", "the exposure spool is full: dropping events until segments are shipped", ["limit": "\(spool.limit)"])
            return drop(.spoolFull, count)
        }
        let timestamp = record.load(fromByteOffset: RecordLayout.timestamp, as: Int64.self)
        let hour = timestamp >= 0 ? timestamp / 3_600_000 : (timestamp - 3_599_999) / 3_600_000
        guard let segment = segment(forHour: hour, now: now) else { return drop(.writeFailed, count) }
        encoder.append(record, names: names, to: segment.staging)
        segment.stagedEvents += count
        if segment.staging.count >= chunkBytes { write(segment, flush: false, now: now) }
    }

    /// Bytes kept free below the spool limit: what the open segments can still emit.
    private var reserveBytes: Int {
        (segments.count + 1) * (ZstdCompressor.bound(2 * chunkBytes) + 64)
    }

    /// Counts the split exposures of an events record (not OFREP bulk ones).
    private func countSplits(_ record: UnsafeRawPointer, names: ExposureNames, slots: [Int32], count: Int) {
        guard record.load(fromByteOffset: RecordLayout.api, as: UInt8.self) != ExposureAPI.ofrepBulk.rawValue else { return }
        var event = record + RecordLayout.headerLength
        for _ in 0..<count {
            defer { event += RecordLayout.eventLength }
            guard event.load(fromByteOffset: RecordLayout.eventReason, as: UInt8.self) == Reason.split.rawValue else { continue }
            let experiment = Int(event.load(fromByteOffset: RecordLayout.eventExperiment, as: Int32.self))
            let variant = Int(event.load(fromByteOffset: RecordLayout.eventVariant, as: Int32.self))
            guard experiment >= 0, experiment < names.experimentCount, variant >= 0 else { continue }
            let index = names.experimentFirstVariant[experiment] + variant
            guard index < slots.count, slots[index] >= 0 else { continue }
            counters.increment(slots[index])
        }
    }

    private func drop(_ reason: ExposureMetrics.DropReason, _ count: Int) {
        shard.increment(metrics.dropped[reason]!, by: UInt64(count))
    }

    // MARK: Segments

    /// The open segment for `hour`, opening one (closing the oldest when two are open already).
    private func segment(forHour hour: Int64, now: Int64) -> OpenSegment? {
        if let open = segments.first(where: { $0.name.hour == hour }) { return open }
        if segments.count >= 2 {
            let oldest = segments.min { $0.name.hour < $1.name.hour }!
            segments.removeAll { $0 === oldest }
            finish(oldest)
        }
        guard let segment = open(hour: hour, now: now) else { return nil }
        segments.append(segment)
        return segment
    }

    private func open(hour: Int64, now: Int64) -> OpenSegment? {
        let name = SegmentName(server: configuration.serverID, boot: boot, sequence: nextSequence, hour: hour, region: configuration.region)
        do {
            let compressor = try idleCompressors.popLast() ?? ZstdCompressor(level: configuration.compressionLevel, checksum: true)
            let segment = try OpenSegment(name: name, spool: spool, compressor: compressor, now: now, stagingCapacity: 2 * chunkBytes)
            nextSequence += 1
            return segment
        } catch {
            failed("cannot open a segment", error: "\(error)", path: spool.openPath(name), now: now)
            return nil
        }
    }

    /// Compresses `segment`'s staged records into its file (first moving them to a new segment
    /// when they could take it past the size limit).
    private func write(_ segment: OpenSegment, flush: Bool, now: Int64) {
        var segment = segment
        if segment.events > 0, segment.boundAfterStaged > configuration.segmentMaxBytes,
            let index = segments.firstIndex(where: { $0 === segment })
        {
            guard let fresh = open(hour: segment.name.hour, now: now) else {
                drop(.writeFailed, segment.stagedEvents)
                segment.staging.removeAll()
                segment.stagedEvents = 0
                return
            }
            swap(&fresh.staging, &segment.staging)
            fresh.stagedEvents = segment.stagedEvents
            segment.stagedEvents = 0
            segments[index] = fresh
            finish(segment)
            segment = fresh
        }
        let staged = segment.stagedEvents
        do {
            try segment.writeStaged(flush: flush, spool: spool)
            shard.increment(metrics.events, by: UInt64(staged))
        } catch {
            drop(.writeFailed, staged)
            abandon(segment, error: error.description, now: now)
        }
    }

    /// Ends `segment`'s frame and moves it to the shipping queue.
    private func finish(_ segment: OpenSegment) {
        let staged = segment.stagedEvents
        do {
            try segment.finish(spool: spool)
            shard.increment(metrics.events, by: UInt64(staged))
            shard.increment(metrics.segmentsClosed)
            logger.debug(
                "exposure segment closed",
                metadata: ["segment": "\(segment.name)", "events": "\(segment.events)", "bytes": "\(segment.fileBytes)"])
        } catch {
            drop(.writeFailed, staged)
            failed("cannot close a segment", error: error.description, path: segment.openPath, now: Self.monotonicMilliseconds())
            pendingRecovery.append(segment.openPath)
        }
        idleCompressors.append(segment.compressor)
    }

    /// After a write failure: the segment's file is closed as is and its complete records are
    /// recovered later; writing pauses for a second.
    private func abandon(_ segment: OpenSegment, error: String, now: Int64) {
        segment.abandon()
        segments.removeAll { $0 === segment }
        idleCompressors.append(segment.compressor)
        pendingRecovery.append(segment.openPath)
        failed("cannot write a segment", error: error, path: segment.openPath, now: now)
    }

    private func failed(_ message: String, error: String, path: String, now: Int64) {
        blockedUntil = now + 1000
        nextRecoveryAttempt = now + 1000
        warn("write_failed", "\(message): dropping events for a second", ["error": "\(error)", "file": "\(path)"])
    }

    /// Logs a warning at most once a minute per kind.
    private func warn(_ kind: String, _ message: Logger.Message, _ metadata: Logger.Metadata) {
        let now = Self.monotonicMilliseconds()
        if let last = lastWarning[kind], now - last < 60_000 { return }
        lastWarning[kind] = now
        logger.warning(message, metadata: metadata)
    }

    // MARK: Recovery

    /// Recovers every segment a previous process left in `open/` (once, before this process opens any).
    func recoverLeftovers() {
        guard !leftoversRecovered else { return }
        leftoversRecovered = true
        for entry in spool.openEntries() { recover(openPath: entry.path) }
    }

    /// Keeps the complete records of an unfinished segment as a closed segment of the same name.
    private func recover(openPath path: String) {
        let relative = String(path.dropFirst(spool.openRoot.count + 1))
        let size = SpoolFiles.regularFile(path)?.size ?? 0
        guard let name = SegmentName(relativePath: relative) else {
            logger.warning("a file in the exposure spool is not a segment: set aside", metadata: ["file": "\(path)"])
            let deleted = spool.reject(
                ExposureSpool.Entry(name: nil, path: path, relativePath: "open/" + relative, size: size, modified: 0))
            shard.increment(metrics.filesRejected)
            shard.increment(metrics.rejectedDeleted, by: UInt64(deleted))
            return
        }
        do {
            let outcome = try SegmentRecovery.recover(
                source: path, destination: spool.readyPath(name), level: configuration.compressionLevel)
            if outcome.records == 0, let problem = outcome.stoppedEarly {
                // Not one record, and bytes that are not a segment's: kept for a person, never deleted.
                logger.warning(
                    "a file in the exposure spool has a segment's name but no records: set aside",
                    metadata: ["file": "\(path)", "problem": "\(problem)"])
                let deleted = spool.reject(
                    ExposureSpool.Entry(name: nil, path: path, relativePath: "open/" + relative, size: size, modified: 0))
                shard.increment(metrics.filesRejected)
                shard.increment(metrics.rejectedDeleted, by: UInt64(deleted))
                return
            }
            spool.add(outcome.bytes)
            SpoolFiles.remove(path)
            SpoolFiles.removeEmptyFolders(of: path, below: spool.openRoot)
            spool.subtract(size)
            if outcome.records > 0 {
                shard.increment(metrics.segmentsRecovered)
                shard.increment(metrics.recordsRecovered, by: UInt64(outcome.records))
            }
            logger.notice(
                "recovered an exposure segment left open",
                metadata: [
                    "segment": "\(name)", "records": "\(outcome.records)", "bytes": "\(outcome.bytes)",
                    "stopped_early": "\(outcome.stoppedEarly ?? "no")",
                ])
        } catch {
            pendingRecovery.append(path)
            warn("recovery", "cannot recover an exposure segment yet; will retry", ["file": "\(path)", "error": "\(error)"])
        }
    }

    // MARK: Time

    static func monotonicMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec / 1_000_000)
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    static func sleep(milliseconds: Int64) {
        var request = timespec(tv_sec: Int(milliseconds / 1000), tv_nsec: Int(milliseconds % 1000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
