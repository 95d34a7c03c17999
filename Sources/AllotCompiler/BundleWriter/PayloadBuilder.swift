import AllotCore

/// Lays out a checked project and its allocation as a bundle payload (`docs/bundle-format.md`).
/// Deterministic: the same project, lock, version and created-at give the same bytes.
public enum PayloadBuilder {
    public static func build(_ project: CheckedProject, lock: AllocationLock, version: UInt64, createdAt: Int64) -> [UInt8] {
        var builder = Builder(project: project, lock: lock)
        builder.buildAll()
        return builder.assemble(version: version, createdAt: createdAt)
    }
}

private typealias Section = PayloadFormat.Section

private struct Builder {
    let project: CheckedProject
    let lock: AllocationLock
    var strings = BytePool()
    var json = BytePool()
    var sections: [Section: ByteWriter] = [:]
    var targeting = ByteWriter()
    var idEntries = ByteWriter()
    var u32Lists = ByteWriter()
    var idEntryCount = 0
    var u32ListCount = 0

    init(project: CheckedProject, lock: AllocationLock) {
        self.project = project
        self.lock = lock
        for section in Section.allCases { sections[section] = ByteWriter() }
    }

    var unitIndex: [String: Int] { Dictionary(uniqueKeysWithValues: project.unitTypes.enumerated().map { ($1, $0) }) }
    var segmentIndex: [String: Int] { Dictionary(uniqueKeysWithValues: project.segments.enumerated().map { ($1.name, $0) }) }

    mutating func write(_ section: Section, _ body: (inout ByteWriter) -> Void) {
        body(&sections[section]!)
    }

    /// Compiles a targeting expression into the targeting section; returns (offset, length, canonical text).
    mutating func program(_ source: Located<String>, _ locate: (Int) -> SourceLocation) -> (Int, Int, String) {
        var pool = strings
        let result = TargetingCompiler.compile(
            source.value, environment: project.targetingEnvironment, locate: locate, intern: { pool.intern($0) })
        strings = pool
        guard case .success(let compiled) = result else {
            preconditionFailure("targeting at \(source.location) was checked before building")
        }
        let offset = targeting.count
        targeting.append(compiled.code)
        return (offset, compiled.code.count, compiled.expression.description)
    }

    /// Appends an id table sorted by (XXH3 of the id, id bytes); returns its first entry index.
    mutating func idTable(_ entries: [(id: String, experiment: Int, variant: Int)]) -> Int {
        let first = idEntryCount
        let hashed = entries.map { entry in (hash: XXH3.hash64(Array(entry.id.utf8)), bytes: Array(entry.id.utf8), entry: entry) }
            .sorted { $0.hash != $1.hash ? $0.hash < $1.hash : $0.bytes.lexicographicallyPrecedes($1.bytes) }
        for item in hashed {
            idEntries.u64(item.hash)
            idEntries.ref(strings.intern(item.bytes))
            idEntries.u32(item.entry.experiment)
            idEntries.u32(item.entry.variant)
        }
        idEntryCount += hashed.count
        return first
    }

