import AllotCore

/// Just enough of a bundle payload for `LoadedBundle.evaluate` to run one targeting program: the
/// given unit types, attributes and segments, one layer, and one running experiment that owns
/// every bucket and has one variant. Follows `PayloadFormat` and passes `Payload.validate`.
///
/// Test-only and deliberately small; the real bundle writer replaces it.
struct MiniPayload {
    struct Segment {
        var name: String
        /// Index into `unitTypes`, for the id list.
        var unitType: Int?
        var ids: [String]
        /// The segment's rule program; empty for none.
        var rule: [UInt8]
    }

    var unitTypes: [String]
    var attributes: [(name: String, type: AttributeType)]
    var segments: [Segment]
    private var strings: [UInt8] = []
    private var interned: [[UInt8]: UInt32] = [:]

    init(unitTypes: [String], attributes: [(name: String, type: AttributeType)], segments: [Segment]) {
        self.unitTypes = unitTypes
        self.attributes = attributes
        self.segments = segments
    }

    /// Adds `text` to the string pool (deduplicated by bytes).
    mutating func intern(_ text: String) -> (offset: UInt32, length: UInt32) {
        let bytes = Array(text.utf8)
        if let offset = interned[bytes] { return (offset, UInt32(bytes.count)) }
        let offset = UInt32(strings.count)
        strings += bytes
        interned[bytes] = offset
        return (offset, UInt32(bytes.count))
    }

    private mutating func ref(_ text: String, into out: inout [UInt8]) {
        let (offset, length) = intern(text)
        out.appendLE(offset)
        out.appendLE(length)
    }

    /// The payload bytes for an experiment in a layer over unit type `layerUnit` whose targeting is `program`.
    mutating func payload(program: [UInt8], layerUnit: Int) -> [UInt8] {
        var sections = [[UInt8]](repeating: [], count: PayloadFormat.Section.allCases.count)
        func put(_ section: PayloadFormat.Section, _ bytes: [UInt8]) { sections[Int(section.rawValue) - 1] = bytes }

        var unitRecords: [UInt8] = []
        for name in unitTypes { ref(name, into: &unitRecords) }
        var attributeRecords: [UInt8] = []
        for attribute in attributes {
            ref(attribute.name, into: &attributeRecords)
            attributeRecords += [attribute.type.rawValue, 0, 0, 0]
        }

        // Targeting section: segment rules, then the experiment's program.
        var targeting: [UInt8] = []
        var segmentRecords: [UInt8] = []
        var idEntries: [UInt8] = []
        var idCount = 0
        for segment in segments {
            ref(segment.name, into: &segmentRecords)
            segmentRecords.appendLE(segment.unitType.map(UInt32.init) ?? PayloadFormat.SegmentRecord.noUnitType)
            segmentRecords.appendLE(UInt32(targeting.count))
            segmentRecords.appendLE(UInt32(segment.rule.count))
            targeting += segment.rule
            segmentRecords.appendLE(UInt32(idCount))
            segmentRecords.appendLE(UInt32(segment.ids.count))
            segmentRecords += [UInt8](repeating: 0, count: 8)  // rule source: empty
            segmentRecords.appendLE(UInt32(0))
            let sorted = segment.ids.map { (XXH3.hash64(Array($0.utf8)), $0) }.sorted { a, b in
                a.0 != b.0 ? a.0 < b.0 : Array(a.1.utf8).lexicographicallyPrecedes(Array(b.1.utf8))
            }
            for (hash, id) in sorted {
                idEntries.appendLE(hash)
                ref(id, into: &idEntries)
                idEntries.appendLE(UInt32(0))
                idEntries.appendLE(UInt32(0))
            }
            idCount += segment.ids.count
        }
        let programOffset = targeting.count
        targeting += program

        var layer: [UInt8] = []
        ref("layer", into: &layer)
        ref("layer-salt", into: &layer)
        for value: UInt32 in [UInt32(layerUnit), 0, 1, 0, 0, 0, 0, 0, 0, 0] { layer.appendLE(value) }

        var experiment: [UInt8] = []
        ref("experiment", into: &experiment)
        ref("experiment-salt", into: &experiment)
        experiment += [UInt8](repeating: 0, count: 8)  // owner: empty
        experiment.appendLE(UInt32(0))  // layer
        experiment += [ExperimentStatus.running.rawValue, 0, 0, 0]  // status, flags, padding
        experiment.appendLE(Int64(0))  // start
        experiment.appendLE(Int64(0))  // stop
        for value: UInt32 in [0, 1, 0, 1, UInt32(programOffset), UInt32(program.count), 0, 0, UInt32(Bucketing.bucketCount)] {
            experiment.appendLE(value)
        }
        experiment += [UInt8](repeating: 0, count: 8)  // description: empty
        experiment += [UInt8](repeating: 0, count: 8)  // targeting source: empty
        experiment += [0, 0, 0, 0]  // padding to the record length
        precondition(experiment.count == PayloadFormat.ExperimentRecord.length)

        var variant: [UInt8] = []
        ref("on", into: &variant)
        for value: UInt32 in [0, 10_000, 0, 0, 0, 0] { variant.appendLE(value) }

        var buckets: [UInt8] = []
        for _ in 0..<Bucketing.bucketCount { buckets.appendLE(UInt16(1)) }

        put(.unitTypes, unitRecords)
        put(.attributes, attributeRecords)
        put(.layers, layer)
        put(.bucketTables, buckets)
        put(.experiments, experiment)
        put(.variants, variant)
        put(.variantRuns, [0, 0, 0, 0])
        put(.targeting, targeting)
        put(.segments, segmentRecords)
        put(.idEntries, idEntries)
        put(.strings, strings)  // last: every name above is interned by now

        var payload: [UInt8] = PayloadFormat.magic
        payload.appendLE(PayloadFormat.version)
        payload.appendLE(UInt32(sections.count))
        payload.appendLE(UInt64(1))  // bundle version
        payload.appendLE(Int64(0))  // created at
        let offset = PayloadFormat.headerLength + sections.count * PayloadFormat.directoryEntryLength
        var body: [UInt8] = []
        for (index, section) in sections.enumerated() {
            while (offset + body.count) % PayloadFormat.sectionAlignment != 0 { body.append(0) }
            payload.appendLE(UInt32(index + 1))
            payload.appendLE(UInt32(offset + body.count))
            payload.appendLE(UInt32(section.count))
            payload.appendLE(UInt32(0))
            body += section
        }
        return payload + body
    }

    private static let key = SigningKey.generate()

    /// The payload sealed, opened and validated like a real bundle.
    mutating func bundle(program: [UInt8], layerUnit: Int) throws -> LoadedBundle {
        let bytes = payload(program: program, layerUnit: layerUnit)
        let envelope = try BundleEnvelope.seal(payload: bytes, version: 1, createdAt: 0, key: Self.key)
        return try LoadedBundle.open(envelope: envelope, trustedKeys: [Self.key.publicKey])
    }
}
