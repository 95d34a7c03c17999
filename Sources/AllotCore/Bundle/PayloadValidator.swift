extension Payload {
    /// Validates a decompressed payload completely and returns a view over it.
    ///
    /// Every section bound, record field, cross reference, string and JSON reference, bucket table
    /// entry, variant run and targeting program is checked here, once, so the evaluator can read
    /// without checks. `bytes` must stay alive as long as the returned view is used.
    public static func validate(_ bytes: UnsafeRawBufferPointer) throws(BundleError) -> Payload {
        var reader = try SectionReader(bytes)
        var payload = try reader.makePayload()
        try payload.validateRecords()
        payload.plan = EvaluationPlan(payload)
        return payload
    }
}

/// Parses the payload header and section directory.
private struct SectionReader {
    let bytes: UnsafeRawBufferPointer
    var spans: [PayloadFormat.Section: (offset: Int, length: Int)] = [:]
    var version: UInt64 = 0
    var bucketingScheme = BucketingScheme.saltedID
    var createdAt: Int64 = 0

    init(_ bytes: UnsafeRawBufferPointer) throws(BundleError) {
        self.bytes = bytes
        let headerLength = PayloadFormat.headerLength
        guard bytes.count >= headerLength else { throw malformed("payload of \(bytes.count) bytes is shorter than its header") }
        guard bytes.prefix(8).elementsEqual(PayloadFormat.magic) else { throw malformed("payload does not start with ALLOTPAY") }
        let format = bytes.le32(8)
        guard let scheme = BucketingScheme(payloadFormatVersion: format), PayloadFormat.versions.contains(format) else {
            throw BundleError(
                .unsupportedFormat,
                "payload format \(format) is not supported (this build reads \(PayloadFormat.versions.lowerBound)-\(PayloadFormat.versions.upperBound))"
            )
        }
        bucketingScheme = scheme
        let count = Int(bytes.le32(12))
        version = bytes.le64(16)
        createdAt = Int64(bitPattern: bytes.le64(24))
        let expected = PayloadFormat.Section.allCases
        guard count == expected.count else { throw malformed("payload has \(count) sections, expected \(expected.count)") }
        let directoryEnd = headerLength + count * PayloadFormat.directoryEntryLength
        guard bytes.count >= directoryEnd else { throw malformed("section directory is truncated") }
        var previousEnd = directoryEnd
        for (index, section) in expected.enumerated() {
            let entry = headerLength + index * PayloadFormat.directoryEntryLength
            let id = bytes.le32(entry)
            let offset = Int(bytes.le32(entry + 4))
            let length = Int(bytes.le32(entry + 8))
            guard id == section.rawValue else { throw malformed("section \(index) has id \(id), expected \(section.rawValue)") }
            guard bytes.le32(entry + 12) == 0 else { throw malformed("section \(id) has a non-zero reserved field") }
            guard offset % PayloadFormat.sectionAlignment == 0 else { throw malformed("section \(id) is not 8-byte aligned") }
            guard offset >= previousEnd, offset + length <= bytes.count else {
                throw malformed("section \(id) at \(offset)+\(length) overlaps another or runs past the payload end (\(bytes.count))")
            }
            if let recordLength = section.recordLength, length % recordLength != 0 {
                throw malformed("section \(id) length \(length) is not a multiple of its \(recordLength)-byte records")
            }
            spans[section] = (offset, length)
            previousEnd = offset + length
        }
        // Sections whose record count is implied by another's: the evaluator reads them for that
        // count without checks.
        guard self.count(.parameterIndex) == self.count(.parameters) else {
            throw malformed("the parameter index holds \(self.count(.parameterIndex)) entries for \(self.count(.parameters)) parameters")
        }
    }

    func offset(_ section: PayloadFormat.Section) -> Int { spans[section]!.offset }
    func length(_ section: PayloadFormat.Section) -> Int { spans[section]!.length }
    func count(_ section: PayloadFormat.Section) -> Int { spans[section]!.length / section.recordLength! }

