public import AllotCore
import AllotHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// One worker thread's side of the exposure log: writes the decisions of a request, as compact
/// events, into the worker's own `ExposureRing`. No lock, no allocation, no system call but the
/// clock: the request path never waits for the log. When the ring is full (the writer is behind)
/// the events are dropped and counted (`allot_exposure_events_dropped_total{reason="buffer_full"}`,
/// in the worker's metrics shard).
///
/// A request's events are a transaction: `begin`, any number of `add`s, then `commit` (they
/// become visible to the writer) or `abandon` (a request refused after all, such as a batch found
/// too large half-way: nothing is recorded).
public struct ExposureRecorder {
    let ring: ExposureRing
    let shard: MetricsShard
    let droppedFull: Counter
    let logDefaults: Bool

    /// The names the writer holds for this ring after the last commit.
    private var committedNames: ExposureNames?
    /// The names announced in the open transaction, if it announced new ones.
    private var announcedNames: ExposureNames?
    private var mark = 0
    private var timestamp: Int64 = 0
    /// The transaction's events were dropped (its names did not fit).
    private var failed = false
    private var pendingDrops: UInt64 = 0
    /// A transaction is open (begun, neither committed nor abandoned).
    private var isOpen = false

    init(ring: ExposureRing, shard: MetricsShard, droppedFull: Counter, logDefaults: Bool) {
        self.ring = ring
        self.shard = shard
        self.droppedFull = droppedFull
        self.logDefaults = logDefaults
    }

    /// Starts recording a request answered from the bundle `names` describes, at the current time.
    @inline(__always)
    public mutating func begin(_ names: ExposureNames) {
        begin(names, timestamp: Self.nowMilliseconds())
    }

    /// Starts recording a request evaluated at `timestamp` (ms since the epoch).
    @inline(__always)
    mutating func begin(_ names: ExposureNames, timestamp: Int64) {
        if isOpen { abandon() }
        isOpen = true
        mark = ring.mark
        failed = false
        pendingDrops = 0
        announcedNames = nil
        self.timestamp = timestamp
        guard names !== committedNames else { return }
        // A new bundle: hand its names to the writer first (one retain per worker and bundle).
        guard let record = ring.reserve(RecordLayout.namesLength) else {
            failed = true
            return
        }
        record.storeBytes(of: UInt32(RecordLayout.namesLength), as: UInt32.self)
        record.storeBytes(of: RecordLayout.Kind.names, toByteOffset: RecordLayout.kind, as: UInt8.self)
        let bits = UInt(bitPattern: Unmanaged.passRetained(names).toOpaque())
        record.storeBytes(of: bits, toByteOffset: 8, as: UInt.self)
        announcedNames = names
    }

    /// Whether a decision with `reason` is recorded.
    @inline(__always)
    func records(_ reason: Reason) -> Bool {
        switch reason {
        case .split, .override: true
        case .targetingMiss, .holdout, .paused, .concluded, .scheduled: logDefaults
        case .notEnrolled: false
        }
    }

    /// Records every decision of `outcomes` that enrolls the unit (and, with `logDefaults`, those
    /// that gave the defaults) for one request of `api`.
    public mutating func add(_ api: ExposureAPI, input: borrowing EvaluationInput, outcomes: [Outcome]) {
        guard isOpen else { return }
        var count = 0
        for outcome in outcomes where records(outcome.reason) { count &+= 1 }
        guard count > 0 else { return }
        outcomes.withUnsafeBufferPointer { buffer in
            var first = 0
            while count > 0 {
                let chunk = min(count, RecordLayout.maxEvents)
                first = write(api, input: input, flag: -1, count: chunk, from: buffer, startingAt: first)
                count &-= chunk
            }
        }
    }

    /// Records the decision `outcome` of an OFREP single-flag request for the flag `parameter`,
    /// if it enrolls the unit (or gave the defaults, with `logDefaults`).
    public mutating func add(flag parameter: Int, input: borrowing EvaluationInput, outcome: Outcome) {
        guard isOpen, records(outcome.reason) else { return }
        withUnsafePointer(to: outcome) { pointer in
            _ = write(
                .ofrep, input: input, flag: Int32(parameter), count: 1, from: UnsafeBufferPointer(start: pointer, count: 1), startingAt: 0)
        }
    }

