@testable import AllotCore

/// The evaluator and answer writer as they were before the evaluation plan (main at b92f689),
/// written for clarity rather than speed and kept as an oracle: the differential tests require the
/// optimized evaluator to give the same outcomes and the same answer bytes for every request.
///
/// It reads the payload's own records (not the plan), hashes through the public
/// `Bucketing.hash(salt:unitID:)` (not the evaluator's key buffer) under scheme 1 and, under
/// scheme 2, XXH3-64 of the 16 canonical bytes of the id's XXH3-128 with the salt's seed spelled
/// out here (not `UnitDigest` and `SaltKey`, which the evaluator uses), binary-searches the variant
/// runs and compares bytes with `elementsEqual`, so it shares none of the optimized code paths.
struct ReferenceEvaluator {
    let bundle: LoadedBundle
    var p: Payload { bundle.payload }

    func evaluate(_ input: EvaluationInput, now: Int64) -> [Outcome] {
        let hits = holdoutMembership(input)
        return (0..<p.layerCount).compactMap { evaluateLayer($0, input, hits, now) }
    }

    func evaluate(_ input: EvaluationInput, now: Int64, layer: Int) -> Outcome? {
        guard layer >= 0, layer < p.layerCount else { return nil }
        return evaluateLayer(layer, input, holdoutMembership(input), now)
    }

    private func id(_ input: EvaluationInput, _ span: EvaluationInput.Span) -> [UInt8] {
        Array(input.arena[Int(span.start)..<(Int(span.start) + Int(span.count))])
    }