    mutating func makePayload() throws(BundleError) -> Payload {
        Payload(
            bytes: bytes, base: bytes.baseAddress!, version: version, createdAt: createdAt, bucketingScheme: bucketingScheme,
            strings: offset(.strings), unitTypes: offset(.unitTypes), attributes: offset(.attributes),
            layers: offset(.layers), bucketTables: offset(.bucketTables), experiments: offset(.experiments),
            variants: offset(.variants), parameterValues: offset(.parameterValues), variantRuns: offset(.variantRuns),
            parameters: offset(.parameters), parameterIndex: offset(.parameterIndex), json: offset(.json),
            targeting: offset(.targeting), segments: offset(.segments), idEntries: offset(.idEntries),
            holdouts: offset(.holdouts), u32Lists: offset(.u32Lists),
            stringsLength: length(.strings), jsonLength: length(.json), targetingLength: length(.targeting),
            unitTypeCount: count(.unitTypes), attributeCount: count(.attributes), layerCount: count(.layers),
            experimentCount: count(.experiments), variantCount: count(.variants),
            parameterValueCount: count(.parameterValues), variantRunCount: count(.variantRuns),
            parameterCount: count(.parameters), segmentCount: count(.segments), idEntryCount: count(.idEntries),
            holdoutCount: count(.holdouts), u32ListCount: count(.u32Lists),
            bucketTablesEntryCount: count(.bucketTables)
        )
    }
}

private func malformed(_ message: String) -> BundleError {
    BundleError(.malformedPayload, message)
}

/// Names that appear in JSON answers are restricted so the answer writer can copy them verbatim.
func isSafeName(_ bytes: UnsafeRawBufferPointer) -> Bool {
    guard (1...128).contains(bytes.count) else { return false }
    for byte in bytes {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "/"):
            continue
        default:
            return false
        }
    }
    return true
}

extension Payload {
    fileprivate func validateRecords() throws(BundleError) {
        guard unitTypeCount <= 255 else { throw malformed("\(unitTypeCount) unit types; at most 255") }
        guard attributeCount <= Int(UInt16.max) else { throw malformed("\(attributeCount) attributes; at most 65535") }
        guard holdoutCount <= PayloadFormat.maxHoldouts else {
            throw malformed("\(holdoutCount) holdouts; at most \(PayloadFormat.maxHoldouts)")
        }
        guard bucketTablesEntryCount == layerCount * Bucketing.bucketCount else {
            throw malformed("bucket tables hold \(bucketTablesEntryCount) entries for \(layerCount) layers")
        }

        try validateSortedNames(count: unitTypeCount, kind: "unit type") { unitTypeRecord($0) + PayloadFormat.UnitTypeRecord.name }
        try validateSortedNames(count: attributeCount, kind: "attribute") { attributeRecord($0) + PayloadFormat.AttributeRecord.name }
        for i in 0..<attributeCount {
            guard AttributeType(rawValue: u8(attributeRecord(i) + PayloadFormat.AttributeRecord.type)) != nil else {
                throw malformed("attribute \(i) has an unknown type")
            }
        }
        for i in 0..<holdoutCount {
            let record = holdoutRecord(i)
            try checkName(record + PayloadFormat.HoldoutRecord.name, "holdout \(i)")
            try checkSalt(record + PayloadFormat.HoldoutRecord.salt, "holdout \(i)")
            guard int(record + PayloadFormat.HoldoutRecord.unitType) < unitTypeCount else {
                throw malformed("holdout \(i) has an unknown unit type")
            }
            guard int(record + PayloadFormat.HoldoutRecord.shareBuckets) <= Bucketing.bucketCount else {
                throw malformed("holdout \(i) holds out more than all buckets")
            }
        }
        try validateSegments()
        try validateLayers()
        try validateExperiments()
        try validateParameters()
    }

    private func checkString(_ at: Int, _ context: String) throws(BundleError) {
        let start = int(at)
        let count = int(at + 4)
        guard start + count <= stringsLength else { throw malformed("\(context) has a string outside the string pool") }
    }

    private func checkName(_ at: Int, _ context: String) throws(BundleError) {
        try checkString(at, context)
        guard isSafeName(stringBytes(at: at)) else { throw malformed("\(context) has an invalid name") }
    }

    private func checkSalt(_ at: Int, _ context: String) throws(BundleError) {
        try checkString(at, context)
        let salt = stringBytes(at: at)
        guard salt.count <= Bucketing.maxSaltLength, !salt.contains(0) else { throw malformed("\(context) has an invalid salt") }
    }

    private func checkJSON(_ at: Int, _ context: String) throws(BundleError) {
        let start = int(at)
        let count = int(at + 4)
        guard start + count <= jsonLength else { throw malformed("\(context) has JSON outside the JSON section") }
    }

    private func checkRange(_ first: Int, _ count: Int, within total: Int, _ context: String) throws(BundleError) {
        guard first + count <= total else { throw malformed("\(context) refers to records \(first)..<\(first + count) of \(total)") }
    }

