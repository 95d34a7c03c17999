/// What the evaluator reads for each layer and each experiment, gathered once at load into fixed
/// 64-byte records (one cache line each).
///
/// Without it, evaluating a layer touches the payload's 56-byte layer record, the 104-byte
/// experiment record, the string pool twice (two salts) and the variant runs section, and does
/// the offset arithmetic for each. With it, the hot loop reads one layer record, the bucket table
/// entry and one experiment record; salts of up to 32 bytes sit right-aligned inside the records,
/// so they are copied in front of the unit id with two fixed 16-byte moves, and up to eight variant
/// runs sit inline, searched in three branch-free steps.
///
/// Built by `Payload.validate` from a payload it has just validated, so every value it copies is
/// already proven; everything rarely needed (schedules, targeting programs, segments, long salts,
/// more than eight runs, overrides) stays in the payload and is read from there; a targeting-only
/// experiment's record says where its program is (mode `targeted`). The plan owns its memory;
/// its bucket-table pointers point into the payload's bytes, so it is valid exactly as long as the
/// payload view it was built for (a `LoadedBundle` keeps both alive together). Immutable.
final class EvaluationPlan: @unchecked Sendable {
    // @unchecked: written only in init, then immutable; its memory is freed in deinit, and the
    // bucket-table pointers point into payload bytes nobody writes.
    /// Bytes per layer record and per experiment record.
    static let recordLength = 64
    /// The longest salt stored inline; longer ones are copied from the payload.
    static let inlineSaltCapacity = 32
    /// The most variant runs stored inline; experiments with more are searched in the payload.
    static let inlineRunCapacity = 8

    /// Layer record offsets. Scheme 1: the salt occupies bytes `32 - saltLength ..< 32` (inline
    /// salts only). Scheme 2: bytes 16..<32 hold the salt's `SaltKey` instead, whatever its length.
    enum Layer {
        static let salt = 0  // 32 bytes, right-aligned, zero-padded on the left
        static let saltKey = 16  // scheme 2: SaltKey.first, then SaltKey.second (u64 each)
        static let bucketTable = 32  // pointer: the layer's owner runs in the plan (`ownerRuns` 1), or its
        // 10,000 little-endian u16 owners in the payload (0)
        static let saltOffset = 40  // u32: payload offset of the salt bytes
        static let saltLength = 44  // u8 (salts are at most 255 bytes)
        static let ownerRuns = 45  // u8: 1 when `bucketTable` points to the layer's owner runs
        static let unitType = 46  // u16
        static let firstExperiment = 48  // u32
        static let holdoutMask = 52  // u32
        static let firstOverride = 56  // u32
        static let overrideCount = 60  // u32
    }

    /// Experiment record offsets.
    enum Experiment {
        static let salt = 0  // 32 bytes, as in layers
        static let targetingOffset = 0  // mode `targeted` (scheme 2 only): u32, the program's offset in the targeting section
        static let targetingLength = 4  // mode `targeted`: u32, its length
        static let saltKey = 16  // scheme 2, as in layers
        static let runStarts = 32  // 8 × u16: first bucket of each inline run; 0xFFFF past the last run
        static let runVariants = 48  // 8 × u8: each inline run's variant
        static let saltOffset = 56  // u32
        static let saltLength = 60  // u8
        static let mode = 61  // u8: Mode
        static let inlineRuns = 62  // u8: runs stored inline, 0 when they are searched in the payload
        static let programSlot = 63  // u8: the targeting program's bit in a request's memo (`memoSlots`), 0xFF none
    }

    /// A layer's owner runs, when it has at most `ownerRunCapacity` runs of buckets with one owner:
    /// the first bucket of each run (u16, padded with 0xFFFF, above every bucket), then each run's
    /// owner (u16). Five halving steps over them find a bucket's owner in a few cache lines the
    /// plan keeps together, instead of a load from the layer's 20 KB table (a cache miss, and
    /// often a TLB miss, for random units: 50 layers' tables are 1 MB).
    static let ownerRunCapacity = 32
    static let ownerRunsLength = ownerRunCapacity * 4

    /// Targeting programs shared by two or more experiments get one of this many bits in a
    /// request's memo (the most shared first): within one evaluation a program's result depends
    /// only on the request and `now`, so the experiments sharing it run it once.
    static let memoSlots = 64
    static let noSlot = UInt8.max