    private func bucket(_ saltAt: Int, _ id: [UInt8]) -> Int {
        let salt = Array(p.stringBytes(at: saltAt))
        if p.bucketingScheme == .unitDigest {
            let digest = XXH3.hash128(id)
            var canonical: [UInt8] = []
            for word in [digest.high, digest.low] {
                for shift in stride(from: 56, through: 0, by: -8) { canonical.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
            }
            return Bucketing.bucket(forHash: XXH3.hash64(canonical, seed: XXH3.hash64(salt)))
        }
        return salt.withUnsafeBytes { s in
            id.withUnsafeBytes { Bucketing.bucket(forHash: Bucketing.hash(salt: s, unitID: $0)) }
        }
    }

    private func holdoutMembership(_ input: EvaluationInput) -> UInt64 {
        var hits: UInt64 = 0
        for h in 0..<p.holdoutCount {
            let record = p.holdoutRecord(h)
            let unit = input.units[p.int(record + PayloadFormat.HoldoutRecord.unitType)]
            guard !unit.isAbsent else { continue }
            if bucket(record + PayloadFormat.HoldoutRecord.salt, id(input, unit)) < p.int(record + PayloadFormat.HoldoutRecord.shareBuckets)
            {
                hits |= 1 << UInt64(h)
            }
        }
        return hits
    }

    private func evaluateLayer(_ layer: Int, _ input: EvaluationInput, _ holdoutHits: UInt64, _ now: Int64) -> Outcome? {
        let record = p.layerRecord(layer)
        let unitType = p.int(record + PayloadFormat.LayerRecord.unitType)
        let unit = input.units[unitType]
        guard !unit.isAbsent else { return nil }
        let id = id(input, unit)

        let overrideCount = p.int(record + PayloadFormat.LayerRecord.overrideCount)
        if overrideCount > 0,
            let entry = findID(first: p.int(record + PayloadFormat.LayerRecord.firstOverride), count: overrideCount, id: id)
        {
            let entryRecord = p.idEntryRecord(entry)
            return Outcome(
                layer: Int32(layer), experiment: Int32(p.u32(entryRecord + PayloadFormat.IDEntryRecord.experiment)),
                variant: Int32(p.u32(entryRecord + PayloadFormat.IDEntryRecord.variant)), reason: .override)
        }
        let owner = p.bucketOwner(layer: layer, bucket: bucket(record + PayloadFormat.LayerRecord.salt, id))
        guard owner > 0 else { return nil }
        let experiment = p.int(record + PayloadFormat.LayerRecord.firstExperiment) + owner - 1
        var outcome = Outcome(layer: Int32(layer), experiment: Int32(experiment), variant: -1, reason: .split)
        if holdoutHits & UInt64(p.u32(record + PayloadFormat.LayerRecord.holdoutMask)) != 0 {
            outcome.reason = .holdout
            return outcome
        }
        let e = p.experimentRecord(experiment)
        switch p.u8(e + PayloadFormat.ExperimentRecord.status) {
        case ExperimentStatus.running.rawValue: break
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
            !runProgram(offset: p.int(e + PayloadFormat.ExperimentRecord.targetingOffset), length: targetingLength, input, now: now)
        {
            outcome.reason = .targetingMiss
            return outcome
        }
        let segmentRefs = p.int(e + PayloadFormat.ExperimentRecord.segmentRefCount)
        if segmentRefs > 0 {
            let first = p.int(e + PayloadFormat.ExperimentRecord.firstSegmentRef)
            guard (first..<(first + segmentRefs)).contains(where: { isMember(segment: p.u32List($0), input, now: now) }) else {
                outcome.reason = .targetingMiss
                return outcome
            }
        }
        let variantBucket = bucket(e + PayloadFormat.ExperimentRecord.salt, id)
        let firstRun = p.int(e + PayloadFormat.ExperimentRecord.firstVariantRun)
        let runCount = p.int(e + PayloadFormat.ExperimentRecord.variantRunCount)
        var run = 0
        for r in 0..<runCount where Int(p.u16(p.variantRunRecord(firstRun + r) + PayloadFormat.VariantRunRecord.start)) <= variantBucket {
            run = r
        }
        outcome.variant = Int32(p.u16(p.variantRunRecord(firstRun + run) + PayloadFormat.VariantRunRecord.variant))
        return outcome
    }

    private func findID(first: Int, count: Int, id: [UInt8]) -> Int? {
        let hash = XXH3.hash64(id)
        for index in first..<(first + count) {
            let record = p.idEntryRecord(index)
            if p.u64(record + PayloadFormat.IDEntryRecord.hash) == hash,
                p.stringBytes(at: record + PayloadFormat.IDEntryRecord.string).elementsEqual(id)
            {
                return index
            }
        }
        return nil
    }

    private func isMember(segment: Int, _ input: EvaluationInput, now: Int64) -> Bool {
        let record = p.segmentRecord(segment)
        let idCount = p.int(record + PayloadFormat.SegmentRecord.idCount)
        if idCount > 0 {
            let unit = input.units[p.int(record + PayloadFormat.SegmentRecord.unitType)]
            if !unit.isAbsent,
                findID(first: p.int(record + PayloadFormat.SegmentRecord.firstID), count: idCount, id: id(input, unit)) != nil
            {
                return true
            }
        }
        let ruleLength = p.int(record + PayloadFormat.SegmentRecord.ruleLength)
        guard ruleLength > 0 else { return false }
        return runProgram(offset: p.int(record + PayloadFormat.SegmentRecord.ruleOffset), length: ruleLength, input, now: now)
    }

    private func constant(_ code: UnsafeRawBufferPointer, _ at: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: p.base + p.strings + Int(code.le32(at)), count: Int(code.le32(at + 4))))
    }

