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
        let layerCount = payload.layerCount
        guard layerCount > 0 else {
            outcomes.removeAll(keepingCapacity: true)
            return
        }
        // Room for an outcome per layer, written through a pointer and trimmed afterwards: one
        // uniqueness check per evaluation instead of one per appended outcome.
        if outcomes.count < layerCount {
            outcomes.append(
                contentsOf: repeatElement(
                    Outcome(layer: 0, experiment: 0, variant: -1, reason: .split), count: layerCount &- outcomes.count))
        }
        let written = outcomes.withUnsafeMutableBufferPointer { buffer in
            let destination = buffer.baseAddress!
            return withRequest(input, holdouts: ~0) { request, state in
                // Layers in blocks of `layerBlock`, in two passes: first every layer's bucket
                // owner, then the decisions. The first pass has no branches on the data, so the
                // hashes and bucket-table loads of many layers are in flight together; done layer
                // by layer, each table load waited behind the previous layer's mispredicted
                // branches (targeting, status). About 20% faster for 10% more instructions.
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: Self.layerBlock) { scratch in
                    let owners = scratch.baseAddress!
                    var count = 0
                    var block = 0
                    while block < layerCount {
                        let end = min(block &+ Self.layerBlock, layerCount)
                        for layer in block..<end {
                            owners[layer &- block] = owner(layer, request, &state.key)
                        }
                        for layer in block..<end {
                            if let outcome = decide(layer, owner: owners[layer &- block], request, &state, now) {
                                destination[count] = outcome
                                count &+= 1
                            }
                        }
                        block = end
                    }
                    return count
                }
            }
        }
        outcomes.removeLast(outcomes.count &- written)
    }

    /// Evaluates a single layer (for one flag), without the cost of the others.
    public func evaluate(_ input: borrowing EvaluationInput, now: Int64, layer: Int) -> Outcome? {
        guard layer >= 0, layer < payload.layerCount else { return nil }
        // Only the holdouts that cover this layer can change its outcome.
        let l = payload.plan.layers + layer &* EvaluationPlan.recordLength
        let holdouts = UInt64(l.load(fromByteOffset: EvaluationPlan.Layer.holdoutMask, as: UInt32.self))
        return withRequest(input, holdouts: holdouts) { request, state in
            decide(layer, owner: owner(layer, request, &state.key), request, &state, now)
        }
    }

    /// Runs `body` with the request's arrays as pointers, a stack buffer for hash keys and the
    /// unit's membership in the holdouts of the `holdouts` bit set computed.
    @inline(__always)
    private func withRequest<R>(
        _ input: borrowing EvaluationInput, holdouts: UInt64, _ body: (RequestView, inout EvaluationState) -> R
    ) -> R {
        withUnsafeTemporaryAllocation(byteCount: BucketKeyBuffer.capacity, alignment: 16) { scratch in
            input.arena.withUnsafeBytes { arena in
                input.units.withUnsafeBufferPointer { units in
                    input.values.withUnsafeBufferPointer { values in
                        input.listItems.withUnsafeBufferPointer { listItems in
                            let request = RequestView(arena: arena, units: units, values: values, listItems: listItems)
                            var key = BucketKeyBuffer(scratch: scratch.baseAddress!, scheme: payload.bucketingScheme)
                            let holdoutHits = holdoutMembership(request, holdouts, &key)
                            var state = EvaluationState(key: key, holdoutHits: holdoutHits)
                            return body(request, &state)
                        }
                    }
                }
            }
        }
    }

    /// Bit i set when the unit falls into holdout i; only the holdouts whose bit is set in
    /// `holdouts` are hashed (the others stay 0).
    private func holdoutMembership(_ request: RequestView, _ holdouts: UInt64, _ key: inout BucketKeyBuffer) -> UInt64 {
        let p = payload
        guard p.holdoutCount > 0 else { return 0 }
        var hits: UInt64 = 0
        for h in 0..<p.holdoutCount where holdouts & (1 << UInt64(h)) != 0 {
            let record = p.holdoutRecord(h)
            let unitType = p.int(record &+ PayloadFormat.HoldoutRecord.unitType)
            let unit = request.unit(unitType)
            guard !unit.isAbsent else { continue }
            key.load(unitType: unitType, id: request.bytes(unit))
            let bucket =
                key.usesDigest
                ? key.bucket(keyAt: p.plan.holdoutKeys + h &* EvaluationPlan.holdoutKeyLength)
                : key.bucket(salt: p.stringBytes(at: record &+ PayloadFormat.HoldoutRecord.salt))
            if bucket < p.int(record &+ PayloadFormat.HoldoutRecord.shareBuckets) {
                hits |= 1 << UInt64(h)
            }
        }
        return hits
    }

    /// Layers whose owners are resolved before their decisions are made.
    static var layerBlock: Int { 64 }

    /// The layer's bucket owner for the unit (0: a free bucket), or -1 when the request has no id
    /// of the layer's unit type. Reads the layer's plan record and bucket table; leaves the id
    /// loaded in `key`.
    @_transparent
    private func owner(_ layer: Int, _ request: RequestView, _ key: inout BucketKeyBuffer) -> Int32 {
        typealias Layer = EvaluationPlan.Layer
        let l = payload.plan.layers + layer &* EvaluationPlan.recordLength
        let unitType = Int(l.load(fromByteOffset: Layer.unitType, as: UInt16.self))
        if unitType != key.unitType {  // only present ids are loaded
            let unit = request.unit(unitType)
            guard !unit.isAbsent else { return -1 }
            key.load(unitType: unitType, id: request.bytes(unit))
        }
        let bucket = self.bucket(l, saltLengthAt: Layer.saltLength, offsetAt: Layer.saltOffset, &key)
        return bucketOwner(l, bucket)
    }

    /// The owner of layer bucket `bucket` (0: free) of the layer whose plan record is `l`: from its
    /// owner runs when the plan has them (`EvaluationPlan.ownerRunCapacity`: padded with 0xFFFF
    /// starts, so five halving steps find the last run starting at or before the bucket without
    /// branching on the run count), else from its bucket table.
    @_transparent
    func bucketOwner(_ l: UnsafeRawPointer, _ bucket: Int) -> Int32 {
        typealias Layer = EvaluationPlan.Layer
        let table = l.load(fromByteOffset: Layer.bucketTable, as: UnsafeRawPointer.self)
        guard l.load(fromByteOffset: Layer.ownerRuns, as: UInt8.self) != 0 else {
            return Int32(UInt16(littleEndian: table.loadUnaligned(fromByteOffset: bucket &* 2, as: UInt16.self)))
        }
        let run = lastRun(startingAtOrBefore: bucket, starts: table, capacity: EvaluationPlan.ownerRunCapacity)
        return Int32(table.load(fromByteOffset: EvaluationPlan.ownerRunCapacity &* 2 &+ run &* 2, as: UInt16.self))
    }

    /// The owner of bucket `bucket` of `layer` as evaluation finds it (runs or table). For tests,
    /// which check it against the payload's bucket table.
    func planOwner(layer: Int, bucket: Int) -> Int {
        Int(bucketOwner(payload.plan.layers + layer * EvaluationPlan.recordLength, bucket))
    }

    /// Whether the plan searches `layer`'s owner runs rather than reading its bucket table. For tests.
    func planUsesOwnerRuns(layer: Int) -> Bool {
        (payload.plan.layers + layer * EvaluationPlan.recordLength).load(fromByteOffset: EvaluationPlan.Layer.ownerRuns, as: UInt8.self)
            != 0
    }

    /// The memo slot of `experiment`'s targeting program (`EvaluationPlan.noSlot`: none). For tests.
    func planProgramSlot(experiment: Int) -> UInt8 {
        (payload.plan.experiments + experiment * EvaluationPlan.recordLength).load(
            fromByteOffset: EvaluationPlan.Experiment.programSlot, as: UInt8.self)
    }

    /// The outcome of a layer whose bucket owner is `owner` (see `owner`): overrides, then the
    /// owner's holdout, status, schedule, targeting and segments, then the variant hash. Goes to
    /// the payload only for overrides and gated experiments.
    @_transparent
    private func decide(_ layer: Int, owner: Int32, _ request: RequestView, _ state: inout EvaluationState, _ now: Int64) -> Outcome? {
        typealias Layer = EvaluationPlan.Layer
        typealias Experiment = EvaluationPlan.Experiment
        guard owner >= 0 else { return nil }
        let plan = payload.plan
        let l = plan.layers + layer &* EvaluationPlan.recordLength
        let unitType = Int(l.load(fromByteOffset: Layer.unitType, as: UInt16.self))
        if unitType != state.key.unitType {  // another unit type's id was loaded since
            state.key.load(unitType: unitType, id: request.bytes(request.unit(unitType)))
        }

        let overrideCount = Int(l.load(fromByteOffset: Layer.overrideCount, as: UInt32.self))
        if overrideCount > 0,
            let outcome = override(
                layer, first: Int(l.load(fromByteOffset: Layer.firstOverride, as: UInt32.self)),
                count: overrideCount, unitType: unitType, id: state.key.id, &state.cache)
        {
            return outcome
        }

        guard owner > 0 else { return nil }
        let experiment = Int(l.load(fromByteOffset: Layer.firstExperiment, as: UInt32.self)) &+ Int(owner) &- 1
        var outcome = Outcome(
            layer: Int32(truncatingIfNeeded: layer), experiment: Int32(truncatingIfNeeded: experiment), variant: -1, reason: .split)

        if state.holdoutHits & UInt64(l.load(fromByteOffset: Layer.holdoutMask, as: UInt32.self)) != 0 {
            outcome.reason = .holdout
            return outcome
        }
        let e = plan.experiments + experiment &* EvaluationPlan.recordLength
        let mode = e.load(fromByteOffset: Experiment.mode, as: UInt8.self)
        if mode != EvaluationPlan.Mode.plain.rawValue {
            if mode == EvaluationPlan.Mode.targeted.rawValue {
                guard targets(e, request, &state, now) else {
                    outcome.reason = .targetingMiss
                    return outcome
                }
            } else if mode == EvaluationPlan.Mode.checked.rawValue {
                let reason = gate(experiment, slot: e.load(fromByteOffset: Experiment.programSlot, as: UInt8.self), request, &state, now)
                guard reason == .split else {
                    outcome.reason = reason
                    return outcome
                }
            } else {
                outcome.reason = mode == EvaluationPlan.Mode.paused.rawValue ? .paused : .concluded
                return outcome
            }
        }
        let variantBucket = self.bucket(e, saltLengthAt: Experiment.saltLength, offsetAt: Experiment.saltOffset, &state.key)
        outcome.variant = Int32(truncatingIfNeeded: variant(e, experiment, variantBucket))
        return outcome
    }

    /// The bucket of the loaded id under the salt of a plan record: from the record itself when it
    /// is inline, else from the payload. (`@_transparent` because with `@inline(__always)` the
    /// optimizer still outlined the second call site, at about 16 instructions a layer.)
    @_transparent
    private func bucket(_ record: UnsafeRawPointer, saltLengthAt lengthOffset: Int, offsetAt: Int, _ key: inout BucketKeyBuffer) -> Int {
        // Scheme 2: the salt's key sits at the same offset in layer and experiment records.
        if key.usesDigest { return key.bucket(keyAt: record + EvaluationPlan.Layer.saltKey) }
        let saltLength = Int(record.load(fromByteOffset: lengthOffset, as: UInt8.self))
        if saltLength <= EvaluationPlan.inlineSaltCapacity {
            return key.bucket(rightAlignedSalt: record, length: saltLength)
        }
        let offset = Int(record.load(fromByteOffset: offsetAt, as: UInt32.self))
        return key.bucket(salt: UnsafeRawBufferPointer(start: payload.base + offset, count: saltLength))
    }

    /// The variant owning variant bucket `bucket` of `experiment` (plan record `e`): the last run
    /// starting at or before it. Inline runs are padded to eight with starts of 0xFFFF, above every
    /// bucket, so three halving steps find it without branching on the run count.
    @inline(__always)
    func variant(_ e: UnsafeRawPointer, _ experiment: Int, _ bucket: Int) -> Int {
        typealias Experiment = EvaluationPlan.Experiment
        guard e.load(fromByteOffset: Experiment.inlineRuns, as: UInt8.self) != 0 else {
            let record = payload.experimentRecord(experiment)
            return variantForBucket(
                bucket, firstRun: payload.int(record &+ PayloadFormat.ExperimentRecord.firstVariantRun),
                runCount: payload.int(record &+ PayloadFormat.ExperimentRecord.variantRunCount))
        }
        let run = lastRun(
            startingAtOrBefore: bucket, starts: e + Experiment.runStarts, capacity: EvaluationPlan.inlineRunCapacity)
        return Int(e.load(fromByteOffset: Experiment.runVariants &+ run, as: UInt8.self))
    }

    /// The variant of `experiment` owning variant bucket `bucket`, from the plan (as evaluation
    /// finds it). For tests, which check it against `variantForBucket` over the payload's runs.
    func planVariant(experiment: Int, bucket: Int) -> Int {
        variant(payload.plan.experiments + experiment * EvaluationPlan.recordLength, experiment, bucket)
    }

    /// The variant owning `bucket`: the last run starting at or before it, by binary search over
    /// the payload's runs.
    func variantForBucket(_ bucket: Int, firstRun: Int, runCount: Int) -> Int {
        let p = payload
        var low = 0
        var high = runCount &- 1
        while low < high {
            let middle = (low &+ high &+ 1) >> 1
            if Int(p.u16(p.variantRunRecord(firstRun &+ middle) &+ PayloadFormat.VariantRunRecord.start)) <= bucket {
                low = middle
            } else {
                high = middle &- 1
            }
        }
        return Int(p.u16(p.variantRunRecord(firstRun &+ low) &+ PayloadFormat.VariantRunRecord.variant))
    }

    /// The override outcome for the unit in a layer's override table, if it has one.
    @inline(never)
    private func override(_ layer: Int, first: Int, count: Int, unitType: Int, id: UnsafeRawBufferPointer, _ cache: inout UnitHashCache)
        -> Outcome?
    {
        let p = payload
        guard let entry = findID(first: first, count: count, hash: cache.hash(unitType, id), id: id) else { return nil }
        let entryRecord = p.idEntryRecord(entry)
        return Outcome(
            layer: Int32(truncatingIfNeeded: layer), experiment: Int32(p.u32(entryRecord &+ PayloadFormat.IDEntryRecord.experiment)),
            variant: Int32(p.u32(entryRecord &+ PayloadFormat.IDEntryRecord.variant)), reason: .override)
    }

    /// For a running experiment whose only check is its targeting (plan mode `targeted`, plan
    /// record `e`): whether the unit passes it. `gate` without the payload record.
    @inline(never)
    private func targets(_ e: UnsafeRawPointer, _ request: RequestView, _ state: inout EvaluationState, _ now: Int64) -> Bool {
        typealias Experiment = EvaluationPlan.Experiment
        return passes(
            offset: Int(e.load(fromByteOffset: Experiment.targetingOffset, as: UInt32.self)),
            length: Int(e.load(fromByteOffset: Experiment.targetingLength, as: UInt32.self)),
            slot: e.load(fromByteOffset: Experiment.programSlot, as: UInt8.self), request, &state, now)
    }

    /// Whether the request passes a targeting program: from this evaluation's memo when a program
    /// with the same memo slot already ran, else by running it (and, with a slot, remembering it).
    @inline(__always)
    private func passes(
        offset: Int, length: Int, slot: UInt8, _ request: RequestView, _ state: inout EvaluationState, _ now: Int64
    ) -> Bool {
        if let known = state.programs.result(slot) { return known }
        let passed = runProgram(offset: offset, length: length, request, &state.cache, now: now)
        state.programs.record(slot, passed)
        return passed
    }

    /// For a running experiment with a schedule, targeting or segments: `.split` when the unit
    /// passes them all, else the reason it does not (`scheduled`, `targetingMiss`).
    @inline(never)
    private func gate(_ experiment: Int, slot: UInt8, _ request: RequestView, _ state: inout EvaluationState, _ now: Int64) -> Reason {
        let p = payload
        let e = p.experimentRecord(experiment)
        let flags = p.u8(e &+ PayloadFormat.ExperimentRecord.flags)
        if flags & PayloadFormat.ExperimentRecord.flagHasStart != 0, now < p.i64(e &+ PayloadFormat.ExperimentRecord.start) {
            return .scheduled
        }
        if flags & PayloadFormat.ExperimentRecord.flagHasStop != 0, now >= p.i64(e &+ PayloadFormat.ExperimentRecord.stop) {
            return .scheduled
        }
        let targetingLength = p.int(e &+ PayloadFormat.ExperimentRecord.targetingLength)
        if targetingLength > 0,
            !passes(
                offset: p.int(e &+ PayloadFormat.ExperimentRecord.targetingOffset), length: targetingLength, slot: slot, request,
                &state, now)
        {
            return .targetingMiss
        }
        let segmentRefs = p.int(e &+ PayloadFormat.ExperimentRecord.segmentRefCount)
        if segmentRefs > 0 {
            let first = p.int(e &+ PayloadFormat.ExperimentRecord.firstSegmentRef)
            for s in first..<(first &+ segmentRefs) where isMember(segment: p.u32List(s), request, &state.cache, now: now) {
                return .split
            }
            return .targetingMiss
        }
        return .split
    }

    /// The index of the id entry equal to `id` in a table sorted by `(hash, bytes)`, or nil.
    func findID(first: Int, count: Int, hash: UInt64, id: UnsafeRawBufferPointer) -> Int? {
        let p = payload
        var low = first
        var high = first &+ count
        while low < high {  // first entry with entryHash >= hash
            let middle = (low &+ high) >> 1
            if p.u64(p.idEntryRecord(middle) &+ PayloadFormat.IDEntryRecord.hash) < hash {
                low = middle &+ 1
            } else {
                high = middle
            }
        }
        var index = low
        while index < first &+ count {
            let record = p.idEntryRecord(index)
            guard p.u64(record &+ PayloadFormat.IDEntryRecord.hash) == hash else { return nil }
            if bytesEqual(p.stringBytes(at: record &+ PayloadFormat.IDEntryRecord.string), id) { return index }
            index &+= 1
        }
        return nil
    }

    /// Whether the unit is in segment `segment`: its id is listed, or the segment's rule matches.
    func isMember(segment: Int, _ request: RequestView, _ cache: inout UnitHashCache, now: Int64) -> Bool {
        let p = payload
        let record = p.segmentRecord(segment)
        let idCount = p.int(record &+ PayloadFormat.SegmentRecord.idCount)
        if idCount > 0 {
            let unitType = p.int(record &+ PayloadFormat.SegmentRecord.unitType)
            let unit = request.unit(unitType)
            if !unit.isAbsent {
                let id = request.bytes(unit)
                if findID(
                    first: p.int(record &+ PayloadFormat.SegmentRecord.firstID), count: idCount, hash: cache.hash(unitType, id), id: id)
                    != nil
                {
                    return true
                }
            }
        }
        let ruleLength = p.int(record &+ PayloadFormat.SegmentRecord.ruleLength)
        guard ruleLength > 0 else { return false }
        return runProgram(offset: p.int(record &+ PayloadFormat.SegmentRecord.ruleOffset), length: ruleLength, request, &cache, now: now)
    }

    /// Runs a validated targeting program at request time `now` (unix seconds, for `now()`).
    @inline(__always)
    func runProgram(offset: Int, length: Int, _ request: RequestView, _ cache: inout UnitHashCache, now: Int64) -> Bool {
        let code = payload.program(offset: offset, length: length)
        var r = false
        var pc = 0
        while pc < length {
            switch code[pc] {
            case TargetingOpcode.stringCompare.rawValue:
                r = false
                if case .string(let span) = request.value(Int(code.le16(pc &+ 2))) {
                    let cmp = code[pc &+ 1]
                    r =
                        cmp < TargetingComparison.asciiFolded
                        ? compareStrings(request.bytes(span), constantString(code, pc &+ 4), TargetingComparison(rawValue: cmp)!)
                        : compareFolded(request.bytes(span), constantString(code, pc &+ 4), cmp & ~TargetingComparison.asciiFolded)
                }
                pc &+= TargetingOpcode.stringCompare.length
            case TargetingOpcode.stringIn.rawValue:
                let count = Int(code.le32(pc &+ 4))
                r = false
                if case .string(let span) = request.value(Int(code.le16(pc &+ 2))) {
                    let list = pc &+ TargetingOpcode.stringIn.length
                    let end = list &+ count &* TargetingOpcode.listElementLength
                    r =
                        code[pc &+ 1] == 0
                        ? containsString(request.bytes(span), code, from: list, to: end)
                        : containsFolded(request.bytes(span), code, from: list, to: end)
                }
                pc &+= TargetingOpcode.stringIn.length &+ count &* TargetingOpcode.listElementLength
            case TargetingOpcode.numberCompare.rawValue:
                r = false
                if case .number(let value) = request.value(Int(code.le16(pc &+ 2))) {
                    let constant = Double(bitPattern: code.le64(pc &+ 4))
                    let ordering = value < constant ? -1 : (value > constant ? 1 : 0)
                    r = !value.isNaN && TargetingComparison.holds(code[pc &+ 1], ordering: ordering)
                }
                pc &+= TargetingOpcode.numberCompare.length
            case TargetingOpcode.numberIn.rawValue:
                let count = Int(code.le32(pc &+ 4))
                r = false
                if case .number(let value) = request.value(Int(code.le16(pc &+ 2))) {
                    let list = pc &+ TargetingOpcode.numberIn.length
                    for i in 0..<count where Double(bitPattern: code.le64(list &+ i &* TargetingOpcode.listElementLength)) == value {
                        r = true
                        break
                    }
                }
                pc &+= TargetingOpcode.numberIn.length &+ count &* TargetingOpcode.listElementLength
            case TargetingOpcode.boolEquals.rawValue:
                if case .bool(let value) = request.value(Int(code.le16(pc &+ 2))) {
                    r = value == (code[pc &+ 1] == 1)
                } else {
                    r = false
                }
                pc &+= TargetingOpcode.boolEquals.length
            case TargetingOpcode.semverCompare.rawValue:
                r = false
                if case .semver(let major, let minor, let patch, let pre) = request.value(Int(code.le16(pc &+ 2))) {
                    let ordering = Semver.compare(
                        (major, minor, patch), request.bytes(pre),
                        (code.le64(pc &+ 4), code.le64(pc &+ 12), code.le64(pc &+ 20)), constantString(code, pc &+ 28))
                    r = TargetingComparison.holds(code[pc &+ 1], ordering: ordering)
                }
                pc &+= TargetingOpcode.semverCompare.length
            case TargetingOpcode.listContains.rawValue:
                r = false
                if case .list(let first, let count) = request.value(Int(code.le16(pc &+ 2))) {
                    for i in Int(first)..<(Int(first) + Int(count)) where equalsConstant(request.bytes(request.listItem(i)), code, pc &+ 4)
                    {
                        r = true
                        break
                    }
                }
                pc &+= TargetingOpcode.listContains.length
            case TargetingOpcode.present.rawValue:
                if case .missing = request.value(Int(code.le16(pc &+ 2))) { r = false } else { r = true }
                pc &+= TargetingOpcode.present.length
            case TargetingOpcode.inSegment.rawValue:
                r = isMember(segment: Int(code.le32(pc &+ 4)), request, &cache, now: now)
                pc &+= TargetingOpcode.inSegment.length
            case TargetingOpcode.not.rawValue:
                r = !r
                pc &+= TargetingOpcode.not.length
            case TargetingOpcode.jumpIfFalse.rawValue:
                pc = r ? pc &+ TargetingOpcode.jumpIfFalse.length : Int(code.le32(pc &+ 4))
            case TargetingOpcode.jumpIfTrue.rawValue:
                pc = r ? Int(code.le32(pc &+ 4)) : pc &+ TargetingOpcode.jumpIfTrue.length
            case TargetingOpcode.timeCompare.rawValue:
                r = false
                if case .time(let seconds) = request.value(Int(code.le16(pc &+ 2))) {
                    let constant = Int64(bitPattern: code.le64(pc &+ 4))
                    r = TargetingComparison.holds(code[pc &+ 1], ordering: seconds < constant ? -1 : (seconds > constant ? 1 : 0))
                }
                pc &+= TargetingOpcode.timeCompare.length
            case TargetingOpcode.nowCompare.rawValue:
                let constant = Int64(bitPattern: code.le64(pc &+ 4))
                r = TargetingComparison.holds(code[pc &+ 1], ordering: now < constant ? -1 : (now > constant ? 1 : 0))
                pc &+= TargetingOpcode.nowCompare.length
            case TargetingOpcode.regexMatch.rawValue:
                let states = Int(code.le16(pc &+ 4))
                let classes = Int(code.le16(pc &+ 6))
                r = false
                if case .string(let span) = request.value(Int(code.le16(pc &+ 2))) {
                    r = runAutomaton(
                        request.bytes(span), code, at: pc &+ TargetingOpcode.regexMatch.length, states: states, classes: classes)
                }
                pc &+= TargetingOpcode.regexMatch.length &+ 256 &+ states &+ states &* classes
            case TargetingOpcode.ipIn.rawValue:
                let count = Int(code.le32(pc &+ 4))
                let list = pc &+ TargetingOpcode.ipIn.length
                r = false
                if case .ip(let high, let low) = request.value(Int(code.le16(pc &+ 2))) {
                    r = containsAddress(high, low, code, from: list, count: count)
                }
                pc = list &+ count &* TargetingOpcode.ipIn.elementLength
            default:  // .constant; the validator admits nothing else
                r = code[pc &+ 1] == 1
                pc &+= TargetingOpcode.constant.length
            }
        }
        return r
    }

    /// The string constant whose StrRef is at `at` in a validated program.
    @inline(__always)
    private func constantString(_ code: UnsafeRawBufferPointer, _ at: Int) -> UnsafeRawBufferPointer {
        let p = payload
        return UnsafeRawBufferPointer(start: p.base + (p.strings &+ Int(code.le32(at))), count: Int(code.le32(at &+ 4)))
    }

    /// Whether `value` equals one of the string constants whose StrRefs fill `code[from..<to]`.
    /// Lengths first; a value of up to 16 bytes is reduced to two words once, then each constant of
    /// its length costs two loads and a compare. (`@_transparent`: outlined, the call cost more
    /// than the loop.)
    @_transparent
    private func containsString(_ value: UnsafeRawBufferPointer, _ code: UnsafeRawBufferPointer, from: Int, to: Int) -> Bool {
        let count = value.count
        let strings = payload.base + payload.strings
        /// Whether a constant of `count` bytes satisfies `matches`, given its bytes.
        @inline(__always)
        func scan(_ matches: (UnsafeRawPointer) -> Bool) -> Bool {
            var at = from
            while at < to {
                if Int(code.le32(at &+ 4)) == count, matches(strings + Int(code.le32(at))) { return true }
                at &+= 8
            }
            return false
        }
        // One loop per length class, so the loads per constant are fixed.
        guard count > 0 else { return scan { _ in true } }
        let bytes = value.baseAddress!
        switch count {
        case 1:
            let key = bytes.load(as: UInt8.self)
            return scan { $0.load(as: UInt8.self) == key }
        case 2...3:
            let key = (bytes.loadUnaligned(as: UInt16.self), bytes.loadUnaligned(fromByteOffset: count &- 2, as: UInt16.self))
            return scan { ($0.loadUnaligned(as: UInt16.self), $0.loadUnaligned(fromByteOffset: count &- 2, as: UInt16.self)) == key }
        case 4...7:
            let key = (bytes.loadUnaligned(as: UInt32.self), bytes.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self))
            return scan { ($0.loadUnaligned(as: UInt32.self), $0.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self)) == key }
        case 8...16:
            let key = (bytes.loadUnaligned(as: UInt64.self), bytes.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self))
            return scan { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self)) == key }
        default:
            return scan { memcmpBytes(bytes, $0, count) == 0 }
        }
    }

    /// Runs `regexMatch`'s automaton (class map at `at`, then accept flags, then transitions) over
    /// `value`: one table step per byte, and a stop as soon as a state accepts at once.
    @inline(never)
    private func runAutomaton(_ value: UnsafeRawBufferPointer, _ code: UnsafeRawBufferPointer, at: Int, states: Int, classes: Int) -> Bool {
        let accept = at &+ 256
        let next = accept &+ states
        var state = 0
        if code[accept] & 2 != 0 { return true }
        for byte in value {
            state = Int(code[next &+ state &* classes &+ Int(code[at &+ Int(byte)])])
            if code[accept &+ state] & 2 != 0 { return true }
        }
        return code[accept &+ state] & 1 != 0
    }

    /// Whether the address `high`, `low` lies in one of the `count` CIDR blocks from `from`
    /// (`ipIn`'s network and mask pairs).
    @inline(never)
    private func containsAddress(_ high: UInt64, _ low: UInt64, _ code: UnsafeRawBufferPointer, from: Int, count: Int) -> Bool {
        var at = from
        for _ in 0..<count {
            if high & code.le64(at &+ 16) == code.le64(at), low & code.le64(at &+ 24) == code.le64(at &+ 8) { return true }
            at &+= TargetingOpcode.ipIn.elementLength
        }
        return false
    }

    /// `lower(x) <cmp> constant`: `value` with ASCII `A`-`Z` folded to `a`-`z`, compared with the
    /// constant's bytes as they are; `cmp` is a foldable comparison's raw value (the validator
    /// admits no other). Out of line: the byte-exact comparisons stay as short as they were.
    @inline(never)
    private func compareFolded(_ value: UnsafeRawBufferPointer, _ constant: UnsafeRawBufferPointer, _ cmp: UInt8) -> Bool {
        let count = constant.count
        switch cmp {
        case TargetingComparison.equal.rawValue:
            return value.count == count && foldedEqual(value, at: 0, constant)
        case TargetingComparison.notEqual.rawValue:
            return !(value.count == count && foldedEqual(value, at: 0, constant))
        case TargetingComparison.startsWith.rawValue:
            return value.count >= count && foldedEqual(value, at: 0, constant)
        case TargetingComparison.endsWith.rawValue:
            return value.count >= count && foldedEqual(value, at: value.count &- count, constant)
        default:  // contains
            guard value.count >= count else { return false }
            for start in 0...(value.count &- count) where foldedEqual(value, at: start, constant) { return true }
            return false
        }
    }

    /// Whether the folded value equals one of the string constants whose StrRefs fill
    /// `code[from..<to]` (`lower(x) in [...]`).
    @inline(never)
    private func containsFolded(_ value: UnsafeRawBufferPointer, _ code: UnsafeRawBufferPointer, from: Int, to: Int) -> Bool {
        var at = from
        while at < to {
            let constant = constantString(code, at)
            if constant.count == value.count, foldedEqual(value, at: 0, constant) { return true }
            at &+= TargetingOpcode.listElementLength
        }
        return false
    }

    /// Whether `value[start..<start + constant.count]`, ASCII-folded, equals `constant`; the range
    /// must lie within `value`.
    @inline(__always)
    private func foldedEqual(_ value: UnsafeRawBufferPointer, at start: Int, _ constant: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i < constant.count {
            let byte = value[start &+ i]
            // `byte - 65 < 26` exactly for `A`-`Z`; setting bit 5 makes those `a`-`z`.
            let folded = byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
            if folded != constant[i] { return false }
            i &+= 1
        }
        return true
    }

    /// Whether `value` equals the string constant whose StrRef is at `at`: lengths first, then
    /// the bytes, inline for short strings.
    @inline(__always)
    private func equalsConstant(_ value: UnsafeRawBufferPointer, _ code: UnsafeRawBufferPointer, _ at: Int) -> Bool {
        bytesEqual(value, constantString(code, at))
    }

    @inline(__always)
    private func compareStrings(_ value: UnsafeRawBufferPointer, _ constant: UnsafeRawBufferPointer, _ comparison: TargetingComparison)
        -> Bool
    {
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

/// One request as the evaluator reads it: the input's arrays as buffers, valid only inside the
/// evaluation that made it. Unit and attribute indices come from the bundle and are checked
/// against the input's shape (an input made for another bundle traps, as array indexing did);
/// spans and list positions were made by the input itself.
struct RequestView {
    let arena: UnsafeRawBufferPointer
    let units: UnsafeBufferPointer<EvaluationInput.Span>
    let values: UnsafeBufferPointer<EvaluationInput.Value>
    let listItems: UnsafeBufferPointer<EvaluationInput.Span>

    @inline(__always)
    func unit(_ index: Int) -> EvaluationInput.Span {
        precondition(index < units.count, "unit type index out of range: the input was shaped for another bundle")
        return units[index]
    }

    @inline(__always)
    func value(_ index: Int) -> EvaluationInput.Value {
        precondition(index < values.count, "attribute index out of range: the input was shaped for another bundle")
        return values[index]
    }

    @inline(__always)
    func listItem(_ index: Int) -> EvaluationInput.Span {
        precondition(index >= 0 && index < listItems.count, "list item out of range")
        return listItems[index]
    }

    /// The bytes of an arena span.
    @inline(__always)
    func bytes(_ span: EvaluationInput.Span) -> UnsafeRawBufferPointer {
        guard let base = arena.baseAddress else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + Int(span.start), count: Int(span.count))
    }
}

