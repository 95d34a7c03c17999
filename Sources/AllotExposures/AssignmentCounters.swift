import AllotHTTP
import Synchronization

/// Real-time sample-ratio monitoring: per experiment and variant of the bundle served, how many
/// exposures the split gave it, and the share the split should give it, for Prometheus:
///
/// ```
/// allot_assignments_total{experiment="green-checkout-button",variant="green"} 50211
/// allot_assignment_expected_share{experiment="green-checkout-button",variant="green"} 0.5
/// ```
///
/// Counted by the writer thread from the events it drains (reason `split` only: overrides do not
/// follow the weights; OFREP bulk evaluations are not exposures), so the request path pays nothing.
/// The counts are of decisions, not of distinct units: a variant that makes clients ask more often
/// shows up too (docs/server.md, "Sample-ratio monitoring").
///
/// Series exist for the variants of the newest bundle the writer has seen, no others: when a bundle
/// drops an experiment, its series go, and their counter slots are reused only after every other
/// free slot (oldest freed first), so a few late events of an old bundle cannot land on a new
/// variant's count.
final class AssignmentCounters: @unchecked Sendable {
    // @unchecked: `slots` is allocated in init and freed in deinit; only the writer thread stores
    // into it (relaxed), any thread loads; `state` guards the rest.
    static let defaultCapacity = 65_536

    private struct Key: Hashable {
        let experiment: String
        let variant: String
    }

    private struct State {
        var slotOf: [Key: Int32] = [:]
        /// Free slots, oldest freed first (from `freeHead`).
        var free: [Int32]
        var freeHead = 0
        /// The newest bundle's names and their slots: what is rendered.
        var current: ExposureNames?
        var currentSlots: [Int32] = []
        var overflowed = false
    }

    let capacity: Int
    private let slots: UnsafeMutablePointer<Atomic<UInt64>>
    private let state: Mutex<State>

    init(capacity: Int = defaultCapacity) {
        self.capacity = capacity
        slots = .allocate(capacity: capacity)
        for index in 0..<capacity { (slots + index).initialize(to: Atomic(0)) }
        state = Mutex(State(free: (0..<Int32(capacity)).map { $0 }))
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
    }

    /// For the writer thread: the counter slot of every variant of `names` (-1 for none). Names of
    /// a bundle newer than any seen so far become the rendered set: their new variants get slots,
    /// and the variants no longer in it give theirs back. Returns whether some variant found no
    /// free slot (the first time only).
    func slots(for names: ExposureNames) -> (slots: [Int32], overflowed: Bool) {
        state.withLock { state in
            let newest = state.current.map { names.version > $0.version } ?? true
            var result = [Int32](repeating: -1, count: names.variantCount)
            var overflowNow = false
            var keys: Set<Key> = []
            for experiment in 0..<names.experimentCount {
                for variant in names.variantRange(experiment) {
                    let key = Key(experiment: names.experimentNames[experiment], variant: names.variantNames[variant])
                    keys.insert(key)
                    if let slot = state.slotOf[key] {
                        result[variant] = slot
                    } else if newest {
                        guard state.freeHead < state.free.count else {
                            overflowNow = !state.overflowed
                            state.overflowed = true
                            continue
                        }
                        let slot = state.free[state.freeHead]
                        state.freeHead += 1
                        slots[Int(slot)].store(0, ordering: .relaxed)
                        state.slotOf[key] = slot
                        result[variant] = slot
                    }
                }
            }
            if newest {
                // Variants gone from the newest bundle give their slots back, to be reused last.
                for (key, slot) in state.slotOf where !keys.contains(key) {
                    state.slotOf[key] = nil
                    state.free.append(slot)
                }
                if state.freeHead > capacity {
                    state.free.removeFirst(state.freeHead)
                    state.freeHead = 0
                }
                state.current = names
                state.currentSlots = result
            }
            return (result, overflowNow)
        }
    }

    /// For the writer thread: one more split exposure for `slot`.
    @inline(__always)
    func increment(_ slot: Int32) {
        let pointer = slots + Int(slot)
        pointer.pointee.store(pointer.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// The count of the variant `variant` (global index) of the rendered bundle, for tests.
    func count(experiment: String, variant: String) -> UInt64? {
        state.withLock { state in
            state.slotOf[Key(experiment: experiment, variant: variant)].map { slots[Int($0)].load(ordering: .relaxed) }
        }
    }

    /// Both families in the Prometheus text format.
    func render(into output: inout [UInt8]) {
        state.withLock { state in
            guard let names = state.current else { return }
            output.append(
                contentsOf: "# HELP allot_assignments_total Split exposures per experiment and variant of the bundle served.\n".utf8)
            output.append(contentsOf: "# TYPE allot_assignments_total counter\n".utf8)
            Self.forEachVariant(names) { experiment, variant in
                let slot = state.currentSlots[variant]
                guard slot >= 0 else { return }
                MetricsRegistry.appendSample(
                    "allot_assignments_total",
                    labels: [("experiment", names.experimentNames[experiment]), ("variant", names.variantNames[variant])],
                    value: Double(slots[Int(slot)].load(ordering: .relaxed)), into: &output)
            }
            output.append(
                contentsOf: "# HELP allot_assignment_expected_share The share of an experiment's split the bundle gives each variant.\n"
                    .utf8)
            output.append(contentsOf: "# TYPE allot_assignment_expected_share gauge\n".utf8)
            Self.forEachVariant(names) { experiment, variant in
                MetricsRegistry.appendSample(
                    "allot_assignment_expected_share",
                    labels: [("experiment", names.experimentNames[experiment]), ("variant", names.variantNames[variant])],
                    value: names.variantShares[variant], into: &output)
            }
        }
    }

    private static func forEachVariant(_ names: ExposureNames, _ body: (_ experiment: Int, _ variant: Int) -> Void) {
        for experiment in 0..<names.experimentCount {
            for variant in names.variantRange(experiment) { body(experiment, variant) }
        }
    }
}