    private func validateSortedNames(count: Int, kind: String, nameAt: (Int) -> Int) throws(BundleError) {
        var previous: UnsafeRawBufferPointer? = nil
        for i in 0..<count {
            try checkName(nameAt(i), "\(kind) \(i)")
            let name = stringBytes(at: nameAt(i))
            if let previous, compareBytes(previous, name) >= 0 {
                throw malformed("\(kind) names are not in strictly ascending order at \(i)")
            }
            previous = name
        }
    }

    private func validateIDTable(first: Int, count: Int, context: String, isOverride: Bool, layer: Int = 0) throws(BundleError) {
        try checkRange(first, count, within: idEntryCount, context)
        var previousHash: UInt64 = 0
        var previous: UnsafeRawBufferPointer? = nil
        for i in first..<(first + count) {
            let record = idEntryRecord(i)
            try checkString(record + PayloadFormat.IDEntryRecord.string, context)
            let hash = u64(record + PayloadFormat.IDEntryRecord.hash)
            let id = stringBytes(at: record + PayloadFormat.IDEntryRecord.string)
            if let previous {
                guard hash > previousHash || (hash == previousHash && compareBytes(previous, id) < 0) else {
                    throw malformed("\(context) id table is not sorted by (hash, id) at entry \(i - first)")
                }
            }
            previous = id
            previousHash = hash
            if isOverride {
                let experiment = int(record + PayloadFormat.IDEntryRecord.experiment)
                let layerRecord = layerRecord(layer)
                let firstExperiment = int(layerRecord + PayloadFormat.LayerRecord.firstExperiment)
                let experimentCount = int(layerRecord + PayloadFormat.LayerRecord.experimentCount)
                guard experiment >= firstExperiment, experiment < firstExperiment + experimentCount else {
                    throw malformed("\(context) override points at experiment \(experiment) outside its layer")
                }
                let variants = int(experimentRecord(experiment) + PayloadFormat.ExperimentRecord.variantCount)
                guard int(record + PayloadFormat.IDEntryRecord.variant) < variants else {
                    throw malformed("\(context) override points at a variant the experiment does not have")
                }
            }
        }
    }

    private func validateSegments() throws(BundleError) {
        for i in 0..<segmentCount {
            let record = segmentRecord(i)
            let context = "segment \(i)"
            try checkName(record + PayloadFormat.SegmentRecord.name, context)
            let unitType = u32(record + PayloadFormat.SegmentRecord.unitType)
            let idCount = int(record + PayloadFormat.SegmentRecord.idCount)
            guard unitType == PayloadFormat.SegmentRecord.noUnitType || Int(unitType) < unitTypeCount else {
                throw malformed("\(context) has an unknown unit type")
            }
            guard idCount == 0 || unitType != PayloadFormat.SegmentRecord.noUnitType else {
                throw malformed("\(context) lists ids without a unit type")
            }
            try checkString(record + PayloadFormat.SegmentRecord.ruleSource, context)
            let ruleLength = int(record + PayloadFormat.SegmentRecord.ruleLength)
            if ruleLength > 0 {
                try validateProgram(
                    offset: int(record + PayloadFormat.SegmentRecord.ruleOffset), length: ruleLength, segmentLimit: i, context: context)
            }
            try validateIDTable(
                first: int(record + PayloadFormat.SegmentRecord.firstID), count: idCount, context: context, isOverride: false)
        }
        // Nesting depth: a segment may refer only to earlier ones, so one forward pass computes it.
        var depth = [Int](repeating: 1, count: segmentCount)
        for i in 0..<segmentCount {
            let record = segmentRecord(i)
            let length = int(record + PayloadFormat.SegmentRecord.ruleLength)
            guard length > 0 else { continue }
            for referenced in referencedSegments(offset: int(record + PayloadFormat.SegmentRecord.ruleOffset), length: length) {
                depth[i] = max(depth[i], depth[referenced] + 1)
            }
            guard depth[i] <= TargetingLimits.maxSegmentNesting else {
                throw malformed("segment \(i) nests segments deeper than \(TargetingLimits.maxSegmentNesting)")
            }
        }
    }

    /// The segments a validated program refers to.
    func referencedSegments(offset: Int, length: Int) -> [Int] {
        let code = program(offset: offset, length: length)
        var result: [Int] = []
        var pc = 0
        while pc < length {
            if code[pc] == TargetingOpcode.inSegment.rawValue { result.append(Int(code.le32(pc + 4))) }
            pc += TargetingOpcode.length(at: pc, of: code)
        }
        return result
    }