/// Per-evaluation scratch state, on the stack.
struct EvaluationState {
    /// `salt ‖ 0x00 ‖ id` for the current unit.
    var key: BucketKeyBuffer
    /// Hashes of unit ids for id-table lookups.
    var cache = UnitHashCache()
    /// Bit i set when the unit falls into holdout i.
    var holdoutHits: UInt64 = 0
    /// Results of the shared targeting programs already run in this evaluation.
    var programs = ProgramMemo()
}

/// The results of shared targeting programs in one evaluation, by memo slot
/// (`EvaluationPlan.memoSlots`). Exact: within an evaluation a program's result depends only on
/// the request and `now`, which do not change (segments read their own unit type's id).
struct ProgramMemo {
    private var known: UInt64 = 0
    private var passed: UInt64 = 0

    /// The result recorded for `slot`, or nil (none yet, or no slot).
    @inline(__always)
    func result(_ slot: UInt8) -> Bool? {
        guard slot < EvaluationPlan.memoSlots else { return nil }
        let bit = UInt64(1) << UInt64(slot)
        return known & bit != 0 ? passed & bit != 0 : nil
    }

    @inline(__always)
    mutating func record(_ slot: UInt8, _ result: Bool) {
        guard slot < EvaluationPlan.memoSlots else { return }
        let bit = UInt64(1) << UInt64(slot)
        known |= bit
        if result { passed |= bit }
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