    mutating func buildAll() {
        let units = unitIndex
        let unitNames = project.unitTypes.map { strings.intern($0) }
        write(.unitTypes) { w in
            for name in unitNames { w.ref(name) }
        }
        let attributes = project.attributes
        let attributeNames = attributes.map { strings.intern($0.name.value) }
        write(.attributes) { w in
            for (attribute, name) in zip(attributes, attributeNames) {
                w.ref(name)
                w.u8(attribute.type.rawValue)
                w.zeros(3)
            }
        }

        // Segments come first: experiments refer to them by index.
        let segments = segmentIndex
        for segment in project.segments {
            let name = strings.intern(segment.name)
            var rule = (0, 0, "")
            if let source = segment.declaration.rule, let locate = segment.declaration.ruleLocator {
                rule = program(source, locate)
            }
            let ruleSource = strings.intern(rule.2)
            let firstID = idTable(segment.ids.map { ($0, 0, 0) })
            write(.segments) { w in
                w.ref(name)
                w.u32(segment.unitType.map { UInt32(units[$0]!) } ?? PayloadFormat.SegmentRecord.noUnitType)
                w.u32(rule.0)
                w.u32(rule.1)
                w.u32(firstID)
                w.u32(segment.ids.count)
                w.ref(ruleSource)
                w.zeros(4)
            }
        }

        for holdout in project.holdouts {
            let name = strings.intern(holdout.name)
            let salt = strings.intern(holdout.salt)
            write(.holdouts) { w in
                w.ref(name)
                w.ref(salt)
                w.u32(units[holdout.unitType]!)
                w.u32(holdout.traffic)
            }
        }

        var experimentIndex = 0
        var parameterIndex = 0
        var variantIndex = 0
        var parameterValueIndex = 0
        var runIndex = 0
        var allParameters: [(name: String, index: Int)] = []
        for (layerNumber, layer) in project.layers.enumerated() {
            let allocation = lock.layers[layer.name] ?? .init()
            let firstExperiment = experimentIndex
            let firstParameter = parameterIndex
            let defaults = layer.parameters.map { (name: $0.name.value, json: $0.defaultValue.json) }

            // Parameters.
            for (indexInLayer, parameter) in layer.parameters.enumerated() {
                let name = strings.intern(parameter.name.value)
                let value = json.intern(parameter.defaultValue.json)
                write(.parameters) { w in
                    w.ref(name)
                    w.u32(layerNumber)
                    w.u32(indexInLayer)
                    w.u8(parameter.type.rawValue)
                    w.zeros(3)
                    w.ref(value)
                    w.zeros(4)
                }
                allParameters.append((parameter.name.value, parameterIndex))
                parameterIndex += 1
            }

            // Experiments, their variants, runs and parameter values.
            var overrideEntries: [(id: String, experiment: Int, variant: Int)] = []
            var bucketTable = [UInt16](repeating: 0, count: Bucketing.bucketCount)
            for (local, experiment) in layer.experiments.enumerated() {
                let global = firstExperiment + local
                let lockEntry = allocation.experiments[experiment.name]
                if experiment.holdsBuckets, let lockEntry {
                    for range in lockEntry.buckets.ranges { for bucket in range { bucketTable[bucket] = UInt16(local + 1) } }
                }
                if experiment.status != .concluded {
                    overrideEntries += experiment.overrides.map { ($0.unit, global, $0.variant) }
                }
                let runs = variantRuns(experiment, lockEntry)
                var targetingRef = (0, 0, "")
                if let source = experiment.declaration.targeting, let locate = experiment.declaration.targetingLocator {
                    targetingRef = program(source, locate)
                }
                let firstSegmentRef = u32ListCount
                for segment in experiment.segments {
                    u32Lists.u32(segments[segment]!)
                    u32ListCount += 1
                }
                let name = strings.intern(experiment.name)
                let salt = strings.intern(experiment.salt)
                let owner = strings.intern(experiment.declaration.owner ?? "")
                let description = strings.intern(experiment.declaration.description ?? "")
                let targetingSource = strings.intern(targetingRef.2)
                let declaration = experiment.declaration
                let firstVariant = variantIndex
                let firstRun = runIndex
                write(.experiments) { w in
                    w.ref(name)
                    w.ref(salt)
                    w.ref(owner)
                    w.u32(layerNumber)
                    w.u8(experiment.status.rawValue)
                    w.u8(
                        (declaration.start != nil ? PayloadFormat.ExperimentRecord.flagHasStart : 0)
                            | (declaration.stop != nil ? PayloadFormat.ExperimentRecord.flagHasStop : 0))
                    w.zeros(2)
                    w.i64(declaration.start?.value ?? 0)
                    w.i64(declaration.stop?.value ?? 0)
                    w.u32(firstVariant)
                    w.u32(experiment.variants.count)
                    w.u32(firstRun)
                    w.u32(runs.count)
                    w.u32(targetingRef.0)
                    w.u32(targetingRef.1)
                    w.u32(firstSegmentRef)
                    w.u32(experiment.segments.count)
                    w.u32(experiment.holdsBuckets ? (lockEntry?.buckets.count ?? 0) : 0)
                    w.ref(description)
                    w.ref(targetingSource)
                    w.zeros(4)
                }
                write(.variantRuns) { w in
                    for run in runs {
                        w.u16(UInt16(run.start))
                        w.u16(UInt16(run.variant))
                    }
                }
                runIndex += runs.count
                for variant in experiment.variants {
                    let values = defaults.map {
                        (name: $0.name, json: variant.parameters[$0.name]?.json ?? $0.json, set: variant.parameters[$0.name] != nil)
                    }
                    var fragment: [UInt8] = []
                    var valueRanges: [(Int, Int)] = []
                    for (index, value) in values.enumerated() {
                        if index > 0 { fragment.append(UInt8(ascii: ",")) }
                        fragment += Array(CanonicalJSON.string(value.name).utf8)
                        fragment.append(UInt8(ascii: ":"))
                        valueRanges.append((fragment.count, value.json.utf8.count))
                        fragment += Array(value.json.utf8)
                    }
                    let fragmentRef = json.intern(fragment)
                    let variantName = strings.intern(variant.name)
                    write(.variants) { w in
                        w.ref(variantName)
                        w.u32(global)
                        w.u32(variant.weight)
                        w.ref(fragmentRef)
                        w.u32(parameterValueIndex)
                        w.zeros(4)
                    }
                    write(.parameterValues) { w in
                        for (index, range) in valueRanges.enumerated() {
                            w.u32(fragmentRef.offset + UInt32(range.0))
                            w.u32(range.1)
                            w.u32(values[index].set ? 1 : 0)
                        }
                    }
                    parameterValueIndex += values.count
                    variantIndex += 1
                }
                experimentIndex += 1
            }
            // Buckets freed by a concluded experiment that nobody has claimed again still report it.
            for entry in allocation.freed {
                guard let local = layer.experiments.firstIndex(where: { $0.name == entry.experiment && $0.status == .concluded }) else {
                    continue
                }
                for range in entry.buckets.ranges {
                    for bucket in range where bucketTable[bucket] == 0 { bucketTable[bucket] = UInt16(local + 1) }
                }
            }
            write(.bucketTables) { w in
                for owner in bucketTable { w.u16(owner) }
            }

            let firstOverride = idTable(overrideEntries)
            var defaultsFragment: [UInt8] = []
            for (index, value) in defaults.enumerated() {
                if index > 0 { defaultsFragment.append(UInt8(ascii: ",")) }
                defaultsFragment += Array((CanonicalJSON.string(value.name) + ":" + value.json).utf8)
            }
            let name = strings.intern(layer.name)
            let salt = strings.intern(layer.salt)
            let defaultsRef = json.intern(defaultsFragment)
            let holdoutMask = layer.holdouts.reduce(UInt32(0)) { $0 | (1 << UInt32($1)) }
            write(.layers) { w in
                w.ref(name)
                w.ref(salt)
                w.u32(units[layer.unitType]!)
                w.u32(firstExperiment)
                w.u32(layer.experiments.count)
                w.u32(firstParameter)
                w.u32(layer.parameters.count)
                w.ref(defaultsRef)
                w.u32(firstOverride)
                w.u32(overrideEntries.count)
                w.u32(holdoutMask)
            }
        }
        write(.parameterIndex) { w in
            for parameter in allParameters.sorted(by: { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }) {
                w.u32(parameter.index)
            }
        }
    }

