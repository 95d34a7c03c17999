extension LoadedBundle {
    /// Evaluates every layer for one request and appends one `Outcome` per layer that holds the
    /// unit to `outcomes` (cleared first), in layer order.
    ///
    /// Per layer, in this order: the layer's unit id must be present; an override for the unit in
    /// any of the layer's experiments wins outright; otherwise the bucket `H(layer salt, id)` names
    /// the owning experiment, if any; a holdout covering the layer, a paused or concluded status,
    /// or a start/stop window excluding `now` give the defaults with that reason; then targeting
    /// and segments; then the variant from `H(experiment salt, id)` over the variant runs.
    ///
    /// Never throws and, once `outcomes` and `input` have grown to their working size, never allocates.
    /// - Parameter now: the evaluation time in unix seconds, for start/stop windows.
    public func evaluate(_ input: borrowing EvaluationInput, now: Int64, into outcomes: inout [Outcome]) {
        outcomes.removeAll(keepingCapacity: true)
        let layerCount = payload.layerCount
        var cache = UnitHashCache()
        withUnsafeTemporaryAllocation(byteCount: BucketKeyBuffer.capacity, alignment: 16) { scratch in
            var key = BucketKeyBuffer(scratch: scratch.baseAddress!)
            input.arena.withUnsafeBytes { arena in
                let holdoutHits = holdoutMembership(input, arena, &key)
                for layer in 0..<layerCount {
                    if let outcome = evaluateLayer(layer, input, arena, &cache, &key, holdoutHits, now) {
                        outcomes.append(outcome)
                    }
                }
            }
        }
    }

    /// Evaluates a single layer (for one flag), without the cost of the others.
    public func evaluate(_ input: borrowing EvaluationInput, now: Int64, layer: Int) -> Outcome? {
        guard layer >= 0, layer < payload.layerCount else { return nil }
        var cache = UnitHashCache()
        return withUnsafeTemporaryAllocation(byteCount: BucketKeyBuffer.capacity, alignment: 16) { scratch in
            var key = BucketKeyBuffer(scratch: scratch.baseAddress!)
            return input.arena.withUnsafeBytes { arena in
                let hits = holdoutMembership(input, arena, &key)
                return evaluateLayer(layer, input, arena, &cache, &key, hits, now)
            }
        }
    }

    /// Bit i set when the unit falls into holdout i.
    private func holdoutMembership(_ input: borrowing EvaluationInput, _ arena: UnsafeRawBufferPointer, _ key: inout BucketKeyBuffer) -> UInt64 {
        let p = payload
        guard p.holdoutCount > 0 else { return 0 }
        var hits: UInt64 = 0
        for h in 0..<p.holdoutCount {
            let record = p.holdoutRecord(h)
            let unitType = p.int(record + PayloadFormat.HoldoutRecord.unitType)
            let unit = input.units[unitType]
            guard !unit.isAbsent else { continue }
            key.load(unitType: unitType, id: slice(arena, unit))
            let bucket = key.bucket(salt: p.stringBytes(at: record + PayloadFormat.HoldoutRecord.salt))
            if bucket < p.int(record + PayloadFormat.HoldoutRecord.shareBuckets) {
                hits |= 1 << UInt64(h)
            }
        }
        return hits
    }

    @inline(__always)
    private func evaluateLayer(
        _ layer: Int, _ input: borrowing EvaluationInput, _ arena: UnsafeRawBufferPointer, _ cache: inout UnitHashCache,
        _ key: inout BucketKeyBuffer, _ holdoutHits: UInt64, _ now: Int64
    ) -> Outcome? {
        let p = payload
        let record = p.layerRecord(layer)
        let unitType = p.int(record + PayloadFormat.LayerRecord.unitType)
        let unit = input.units[unitType]
        guard !unit.isAbsent else { return nil }
        let id = slice(arena, unit)

        let overrideCount = p.int(record + PayloadFormat.LayerRecord.overrideCount)
        if overrideCount > 0,
            let entry = findID(
                first: p.int(record + PayloadFormat.LayerRecord.firstOverride), count: overrideCount,
                hash: cache.hash(unitType, id), id: id)
        {
            let entryRecord = p.idEntryRecord(entry)
            return Outcome(
                layer: Int32(layer), experiment: Int32(p.u32(entryRecord + PayloadFormat.IDEntryRecord.experiment)),
                variant: Int32(p.u32(entryRecord + PayloadFormat.IDEntryRecord.variant)), reason: .override)
        }

        key.load(unitType: unitType, id: id)
        let bucket = key.bucket(salt: p.stringBytes(at: record + PayloadFormat.LayerRecord.salt))
        let owner = p.bucketOwner(layer: layer, bucket: bucket)
        guard owner > 0 else { return nil }
        let experiment = p.int(record + PayloadFormat.LayerRecord.firstExperiment) + owner - 1
        var outcome = Outcome(layer: Int32(layer), experiment: Int32(experiment), variant: -1, reason: .split)

        if holdoutHits & UInt64(p.u32(record + PayloadFormat.LayerRecord.holdoutMask)) != 0 {
            outcome.reason = .holdout
            return outcome
        }
        let e = p.experimentRecord(experiment)
        switch p.u8(e + PayloadFormat.ExperimentRecord.status) {
        case ExperimentStatus.running.rawValue:
            break
        case ExperimentStatus.paused.rawValue:
            outcome.reason = .paused
            return outcome
        default:
            outcome.reason = .concluded
            return outcome
        }
        let flags = p.u8(e + PayloadFormat.ExperimentRecord.flags)
        if flags & PayloadFormat.ExperimentRecord.flagHasStart != 0, now < p.i64(e + PayloadFormat.ExperimentRecord.start) {
            outcome.reason = .scheduled
            return outcome
        }
        if flags & PayloadFormat.ExperimentRecord.flagHasStop != 0, now >= p.i64(e + PayloadFormat.ExperimentRecord.stop) {
            outcome.reason = .scheduled
            return outcome
        }
        let targetingLength = p.int(e + PayloadFormat.ExperimentRecord.targetingLength)
        if targetingLength > 0,
            !runProgram(offset: p.int(e + PayloadFormat.ExperimentRecord.targetingOffset), length: targetingLength, input, arena, &cache)
        {
            outcome.reason = .targetingMiss
            return outcome
        }
        let segmentRefs = p.int(e + PayloadFormat.ExperimentRecord.segmentRefCount)
        if segmentRefs > 0 {
            let first = p.int(e + PayloadFormat.ExperimentRecord.firstSegmentRef)
            var member = false
            for s in first..<(first + segmentRefs) where isMember(segment: p.u32List(s), input, arena, &cache) {
                member = true
                break
            }
            if !member {
                outcome.reason = .targetingMiss
                return outcome
            }
        }
        let variantBucket = key.bucket(salt: p.stringBytes(at: e + PayloadFormat.ExperimentRecord.salt))
        outcome.variant = Int32(
            variantForBucket(
                variantBucket, firstRun: p.int(e + PayloadFormat.ExperimentRecord.firstVariantRun),
                runCount: p.int(e + PayloadFormat.ExperimentRecord.variantRunCount)))
        return outcome
    }

    /// The variant owning `bucket`: the last run starting at or before it.
    @inline(__always)
    func variantForBucket(_ bucket: Int, firstRun: Int, runCount: Int) -> Int {
        let p = payload
        var low = 0
        var high = runCount - 1
        while low < high {
            let middle = (low + high + 1) >> 1
            if Int(p.u16(p.variantRunRecord(firstRun + middle) + PayloadFormat.VariantRunRecord.start)) <= bucket {
                low = middle
            } else {
                high = middle - 1
            }
        }
        return Int(p.u16(p.variantRunRecord(firstRun + low) + PayloadFormat.VariantRunRecord.variant))
    }

    @inline(__always)
    private func slice(_ arena: UnsafeRawBufferPointer, _ span: EvaluationInput.Span) -> UnsafeRawBufferPointer {
        guard let base = arena.baseAddress else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + Int(span.start), count: Int(span.count))
    }


    /// The index of the id entry equal to `id` in a table sorted by `(hash, bytes)`, or nil.
    func findID(first: Int, count: Int, hash: UInt64, id: UnsafeRawBufferPointer) -> Int? {
        let p = payload
        var low = first
        var high = first + count
        while low < high {  // first entry with entryHash >= hash
            let middle = (low + high) >> 1
            if p.u64(p.idEntryRecord(middle) + PayloadFormat.IDEntryRecord.hash) < hash {
                low = middle + 1
            } else {
                high = middle
            }
        }
        var index = low
        while index < first + count {
            let record = p.idEntryRecord(index)
            guard p.u64(record + PayloadFormat.IDEntryRecord.hash) == hash else { return nil }
            if bytesEqual(p.stringBytes(at: record + PayloadFormat.IDEntryRecord.string), id) { return index }
            index += 1
        }
        return nil
    }

    /// Whether the unit is in segment `segment`: its id is listed, or the segment's rule matches.
    func isMember(segment: Int, _ input: borrowing EvaluationInput, _ arena: UnsafeRawBufferPointer, _ cache: inout UnitHashCache) -> Bool {
        let p = payload
        let record = p.segmentRecord(segment)
        let idCount = p.int(record + PayloadFormat.SegmentRecord.idCount)
        if idCount > 0 {
            let unitType = p.int(record + PayloadFormat.SegmentRecord.unitType)
            let unit = input.units[unitType]
            if !unit.isAbsent {
                let id = slice(arena, unit)
                if findID(first: p.int(record + PayloadFormat.SegmentRecord.firstID), count: idCount, hash: cache.hash(unitType, id), id: id)
                    != nil
                {
                    return true
                }
            }
        }
        let ruleLength = p.int(record + PayloadFormat.SegmentRecord.ruleLength)
        guard ruleLength > 0 else { return false }
        return runProgram(offset: p.int(record + PayloadFormat.SegmentRecord.ruleOffset), length: ruleLength, input, arena, &cache)
    }

    /// Runs a validated targeting program.
    func runProgram(
        offset: Int, length: Int, _ input: borrowing EvaluationInput, _ arena: UnsafeRawBufferPointer, _ cache: inout UnitHashCache
    ) -> Bool {
        let p = payload
        let code = p.program(offset: offset, length: length)
        var r = false
        var pc = 0
        while pc < length {
            switch code[pc] {
            case TargetingOpcode.stringCompare.rawValue:
                r = false
                if case .string(let span) = input.values[Int(code.le16(pc + 2))] {
                    let value = slice(arena, span)
                    let constant = constantString(code, pc + 4)
                    r = compareStrings(value, constant, TargetingComparison(rawValue: code[pc + 1])!)
                }
                pc += 12
            case TargetingOpcode.stringIn.rawValue:
                let count = Int(code.le32(pc + 4))
                r = false
                if case .string(let span) = input.values[Int(code.le16(pc + 2))] {
                    let value = slice(arena, span)
                    for i in 0..<count where bytesEqual(value, constantString(code, pc + 8 + i * 8)) {
                        r = true
                        break
                    }
                }
                pc += 8 + count * 8
            case TargetingOpcode.numberCompare.rawValue:
                r = false
                if case .number(let value) = input.values[Int(code.le16(pc + 2))] {
                    let constant = Double(bitPattern: code.le64(pc + 4))
                    let ordering = value < constant ? -1 : (value > constant ? 1 : 0)
                    r = !value.isNaN && TargetingComparison(rawValue: code[pc + 1])!.holds(ordering: ordering)
                }
                pc += 12
            case TargetingOpcode.numberIn.rawValue:
                let count = Int(code.le32(pc + 4))
                r = false
                if case .number(let value) = input.values[Int(code.le16(pc + 2))] {
                    for i in 0..<count where Double(bitPattern: code.le64(pc + 8 + i * 8)) == value {
                        r = true
                        break
                    }
                }
                pc += 8 + count * 8
            case TargetingOpcode.boolEquals.rawValue:
                if case .bool(let value) = input.values[Int(code.le16(pc + 2))] {
                    r = value == (code[pc + 1] == 1)
                } else {
                    r = false
                }
                pc += 4
            case TargetingOpcode.semverCompare.rawValue:
                r = false
                if case .semver(let major, let minor, let patch, let pre) = input.values[Int(code.le16(pc + 2))] {
                    let ordering = Semver.compare(
                        (major, minor, patch), slice(arena, pre),
                        (code.le64(pc + 4), code.le64(pc + 12), code.le64(pc + 20)), constantString(code, pc + 28))
                    r = TargetingComparison(rawValue: code[pc + 1])!.holds(ordering: ordering)
                }
                pc += 36
            case TargetingOpcode.listContains.rawValue:
                r = false
                if case .list(let first, let count) = input.values[Int(code.le16(pc + 2))] {
                    let constant = constantString(code, pc + 4)
                    for i in Int(first)..<(Int(first) + Int(count)) where bytesEqual(slice(arena, input.listItems[i]), constant) {
                        r = true
                        break
                    }
                }
                pc += 12
            case TargetingOpcode.present.rawValue:
                if case .missing = input.values[Int(code.le16(pc + 2))] { r = false } else { r = true }
                pc += 4
            case TargetingOpcode.inSegment.rawValue:
                r = isMember(segment: Int(code.le32(pc + 4)), input, arena, &cache)
                pc += 8
            case TargetingOpcode.not.rawValue:
                r = !r
                pc += 1
            case TargetingOpcode.jumpIfFalse.rawValue:
                pc = r ? pc + 8 : Int(code.le32(pc + 4))
            case TargetingOpcode.jumpIfTrue.rawValue:
                pc = r ? Int(code.le32(pc + 4)) : pc + 8
            default:  // .constant; the validator admits nothing else
                r = code[pc + 1] == 1
                pc += 2
            }
        }
        return r
    }

    @inline(__always)
    private func constantString(_ code: UnsafeRawBufferPointer, _ at: Int) -> UnsafeRawBufferPointer {
        let p = payload
        return UnsafeRawBufferPointer(start: p.base + (p.strings &+ Int(code.le32(at))), count: Int(code.le32(at &+ 4)))
    }

    @inline(__always)
    private func compareStrings(_ value: UnsafeRawBufferPointer, _ constant: UnsafeRawBufferPointer, _ comparison: TargetingComparison) -> Bool {
        switch comparison {
        case .startsWith:
            return value.count >= constant.count && bytesEqual(UnsafeRawBufferPointer(rebasing: value[0..<constant.count]), constant)
        case .endsWith:
            return value.count >= constant.count
                && bytesEqual(UnsafeRawBufferPointer(rebasing: value[(value.count - constant.count)...]), constant)
        case .contains:
            guard constant.count > 0 else { return true }
            guard value.count >= constant.count else { return false }
            for start in 0...(value.count - constant.count)
            where bytesEqual(UnsafeRawBufferPointer(rebasing: value[start..<(start + constant.count)]), constant) {
                return true
            }
            return false
        case .equal:
            return bytesEqual(value, constant)
        case .notEqual:
            return !bytesEqual(value, constant)
        default:
            return comparison.holds(ordering: compareBytes(value, constant))
        }
    }
}

/// The XXH3 of unit ids already hashed for id-table lookups in this evaluation, for the first
/// eight unit types (others are rehashed when needed). Lives on the stack.
struct UnitHashCache {
    private var hashes: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var known: UInt8 = 0

    @inline(__always)
    mutating func hash(_ unitType: Int, _ id: UnsafeRawBufferPointer) -> UInt64 {
        guard unitType < 8 else { return XXH3.hash64(id) }
        let bit = UInt8(1) << UInt8(unitType)
        if known & bit != 0 {
            return withUnsafeBytes(of: &hashes) { $0.load(fromByteOffset: unitType * 8, as: UInt64.self) }
        }
        let value = XXH3.hash64(id)
        withUnsafeMutableBytes(of: &hashes) { $0.storeBytes(of: value, toByteOffset: unitType * 8, as: UInt64.self) }
        known |= bit
        return value
    }
}