    private func runProgram(offset: Int, length: Int, _ input: EvaluationInput, now: Int64) -> Bool {
        let code = p.program(offset: offset, length: length)
        var r = false
        var pc = 0
        while pc < length {
            var attribute: Int { Int(code.le16(pc + 2)) }  // for the ops that have one
            switch TargetingOpcode(rawValue: code[pc])! {
            case .stringCompare:
                r = false
                if case .string(let span) = input.values[attribute] {
                    let folded = code[pc + 1] & TargetingComparison.asciiFolded != 0
                    let value = folded ? id(input, span).map(Self.asciiLowercase) : id(input, span)
                    r = compareStrings(value, constant(code, pc + 4), TargetingComparison(rawValue: code[pc + 1] & 0x7F)!)
                }
                pc += 12
            case .stringIn:
                let count = Int(code.le32(pc + 4))
                r = false
                if case .string(let span) = input.values[attribute] {
                    let value = code[pc + 1] == 1 ? id(input, span).map(Self.asciiLowercase) : id(input, span)
                    r = (0..<count).contains { constant(code, pc + 8 + $0 * 8) == value }
                }
                pc += 8 + count * 8
            case .numberCompare:
                r = false
                if case .number(let value) = input.values[attribute] {
                    let constant = Double(bitPattern: code.le64(pc + 4))
                    let ordering = value < constant ? -1 : (value > constant ? 1 : 0)
                    r = !value.isNaN && TargetingComparison(rawValue: code[pc + 1])!.holds(ordering: ordering)
                }
                pc += 12
            case .numberIn:
                let count = Int(code.le32(pc + 4))
                r = false
                if case .number(let value) = input.values[attribute] {
                    r = (0..<count).contains { Double(bitPattern: code.le64(pc + 8 + $0 * 8)) == value }
                }
                pc += 8 + count * 8
            case .boolEquals:
                r = false
                if case .bool(let value) = input.values[attribute] { r = value == (code[pc + 1] == 1) }
                pc += 4
            case .semverCompare:
                r = false
                if case .semver(let major, let minor, let patch, let pre) = input.values[attribute] {
                    let prerelease = id(input, pre)
                    let constantPre = constant(code, pc + 28)
                    let ordering = prerelease.withUnsafeBytes { a in
                        constantPre.withUnsafeBytes { b in
                            Semver.compare((major, minor, patch), a, (code.le64(pc + 4), code.le64(pc + 12), code.le64(pc + 20)), b)
                        }
                    }
                    r = TargetingComparison(rawValue: code[pc + 1])!.holds(ordering: ordering)
                }
                pc += 36
            case .listContains:
                r = false
                if case .list(let first, let count) = input.values[attribute] {
                    let constant = constant(code, pc + 4)
                    r = (Int(first)..<(Int(first) + Int(count))).contains { id(input, input.listItems[$0]) == constant }
                }
                pc += 12
            case .present:
                if case .missing = input.values[attribute] { r = false } else { r = true }
                pc += 4
            case .inSegment:
                r = isMember(segment: Int(code.le32(pc + 4)), input, now: now)
                pc += 8
            case .not:
                r = !r
                pc += 1
            case .jumpIfFalse:
                pc = r ? pc + 8 : Int(code.le32(pc + 4))
            case .jumpIfTrue:
                pc = r ? Int(code.le32(pc + 4)) : pc + 8
            case .constant:
                r = code[pc + 1] == 1
                pc += 2
            case .timeCompare:
                r = false
                if case .time(let seconds) = input.values[attribute] {
                    let constant = Int64(bitPattern: code.le64(pc + 4))
                    r = TargetingComparison(rawValue: code[pc + 1])!.holds(
                        ordering: seconds < constant ? -1 : (seconds == constant ? 0 : 1))
                }
                pc += 12
            case .nowCompare:
                let constant = Int64(bitPattern: code.le64(pc + 4))
                r = TargetingComparison(rawValue: code[pc + 1])!.holds(ordering: now < constant ? -1 : (now == constant ? 0 : 1))
                pc += 12
            case .regexMatch:
                let states = Int(code.le16(pc + 4))
                let classes = Int(code.le16(pc + 6))
                r = false
                if case .string(let span) = input.values[attribute] {
                    let table = pc + 8
                    var state = 0
                    r = code[table + 256] & 2 != 0
                    for byte in id(input, span) where !r {
                        state = Int(code[table + 256 + states + state * classes + Int(code[table + Int(byte)])])
                        r = code[table + 256 + state] & 2 != 0
                    }
                    r = r || code[table + 256 + state] & 1 != 0
                }
                pc += 8 + 256 + states + states * classes
            case .ipIn:
                let count = Int(code.le32(pc + 4))
                r = false
                if case .ip(let high, let low) = input.values[attribute] {
                    let address = UInt128(high) << 64 | UInt128(low)
                    r = (0..<count).contains { i in
                        let at = pc + 8 + i * 32
                        let network = UInt128(code.le64(at)) << 64 | UInt128(code.le64(at + 8))
                        let mask = UInt128(code.le64(at + 16)) << 64 | UInt128(code.le64(at + 24))
                        return address & mask == network
                    }
                }
                pc += 8 + count * 32
            }
        }
        return r
    }