    /// How the evaluator treats a unit that lands in an experiment's buckets.
    enum Mode: UInt8 {
        /// Running, without a schedule, targeting or segments: straight to the variant hash.
        case plain = 0
        /// Running, with a schedule, targeting or segments to check first.
        case checked = 1
        /// Paused: the defaults, reason `paused`.
        case paused = 2
        /// Concluded (or any other status that owns buckets): the defaults, reason `concluded`.
        case concluded = 3
        /// Running, with targeting and no schedule or segments, under scheme 2 (whose records
        /// leave bytes 0..<16 free): the program's place is in the plan record itself, so the
        /// check reads no payload record (`checked` reads the experiment's, 104 bytes, first).
        case targeted = 4
    }

    /// `layerCount` layer records.
    let layers: UnsafeRawPointer
    /// `experimentCount` experiment records.
    let experiments: UnsafeRawPointer
    /// Scheme 2: each holdout's `SaltKey` (16 bytes: first, second), `holdoutCount` of them.
    let holdoutKeys: UnsafeRawPointer
    private let storage: UnsafeMutableRawPointer

    /// Bytes per holdout key.
    static let holdoutKeyLength = 16

    /// Builds the plan of a validated payload.
    init(_ p: Payload) {
        let length = Self.recordLength
        let recordBytes = max(1, p.layerCount + p.experimentCount) * length
        let byteCount = recordBytes + p.layerCount * Self.ownerRunsLength + p.holdoutCount * Self.holdoutKeyLength
        let storage = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        let layers = storage
        let experiments = storage + p.layerCount * length
        let ownerRuns = storage + recordBytes
        let holdoutKeys = ownerRuns + p.layerCount * Self.ownerRunsLength
        let usesDigest = p.bucketingScheme == .unitDigest

        for layer in 0..<p.layerCount {
            let record = p.layerRecord(layer)
            let plan = layers + layer * length
            Self.storeSalt(
                p, at: record + PayloadFormat.LayerRecord.salt, into: plan, lengthOffset: Layer.saltLength, offsetAt: Layer.saltOffset,
                keyAt: usesDigest ? Layer.saltKey : nil)
            let table = p.base + (p.bucketTables + layer * Bucketing.bucketCount * 2)
            let runs = ownerRuns + layer * Self.ownerRunsLength
            let fits = Self.storeOwnerRuns(of: table, into: runs)
            plan.storeBytes(of: fits ? UnsafeRawPointer(runs) : table, toByteOffset: Layer.bucketTable, as: UnsafeRawPointer.self)
            plan.storeBytes(of: fits ? 1 : 0, toByteOffset: Layer.ownerRuns, as: UInt8.self)
            plan.storeBytes(of: UInt16(p.int(record + PayloadFormat.LayerRecord.unitType)), toByteOffset: Layer.unitType, as: UInt16.self)
            plan.storeBytes(
                of: p.u32(record + PayloadFormat.LayerRecord.firstExperiment), toByteOffset: Layer.firstExperiment, as: UInt32.self)
            plan.storeBytes(of: p.u32(record + PayloadFormat.LayerRecord.holdoutMask), toByteOffset: Layer.holdoutMask, as: UInt32.self)
            plan.storeBytes(of: p.u32(record + PayloadFormat.LayerRecord.firstOverride), toByteOffset: Layer.firstOverride, as: UInt32.self)
            plan.storeBytes(of: p.u32(record + PayloadFormat.LayerRecord.overrideCount), toByteOffset: Layer.overrideCount, as: UInt32.self)
        }

        let slots = Self.programSlots(p)
        for experiment in 0..<p.experimentCount {
            let record = p.experimentRecord(experiment)
            let plan = experiments + experiment * length
            plan.storeBytes(of: slots[experiment], toByteOffset: Experiment.programSlot, as: UInt8.self)
            Self.storeSalt(
                p, at: record + PayloadFormat.ExperimentRecord.salt, into: plan, lengthOffset: Experiment.saltLength,
                offsetAt: Experiment.saltOffset, keyAt: usesDigest ? Experiment.saltKey : nil)
            let mode = Self.mode(p, record, programInRecord: usesDigest)
            if mode == .targeted {
                plan.storeBytes(
                    of: p.u32(record + PayloadFormat.ExperimentRecord.targetingOffset), toByteOffset: Experiment.targetingOffset,
                    as: UInt32.self)
                plan.storeBytes(
                    of: p.u32(record + PayloadFormat.ExperimentRecord.targetingLength), toByteOffset: Experiment.targetingLength,
                    as: UInt32.self)
            }
            plan.storeBytes(of: mode.rawValue, toByteOffset: Experiment.mode, as: UInt8.self)

            let firstRun = p.int(record + PayloadFormat.ExperimentRecord.firstVariantRun)
            let runCount = p.int(record + PayloadFormat.ExperimentRecord.variantRunCount)
            var inline = runCount <= Self.inlineRunCapacity
            for r in 0..<min(runCount, Self.inlineRunCapacity)
            where p.u16(p.variantRunRecord(firstRun + r) + PayloadFormat.VariantRunRecord.variant) > UInt8.max {
                inline = false
            }
            for r in 0..<Self.inlineRunCapacity {
                var start = UInt16.max
                var variant: UInt8 = 0
                if inline, r < runCount {
                    let run = p.variantRunRecord(firstRun + r)
                    start = p.u16(run + PayloadFormat.VariantRunRecord.start)
                    variant = UInt8(p.u16(run + PayloadFormat.VariantRunRecord.variant))
                }
                plan.storeBytes(of: start, toByteOffset: Experiment.runStarts + 2 * r, as: UInt16.self)
                plan.storeBytes(of: variant, toByteOffset: Experiment.runVariants + r, as: UInt8.self)
            }
            plan.storeBytes(of: inline ? UInt8(runCount) : 0, toByteOffset: Experiment.inlineRuns, as: UInt8.self)
        }

        for holdout in 0..<p.holdoutCount {
            let key = SaltKey(salt: p.stringBytes(at: p.holdoutRecord(holdout) + PayloadFormat.HoldoutRecord.salt))
            Self.store(key, into: holdoutKeys + holdout * Self.holdoutKeyLength)
        }

        self.storage = storage
        self.layers = UnsafeRawPointer(layers)
        self.experiments = UnsafeRawPointer(experiments)
        self.holdoutKeys = UnsafeRawPointer(holdoutKeys)
    }