    private func validateLayers() throws(BundleError) {
        var nextExperiment = 0
        var nextParameter = 0
        for i in 0..<layerCount {
            let record = layerRecord(i)
            let context = "layer \(i)"
            try checkName(record + PayloadFormat.LayerRecord.name, context)
            try checkSalt(record + PayloadFormat.LayerRecord.salt, context)
            guard int(record + PayloadFormat.LayerRecord.unitType) < unitTypeCount else {
                throw malformed("\(context) has an unknown unit type")
            }
            let firstExperiment = int(record + PayloadFormat.LayerRecord.firstExperiment)
            let experimentCount = int(record + PayloadFormat.LayerRecord.experimentCount)
            guard firstExperiment == nextExperiment else { throw malformed("\(context) experiments do not follow the previous layer's") }
            try checkRange(firstExperiment, experimentCount, within: self.experimentCount, context)
            guard experimentCount < Int(UInt16.max) else { throw malformed("\(context) has too many experiments") }
            nextExperiment += experimentCount
            let firstParameter = int(record + PayloadFormat.LayerRecord.firstParameter)
            let parameterCount = int(record + PayloadFormat.LayerRecord.parameterCount)
            guard firstParameter == nextParameter else { throw malformed("\(context) parameters do not follow the previous layer's") }
            try checkRange(firstParameter, parameterCount, within: self.parameterCount, context)
            nextParameter += parameterCount
            try checkJSON(record + PayloadFormat.LayerRecord.defaultsFragment, context)
            let holdoutMask = UInt64(u32(record + PayloadFormat.LayerRecord.holdoutMask))
            guard holdoutMask >> UInt64(holdoutCount) == 0 else { throw malformed("\(context) names a holdout that does not exist") }
            for bucket in 0..<Bucketing.bucketCount {
                let owner = bucketOwner(layer: i, bucket: bucket)
                guard owner <= experimentCount else {
                    throw malformed("\(context) bucket \(bucket) names experiment \(owner - 1) of \(experimentCount)")
                }
                if owner > 0 {
                    let status = u8(experimentRecord(firstExperiment + owner - 1) + PayloadFormat.ExperimentRecord.status)
                    guard status != ExperimentStatus.draft.rawValue else {
                        throw malformed("\(context) bucket \(bucket) belongs to a draft")
                    }
                }
            }
        }
        guard nextExperiment == experimentCount else { throw malformed("experiments exist outside every layer") }
        guard nextParameter == parameterCount else { throw malformed("parameters exist outside every layer") }
        // Overrides are checked after experiments are known to be well formed.
    }

