import Synchronization

/// One thread's slice of every metric in a registry: a fixed array of 64-bit slots.
///
/// A worker thread owns its shard (`MetricsRegistry.makeShard()`), so its updates are a relaxed
/// load and store of a cache line no other thread writes: no contention, no locked instructions.
/// A scrape sums all shards. `MetricsRegistry.shared` is the one shard any thread may update; its
/// updates are atomic read-modify-writes.
public final class MetricsShard: @unchecked Sendable {
    // @unchecked: `slots` is allocated once in init, freed in deinit, and only ever touched through
    // `Atomic` operations; a single-writer shard is written by its owning thread alone.
    let slots: UnsafeMutablePointer<Atomic<UInt64>>
    let capacity: Int
    /// Whether exactly one thread writes this shard (plain load/store instead of atomic RMW).
    let singleWriter: Bool

    init(capacity: Int, singleWriter: Bool) {
        self.capacity = capacity
        self.singleWriter = singleWriter
        slots = .allocate(capacity: capacity)
        for index in 0..<capacity { (slots + index).initialize(to: Atomic(0)) }
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
    }

    @inline(__always)
    func add(slot: Int, _ amount: UInt64) {
        if singleWriter {
            let value = slots[slot].load(ordering: .relaxed)
            slots[slot].store(value &+ amount, ordering: .relaxed)
        } else {
            slots[slot].wrappingAdd(amount, ordering: .relaxed)
        }
    }

    @inline(__always)
    func addDouble(slot: Int, _ amount: Double) {
        if singleWriter {
            let value = Double(bitPattern: slots[slot].load(ordering: .relaxed))
            slots[slot].store((value + amount).bitPattern, ordering: .relaxed)
        } else {
            var current = slots[slot].load(ordering: .relaxed)
            while true {
                let next = (Double(bitPattern: current) + amount).bitPattern
                let (exchanged, original) = slots[slot].weakCompareExchange(
                    expected: current, desired: next, successOrdering: .relaxed, failureOrdering: .relaxed)
                if exchanged { return }
                current = original
            }
        }
    }

    @inline(__always)
    func load(slot: Int) -> UInt64 {
        slots[slot].load(ordering: .relaxed)
    }

    func store(slot: Int, _ value: UInt64) {
        slots[slot].store(value, ordering: .relaxed)
    }

    /// Adds `amount` to `counter`.
    @inline(__always)
    public func increment(_ counter: Counter, by amount: UInt64 = 1) {
        add(slot: counter.slot, amount)
    }

    /// Adds `delta` (possibly negative) to `gauge`.
    @inline(__always)
    public func add(_ gauge: Gauge, _ delta: Int64) {
        add(slot: gauge.slot, UInt64(bitPattern: delta))
    }

    /// Records one observation of `value` (seconds for latency histograms).
    @inline(__always)
    public func observe(_ histogram: Histogram, _ value: Double) {
        var bucket = 0
        let bounds = histogram.bounds
        while bucket < histogram.boundCount, value > bounds[bucket] { bucket += 1 }
        add(slot: histogram.slot + bucket, 1)
        addDouble(slot: histogram.slot + histogram.boundCount + 1, value)
    }
}

/// A monotonically increasing count. Update it through a shard: `shard.increment(counter)`.
public struct Counter: Sendable, Hashable {
    let slot: Int
}

/// A value that goes up and down: the sum of every shard's `add` deltas plus the last `set`.
public struct Gauge: Sendable, Hashable {
    /// Integer deltas, summed over shards.
    let slot: Int
    /// The `set` value (Double bits), in the shared shard.
    var setSlot: Int { slot + 1 }
}

/// Observations counted in fixed buckets (upper bounds, `le`), plus their sum and count.
///
/// `bounds` points into storage the registry owns: a histogram must not outlive its registry.
public struct Histogram: @unchecked Sendable {
    // @unchecked: `bounds` is immutable storage owned by the registry.
    let slot: Int
    let bounds: UnsafePointer<Double>
    let boundCount: Int
}