    /// The placeholder a `Payload` holds between parsing its directory and passing validation;
    /// never evaluated (only `Payload.validate` creates payloads, and it builds the real plan).
    static let unbuilt = EvaluationPlan()

    private init() {
        storage = UnsafeMutableRawPointer.allocate(byteCount: Self.recordLength, alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: Self.recordLength)
        layers = UnsafeRawPointer(storage)
        experiments = UnsafeRawPointer(storage)
        holdoutKeys = UnsafeRawPointer(storage)
    }

    deinit {
        storage.deallocate()
    }

    /// Writes the owner runs of a bucket table (10,000 little-endian u16) at `runs` and returns
    /// true, or returns false when it has more than `ownerRunCapacity` runs (the layer then keeps
    /// reading its table).
    private static func storeOwnerRuns(of table: UnsafeRawPointer, into runs: UnsafeMutableRawPointer) -> Bool {
        var count = 0
        var previous = -1
        for bucket in 0..<Bucketing.bucketCount {
            let owner = Int(UInt16(littleEndian: table.loadUnaligned(fromByteOffset: bucket * 2, as: UInt16.self)))
            guard owner != previous else { continue }
            guard count < ownerRunCapacity else { return false }
            runs.storeBytes(of: UInt16(bucket), toByteOffset: count * 2, as: UInt16.self)
            runs.storeBytes(of: UInt16(owner), toByteOffset: ownerRunCapacity * 2 + count * 2, as: UInt16.self)
            count += 1
            previous = owner
        }
        for padding in count..<ownerRunCapacity {
            runs.storeBytes(of: UInt16.max, toByteOffset: padding * 2, as: UInt16.self)
        }
        return true
    }