    private func validateExperiments() throws(BundleError) {
        var nextVariant = 0
        var nextRun = 0
        for i in 0..<experimentCount {
            let record = experimentRecord(i)
            let context = "experiment \(i)"
            try checkName(record + PayloadFormat.ExperimentRecord.name, context)
            try checkSalt(record + PayloadFormat.ExperimentRecord.salt, context)
            try checkString(record + PayloadFormat.ExperimentRecord.owner, context)
            try checkString(record + PayloadFormat.ExperimentRecord.description, context)
            try checkString(record + PayloadFormat.ExperimentRecord.targetingSource, context)
            let layer = int(record + PayloadFormat.ExperimentRecord.layer)
            guard layer < layerCount else { throw malformed("\(context) has an unknown layer") }
            let layerFirst = int(layerRecord(layer) + PayloadFormat.LayerRecord.firstExperiment)
            let layerCount = int(layerRecord(layer) + PayloadFormat.LayerRecord.experimentCount)
            guard i >= layerFirst, i < layerFirst + layerCount else { throw malformed("\(context) is not among its layer's experiments") }
            guard ExperimentStatus(rawValue: u8(record + PayloadFormat.ExperimentRecord.status)) != nil else {
                throw malformed("\(context) has an unknown status")
            }
            let firstVariant = int(record + PayloadFormat.ExperimentRecord.firstVariant)
            let variantCount = int(record + PayloadFormat.ExperimentRecord.variantCount)
            guard firstVariant == nextVariant, variantCount >= 1, variantCount <= Int(UInt16.max) else {
                throw malformed("\(context) variants are missing or out of order")
            }
            try checkRange(firstVariant, variantCount, within: self.variantCount, context)
            nextVariant += variantCount
            let layerParameterCount = int(layerRecord(layer) + PayloadFormat.LayerRecord.parameterCount)
            for v in firstVariant..<(firstVariant + variantCount) {
                let variant = variantRecord(v)
                try checkName(variant + PayloadFormat.VariantRecord.name, "variant \(v)")
                guard int(variant + PayloadFormat.VariantRecord.experiment) == i else {
                    throw malformed("variant \(v) names another experiment")
                }
                try checkJSON(variant + PayloadFormat.VariantRecord.paramsFragment, "variant \(v)")
                let firstValue = int(variant + PayloadFormat.VariantRecord.firstParameterValue)
                try checkRange(firstValue, layerParameterCount, within: parameterValueCount, "variant \(v)")
                for p in firstValue..<(firstValue + layerParameterCount) {
                    try checkJSON(parameterValueRecord(p) + PayloadFormat.ParameterValueRecord.value, "variant \(v) parameter value")
                }
            }
            let firstRun = int(record + PayloadFormat.ExperimentRecord.firstVariantRun)
            let runCount = int(record + PayloadFormat.ExperimentRecord.variantRunCount)
            guard firstRun == nextRun, runCount >= 1 else { throw malformed("\(context) variant runs are missing or out of order") }
            try checkRange(firstRun, runCount, within: variantRunCount, context)
            nextRun += runCount
            var previousStart = -1
            for r in firstRun..<(firstRun + runCount) {
                let start = Int(u16(variantRunRecord(r) + PayloadFormat.VariantRunRecord.start))
                let variant = Int(u16(variantRunRecord(r) + PayloadFormat.VariantRunRecord.variant))
                guard (r == firstRun ? start == 0 : start > previousStart), start < Bucketing.bucketCount else {
                    throw malformed("\(context) variant runs are not ascending from bucket 0")
                }
                guard variant < variantCount else { throw malformed("\(context) variant run names variant \(variant) of \(variantCount)") }
                previousStart = start
            }
            let targetingLength = int(record + PayloadFormat.ExperimentRecord.targetingLength)
            if targetingLength > 0 {
                try validateProgram(
                    offset: int(record + PayloadFormat.ExperimentRecord.targetingOffset), length: targetingLength,
                    segmentLimit: segmentCount, context: context)
            }
            let firstSegment = int(record + PayloadFormat.ExperimentRecord.firstSegmentRef)
            let segmentRefs = int(record + PayloadFormat.ExperimentRecord.segmentRefCount)
            try checkRange(firstSegment, segmentRefs, within: u32ListCount, context)
            for s in firstSegment..<(firstSegment + segmentRefs) where u32List(s) >= segmentCount {
                throw malformed("\(context) refers to an unknown segment")
            }
        }
        guard nextVariant == variantCount, nextRun == variantRunCount else {
            throw malformed("variants or runs exist outside every experiment")
        }
        for layer in 0..<layerCount {
            let record = layerRecord(layer)
            try validateIDTable(
                first: int(record + PayloadFormat.LayerRecord.firstOverride), count: int(record + PayloadFormat.LayerRecord.overrideCount),
                context: "layer \(layer) overrides", isOverride: true, layer: layer)
        }
    }

    private func validateParameters() throws(BundleError) {
        for i in 0..<parameterCount {
            let record = parameterRecord(i)
            let context = "parameter \(i)"
            try checkName(record + PayloadFormat.ParameterRecord.name, context)
            let layer = int(record + PayloadFormat.ParameterRecord.layer)
            guard layer < layerCount else { throw malformed("\(context) has an unknown layer") }
            let first = int(layerRecord(layer) + PayloadFormat.LayerRecord.firstParameter)
            let count = int(layerRecord(layer) + PayloadFormat.LayerRecord.parameterCount)
            let indexInLayer = int(record + PayloadFormat.ParameterRecord.indexInLayer)
            guard indexInLayer < count, first + indexInLayer == i else { throw malformed("\(context) is not at its place in its layer") }
            guard ParameterType(rawValue: u8(record + PayloadFormat.ParameterRecord.type)) != nil else {
                throw malformed("\(context) has an unknown type")
            }
            try checkJSON(record + PayloadFormat.ParameterRecord.defaultValue, context)
        }
        var previous: UnsafeRawBufferPointer? = nil
        for i in 0..<parameterCount {
            let parameter = int(parameterIndex + i * 4)
            guard parameter < parameterCount else { throw malformed("parameter index names parameter \(parameter) of \(parameterCount)") }
            let name = stringBytes(at: parameterRecord(parameter) + PayloadFormat.ParameterRecord.name)
            if let previous, compareBytes(previous, name) >= 0 { throw malformed("parameter index is not sorted by name") }
            previous = name
        }
    }
}

/// Bytewise lexicographic comparison: -1, 0 or 1.
@inline(__always)
func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let common = min(a.count, b.count)
    if common > 0 {
        let result = memcmpBytes(a.baseAddress!, b.baseAddress!, common)
        if result != 0 { return result < 0 ? -1 : 1 }
    }
    return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
}