    /// `lower(x)`'s folding: ASCII capitals to small letters, every other byte as it is.
    static func asciiLowercase(_ byte: UInt8) -> UInt8 {
        (65...90).contains(byte) ? byte + 32 : byte
    }

    private func compareStrings(_ value: [UInt8], _ constant: [UInt8], _ comparison: TargetingComparison) -> Bool {
        switch comparison {
        case .startsWith: return value.starts(with: constant)
        case .endsWith: return value.reversed().starts(with: constant.reversed())
        case .contains:
            guard !constant.isEmpty else { return true }
            guard value.count >= constant.count else { return false }
            return (0...(value.count - constant.count)).contains { value[$0..<($0 + constant.count)].elementsEqual(constant) }
        case .equal: return value == constant
        case .notEqual: return value != constant
        default:
            let ordering = value.lexicographicallyPrecedes(constant) ? -1 : (value == constant ? 0 : 1)
            return comparison.holds(ordering: ordering)
        }
    }

    // MARK: The answer

    /// The JSON answer for `outcomes`, as `writeAnswer` wrote it before it was made fast.
    func answer(_ outcomes: [Outcome]) -> [UInt8] {
        var output = Array("{\"version\":\(bundle.version),\"assignments\":{".utf8)
        for (index, outcome) in outcomes.enumerated() {
            if index > 0 { output += Array(",".utf8) }
            let e = p.experimentRecord(Int(outcome.experiment))
            output += Array("\"".utf8) + Array(p.stringBytes(at: e + PayloadFormat.ExperimentRecord.name)) + Array("\":{\"variant\":".utf8)
            if outcome.variant >= 0 {
                let v = p.variantRecord(p.int(e + PayloadFormat.ExperimentRecord.firstVariant) + Int(outcome.variant))
                output += Array("\"".utf8) + Array(p.stringBytes(at: v + PayloadFormat.VariantRecord.name)) + Array("\"".utf8)
            } else {
                output += Array("null".utf8)
            }
            output +=
                Array(",\"layer\":\"".utf8) + Array(p.stringBytes(at: p.layerRecord(Int(outcome.layer)) + PayloadFormat.LayerRecord.name))
            output += Array("\",\"reason\":\"\(outcome.reason.name)\"}".utf8)
        }
        output += Array("},\"params\":{".utf8) + params(outcomes) + Array("}}".utf8)
        return output
    }

    /// The members of the `params` object for `outcomes`, walking layers and outcomes together
    /// as `writeParams` did (so outcomes out of layer order give the same bytes too).
    func params(_ outcomes: [Outcome]) -> [UInt8] {
        var output: [UInt8] = []
        var next = 0
        var wroteAny = false
        for layer in 0..<p.layerCount {
            var fragment = Array(p.jsonBytes(at: p.layerRecord(layer) + PayloadFormat.LayerRecord.defaultsFragment))
            while next < outcomes.count, Int(outcomes[next].layer) < layer { next += 1 }
            if next < outcomes.count, Int(outcomes[next].layer) == layer, outcomes[next].reason.isEnrolled, outcomes[next].variant >= 0 {
                let e = p.experimentRecord(Int(outcomes[next].experiment))
                let v = p.variantRecord(p.int(e + PayloadFormat.ExperimentRecord.firstVariant) + Int(outcomes[next].variant))
                fragment = Array(p.jsonBytes(at: v + PayloadFormat.VariantRecord.paramsFragment))
            }
            guard !fragment.isEmpty else { continue }
            if wroteAny { output += Array(",".utf8) }
            output += fragment
            wroteAny = true
        }
        return output
    }
}