    /// Each experiment's memo slot: programs (compared byte for byte) that two or more running
    /// experiments use get slots, the most shared first (ties: the first experiment's order), up
    /// to `memoSlots`; every other experiment gets `noSlot`.
    private static func programSlots(_ p: Payload) -> [UInt8] {
        // The experiments of each distinct program, in the order programs first appear.
        var groupOf: [[UInt8]: Int] = [:]
        var groups: [[Int]] = []
        for experiment in 0..<p.experimentCount {
            let record = p.experimentRecord(experiment)
            let programLength = p.int(record + PayloadFormat.ExperimentRecord.targetingLength)
            guard p.u8(record + PayloadFormat.ExperimentRecord.status) == ExperimentStatus.running.rawValue, programLength > 0 else {
                continue
            }
            let program = Array(
                p.program(offset: p.int(record + PayloadFormat.ExperimentRecord.targetingOffset), length: programLength))
            if let group = groupOf[program] {
                groups[group].append(experiment)
            } else {
                groupOf[program] = groups.count
                groups.append([experiment])
            }
        }
        let shared = groups.enumerated().filter { $0.element.count > 1 }
            .sorted { ($0.element.count, -$0.offset) > ($1.element.count, -$1.offset) }
        var slots = [UInt8](repeating: noSlot, count: p.experimentCount)
        for (slot, group) in shared.prefix(memoSlots).enumerated() {
            for experiment in group.element { slots[experiment] = UInt8(slot) }
        }
        return slots
    }

    /// Records a salt's (validated: at most 255 bytes) payload offset and length, then either
    /// stores its `SaltKey` at `keyAt` (scheme 2) or copies the salt right-aligned into the first
    /// 32 bytes of the record when it fits (scheme 1).
    private static func storeSalt(
        _ p: Payload, at reference: Int, into plan: UnsafeMutableRawPointer, lengthOffset: Int, offsetAt: Int, keyAt: Int?
    ) {
        let salt = p.stringBytes(at: reference)
        plan.storeBytes(of: UInt32(p.strings + p.int(reference)), toByteOffset: offsetAt, as: UInt32.self)
        plan.storeBytes(of: UInt8(salt.count), toByteOffset: lengthOffset, as: UInt8.self)
        if let keyAt {
            store(SaltKey(salt: salt), into: plan + keyAt)
        } else if salt.count <= inlineSaltCapacity, salt.count > 0 {
            (plan + (inlineSaltCapacity - salt.count)).copyMemory(from: salt.baseAddress!, byteCount: salt.count)
        }
    }

    /// Stores a salt key's two words.
    private static func store(_ key: SaltKey, into destination: UnsafeMutableRawPointer) {
        destination.storeBytes(of: key.first, as: UInt64.self)
        destination.storeBytes(of: key.second, toByteOffset: 8, as: UInt64.self)
    }

    /// The experiment's mode, from its status, flags, targeting and segments; `targeted` for a
    /// targeting-only one when the record has room for its program's place (`programInRecord`).
    private static func mode(_ p: Payload, _ record: Int, programInRecord: Bool) -> Mode {
        switch p.u8(record + PayloadFormat.ExperimentRecord.status) {
        case ExperimentStatus.running.rawValue:
            let scheduled =
                p.u8(record + PayloadFormat.ExperimentRecord.flags)
                & (PayloadFormat.ExperimentRecord.flagHasStart | PayloadFormat.ExperimentRecord.flagHasStop) != 0
            let targeted = p.int(record + PayloadFormat.ExperimentRecord.targetingLength) > 0
            let segmented = p.int(record + PayloadFormat.ExperimentRecord.segmentRefCount) > 0
            if targeted, !scheduled, !segmented, programInRecord { return .targeted }
            return scheduled || targeted || segmented ? .checked : .plain
        case ExperimentStatus.paused.rawValue:
            return .paused
        default:
            return .concluded
        }
    }
}

/// The last of `capacity` (a power of two) runs whose first bucket, a u16 at `starts`, is at or
/// before `bucket`; starts past the last run are 0xFFFF, above every bucket, so log2(capacity)
/// halving steps find it without branching on the run count. Variant runs (8) and owner runs
/// (32) are both searched this way.
@_transparent
func lastRun(startingAtOrBefore bucket: Int, starts: UnsafeRawPointer, capacity: Int) -> Int {
    var run = 0
    var step = capacity >> 1
    while step > 0 {
        if Int(starts.load(fromByteOffset: (run &+ step) &* 2, as: UInt16.self)) <= bucket { run &+= step }
        step >>= 1
    }
    return run
}