    /// The variant runs of an experiment: from the lock when it holds buckets, else the layout a
    /// new allocation would have (so overrides of drafts resolve the same way). Built from the
    /// variants' bucket ranges, sorted and merged, never bucket by bucket.
    func variantRuns(_ experiment: CheckedExperiment, _ lockEntry: AllocationLock.ExperimentAllocation?) -> [(start: Int, variant: Int)] {
        var pieces: [(range: ClosedRange<Int>, variant: Int)] = []
        if experiment.holdsBuckets, let lockEntry {
            for variant in lockEntry.variants {
                guard let index = experiment.variants.firstIndex(where: { $0.name == variant.name }) else { continue }
                pieces += variant.buckets.ranges.map { ($0, index) }
            }
            pieces.sort { $0.range.lowerBound < $1.range.lowerBound }
        } else {
            var start = 0
            for (index, variant) in experiment.variants.enumerated() where variant.weight > 0 {
                pieces.append((start...(start + variant.weight - 1), index))
                start += variant.weight
            }
        }
        var runs: [(start: Int, variant: Int)] = []
        for piece in pieces where runs.last?.variant != piece.variant {
            runs.append((piece.range.lowerBound, piece.variant))
        }
        if runs.isEmpty || runs[0].start != 0 {
            // Variant buckets always cover 0..<10,000 (weights sum to 100%); keep the format's
            // invariant that runs start at bucket 0 even for a degenerate layout.
            runs.insert((0, runs.first?.variant ?? 0), at: 0)
            if runs.count > 1 && runs[1].start == 0 { runs.remove(at: 1) }
        }
        return runs
    }

    mutating func assemble(version: UInt64, createdAt: Int64) -> [UInt8] {
        sections[.strings] = ByteWriter(bytes: strings.bytes)
        sections[.json] = ByteWriter(bytes: json.bytes)
        sections[.targeting] = targeting
        sections[.idEntries] = idEntries
        sections[.u32Lists] = u32Lists
        var output = ByteWriter()
        output.append(PayloadFormat.magic)
        output.u32(lock.bucketingScheme.payloadFormatVersion)
        output.u32(Section.allCases.count)
        output.u64(version)
        output.i64(createdAt)
        let directoryStart = output.count
        output.zeros(Section.allCases.count * PayloadFormat.directoryEntryLength)
        for (index, section) in Section.allCases.enumerated() {
            output.align(PayloadFormat.sectionAlignment)
            let body = sections[section]!.bytes
            let entry = directoryStart + index * PayloadFormat.directoryEntryLength
            output.patchU32(section.rawValue, at: entry)
            output.patchU32(UInt32(output.count), at: entry + 4)
            output.patchU32(UInt32(body.count), at: entry + 8)
            output.append(body)
        }
        return output.bytes
    }
}