    /// Writes one record of the `count` recorded outcomes found in `outcomes` from `start`;
    /// returns the index after the last one used.
    private mutating func write(
        _ api: ExposureAPI, input: borrowing EvaluationInput, flag: Int32, count: Int, from outcomes: UnsafeBufferPointer<Outcome>,
        startingAt start: Int
    ) -> Int {
        var next = start
        if failed {
            pendingDrops &+= UInt64(count)
            return outcomes.count
        }
        var unitBytes = 0
        var unitCount = 0
        for unitType in 0..<input.unitTypeCount {
            input.withUnitID(unitType) { id in
                if let id {
                    unitBytes &+= 4 &+ id.count
                    unitCount &+= 1
                }
            }
        }
        let length = RecordLayout.aligned(RecordLayout.headerLength &+ count &* RecordLayout.eventLength &+ unitBytes)
        guard length <= ring.maxRecordLength, let record = ring.reserve(length) else {
            pendingDrops &+= UInt64(count)
            var skipped = 0
            while skipped < count {
                if records(outcomes[next].reason) { skipped &+= 1 }
                next &+= 1
            }
            return next
        }
        record.storeBytes(of: UInt32(length), as: UInt32.self)
        record.storeBytes(of: RecordLayout.Kind.events, toByteOffset: RecordLayout.kind, as: UInt8.self)
        record.storeBytes(of: api.rawValue, toByteOffset: RecordLayout.api, as: UInt8.self)
        record.storeBytes(of: UInt16(count), toByteOffset: RecordLayout.eventCount, as: UInt16.self)
        record.storeBytes(of: timestamp, toByteOffset: RecordLayout.timestamp, as: Int64.self)
        record.storeBytes(of: flag, toByteOffset: RecordLayout.flag, as: Int32.self)
        record.storeBytes(of: UInt16(unitCount), toByteOffset: RecordLayout.unitCount, as: UInt16.self)
        var event = record + RecordLayout.headerLength
        var written = 0
        while written < count {
            let outcome = outcomes[next]
            next &+= 1
            guard records(outcome.reason) else { continue }
            event.storeBytes(of: outcome.experiment, toByteOffset: RecordLayout.eventExperiment, as: Int32.self)
            let enrolled = outcome.reason == .split || outcome.reason == .override
            event.storeBytes(of: enrolled ? outcome.variant : -1, toByteOffset: RecordLayout.eventVariant, as: Int32.self)
            event.storeBytes(of: outcome.reason.rawValue, toByteOffset: RecordLayout.eventReason, as: UInt8.self)
            event += RecordLayout.eventLength
            written &+= 1
        }
        var unit = event
        for unitType in 0..<input.unitTypeCount {
            input.withUnitID(unitType) { id in
                guard let id else { return }
                unit.storeBytes(of: UInt16(unitType), as: UInt16.self)
                unit.storeBytes(of: UInt16(id.count), toByteOffset: 2, as: UInt16.self)
                (unit + 4).copyMemory(from: id.baseAddress!, byteCount: id.count)
                unit += 4 &+ id.count
            }
        }
        return next
    }

    /// Makes the transaction's events visible to the writer and counts what was dropped.
    @inline(__always)
    public mutating func commit() {
        guard isOpen else { return }
        isOpen = false
        ring.publish()
        if let announcedNames { committedNames = announcedNames }
        announcedNames = nil
        if pendingDrops > 0 { shard.increment(droppedFull, by: pendingDrops) }
        pendingDrops = 0
    }

    /// Forgets the open transaction, if any: nothing of it reaches the log, and nothing is counted.
    public mutating func abandon() {
        guard isOpen else { return }
        isOpen = false
        ring.rollback(to: mark)
        if let announcedNames {
            Unmanaged.passUnretained(announcedNames).release()
        }
        announcedNames = nil
        pendingDrops = 0
    }

    /// The wall clock in milliseconds since the epoch.
    @inline(__always)
    static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) &* 1000 &+ Int64(now.tv_nsec / 1_000_000)
    }
}
