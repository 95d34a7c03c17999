/// Everything a bundle holds, as plain Swift values: for `allot inspect`, `allot diff`, tests and
/// tools. Built on demand (it allocates); the evaluator never uses it.
public struct BundleContents: Sendable, Equatable {
    public struct Layer: Sendable, Equatable {
        public var name: String
        public var unitType: String
        public var salt: String
        /// Global indices of the layer's experiments.
        public var experiments: [Int]
        /// Global indices of the layer's parameters.
        public var parameters: [Int]
        /// Per bucket, the global index of the owning experiment, or -1.
        public var bucketOwners: [Int]
        /// Indices of the holdouts covering the layer.
        public var holdouts: [Int]
        /// Overrides: unit id, global experiment index, variant index.
        public var overrides: [Override]
    }

    public struct Override: Sendable, Equatable {
        public var unit: String
        public var experiment: Int
        public var variant: Int
    }

    public struct Experiment: Sendable, Equatable {
        public var name: String
        public var layer: Int
        public var status: ExperimentStatus
        public var start: Int64?
        public var stop: Int64?
        public var salt: String
        public var owner: String
        public var description: String
        /// Layer buckets owned (0.01% each).
        public var trafficBuckets: Int
        public var variants: [Variant]
        /// Per variant bucket, the variant index (empty when built with
        /// `contents(expandingVariantBuckets: false)`).
        public var variantOfBucket: [Int]
        /// The variant runs: run `r` covers variant buckets `[start_r, start_{r+1})`.
        public var variantRuns: [VariantRun]
        /// Canonical targeting text; empty without targeting.
        public var targeting: String
        public var segments: [String]
    }

    public struct VariantRun: Sendable, Equatable {
        /// First variant bucket of the run.
        public var start: Int
        /// The variant's index within the experiment.
        public var variant: Int
    }

    public struct Variant: Sendable, Equatable {
        public var name: String
        /// Basis points.
        public var weight: Int
        /// Every parameter of the layer: name, JSON value, and whether this variant sets it.
        public var parameters: [ParameterValue]
    }

    public struct ParameterValue: Sendable, Equatable {
        public var name: String
        public var json: String
        public var isSet: Bool
    }

    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var layer: Int
        public var type: ParameterType
        public var defaultJSON: String
    }

    public struct Segment: Sendable, Equatable {
        public var name: String
        public var unitType: String?
        public var rule: String
        public var ids: Int
    }

    public struct Holdout: Sendable, Equatable {
        public var name: String
        public var unitType: String
        public var salt: String
        /// Basis points of the unit type held out.
        public var share: Int
    }

    public var version: UInt64
    public var createdAt: Int64
    public var keyID: String
    public var compressedLength: Int
    public var payloadLength: Int
    /// How units are hashed into buckets (the payload format version's scheme).
    public var bucketingScheme: BucketingScheme
    /// The signed envelope's size in bytes.
    public var envelopeLength: Int { BundleHeader.length + compressedLength + BundleHeader.signatureLength }
    public var unitTypes: [String]
    public var attributes: [(name: String, type: AttributeType)]
    public var layers: [Layer]
    public var experiments: [Experiment]
    public var parameters: [Parameter]
    public var segments: [Segment]
    public var holdouts: [Holdout]

    public static func == (a: BundleContents, b: BundleContents) -> Bool {
        a.version == b.version && a.createdAt == b.createdAt && a.keyID == b.keyID && a.bucketingScheme == b.bucketingScheme
            && a.unitTypes == b.unitTypes
            && a.attributes.map(\.name) == b.attributes.map(\.name) && a.attributes.map(\.type) == b.attributes.map(\.type)
            && a.layers == b.layers && a.experiments == b.experiments && a.parameters == b.parameters && a.segments == b.segments
            && a.holdouts == b.holdouts
    }
}

extension LoadedBundle {
    /// The bundle's contents as Swift values.
    public var contents: BundleContents { contents(expandingVariantBuckets: true) }

    /// The bundle's contents as Swift values. Without `expandingVariantBuckets`, experiments carry
    /// only their variant runs (`variantOfBucket` is empty), which keeps bundles with many
    /// experiments cheap to read (10,000 entries per experiment otherwise).
    public func contents(expandingVariantBuckets: Bool) -> BundleContents {
        let p = payload
        let unitTypes = (0..<p.unitTypeCount).map { p.string(at: p.unitTypeRecord($0) + PayloadFormat.UnitTypeRecord.name) }
        let attributes = (0..<p.attributeCount).map { i in
            (p.string(at: p.attributeRecord(i) + PayloadFormat.AttributeRecord.name), attributeType(i))
        }
        let parameters = (0..<p.parameterCount).map { i -> BundleContents.Parameter in
            let r = p.parameterRecord(i)
            return BundleContents.Parameter(
                name: p.string(at: r + PayloadFormat.ParameterRecord.name), layer: p.int(r + PayloadFormat.ParameterRecord.layer),
                type: ParameterType(rawValue: p.u8(r + PayloadFormat.ParameterRecord.type))!,
                defaultJSON: String(decoding: p.jsonBytes(at: r + PayloadFormat.ParameterRecord.defaultValue), as: UTF8.self))
        }
        let segments = (0..<p.segmentCount).map { i -> BundleContents.Segment in
            let r = p.segmentRecord(i)
            let unit = p.u32(r + PayloadFormat.SegmentRecord.unitType)
            return BundleContents.Segment(
                name: p.string(at: r + PayloadFormat.SegmentRecord.name),
                unitType: unit == PayloadFormat.SegmentRecord.noUnitType ? nil : unitTypes[Int(unit)],
                rule: p.string(at: r + PayloadFormat.SegmentRecord.ruleSource), ids: p.int(r + PayloadFormat.SegmentRecord.idCount))
        }
        let segmentNames = segments.map(\.name)
        let holdouts = (0..<p.holdoutCount).map { i -> BundleContents.Holdout in
            let r = p.holdoutRecord(i)
            return BundleContents.Holdout(
                name: p.string(at: r + PayloadFormat.HoldoutRecord.name),
                unitType: unitTypes[p.int(r + PayloadFormat.HoldoutRecord.unitType)],
                salt: p.string(at: r + PayloadFormat.HoldoutRecord.salt), share: p.int(r + PayloadFormat.HoldoutRecord.shareBuckets))
        }
        var experiments: [BundleContents.Experiment] = []
        for i in 0..<p.experimentCount {
            let r = p.experimentRecord(i)
            let layer = p.int(r + PayloadFormat.ExperimentRecord.layer)
            let layerRecord = p.layerRecord(layer)
            let firstParameter = p.int(layerRecord + PayloadFormat.LayerRecord.firstParameter)
            let parameterCount = p.int(layerRecord + PayloadFormat.LayerRecord.parameterCount)
            let firstVariant = p.int(r + PayloadFormat.ExperimentRecord.firstVariant)
            let variants = (0..<p.int(r + PayloadFormat.ExperimentRecord.variantCount)).map { v -> BundleContents.Variant in
                let vr = p.variantRecord(firstVariant + v)
                let firstValue = p.int(vr + PayloadFormat.VariantRecord.firstParameterValue)
                let values = (0..<parameterCount).map { k -> BundleContents.ParameterValue in
                    let pv = p.parameterValueRecord(firstValue + k)
                    return BundleContents.ParameterValue(
                        name: parameters[firstParameter + k].name,
                        json: String(decoding: p.jsonBytes(at: pv + PayloadFormat.ParameterValueRecord.value), as: UTF8.self),
                        isSet: p.u32(pv + PayloadFormat.ParameterValueRecord.flags) & 1 != 0)
                }
                return BundleContents.Variant(
                    name: p.string(at: vr + PayloadFormat.VariantRecord.name), weight: p.int(vr + PayloadFormat.VariantRecord.weight),
                    parameters: values)
            }
            let firstRun = p.int(r + PayloadFormat.ExperimentRecord.firstVariantRun)
            let runCount = p.int(r + PayloadFormat.ExperimentRecord.variantRunCount)
            let variantOfBucket =
                expandingVariantBuckets
                ? (0..<Bucketing.bucketCount).map { variantForBucket($0, firstRun: firstRun, runCount: runCount) } : []
            let variantRuns = (firstRun..<(firstRun + runCount)).map { run in
                BundleContents.VariantRun(
                    start: Int(p.u16(p.variantRunRecord(run) + PayloadFormat.VariantRunRecord.start)),
                    variant: Int(p.u16(p.variantRunRecord(run) + PayloadFormat.VariantRunRecord.variant)))
            }
            let flags = p.u8(r + PayloadFormat.ExperimentRecord.flags)
            let firstSegment = p.int(r + PayloadFormat.ExperimentRecord.firstSegmentRef)
            experiments.append(
                BundleContents.Experiment(
                    name: p.string(at: r + PayloadFormat.ExperimentRecord.name), layer: layer,
                    status: ExperimentStatus(rawValue: p.u8(r + PayloadFormat.ExperimentRecord.status))!,
                    start: flags & PayloadFormat.ExperimentRecord.flagHasStart != 0 ? p.i64(r + PayloadFormat.ExperimentRecord.start) : nil,
                    stop: flags & PayloadFormat.ExperimentRecord.flagHasStop != 0 ? p.i64(r + PayloadFormat.ExperimentRecord.stop) : nil,
                    salt: p.string(at: r + PayloadFormat.ExperimentRecord.salt),
                    owner: p.string(at: r + PayloadFormat.ExperimentRecord.owner),
                    description: p.string(at: r + PayloadFormat.ExperimentRecord.description),
                    trafficBuckets: p.int(r + PayloadFormat.ExperimentRecord.trafficBuckets), variants: variants,
                    variantOfBucket: variantOfBucket, variantRuns: variantRuns,
                    targeting: p.string(at: r + PayloadFormat.ExperimentRecord.targetingSource),
                    segments: (0..<p.int(r + PayloadFormat.ExperimentRecord.segmentRefCount)).map {
                        segmentNames[p.u32List(firstSegment + $0)]
                    }))
        }
        let layers = (0..<p.layerCount).map { l -> BundleContents.Layer in
            let r = p.layerRecord(l)
            let first = p.int(r + PayloadFormat.LayerRecord.firstExperiment)
            let mask = p.u32(r + PayloadFormat.LayerRecord.holdoutMask)
            let firstOverride = p.int(r + PayloadFormat.LayerRecord.firstOverride)
            let overrides = (0..<p.int(r + PayloadFormat.LayerRecord.overrideCount)).map { k -> BundleContents.Override in
                let e = p.idEntryRecord(firstOverride + k)
                return BundleContents.Override(
                    unit: p.string(at: e + PayloadFormat.IDEntryRecord.string),
                    experiment: p.int(e + PayloadFormat.IDEntryRecord.experiment),
                    variant: p.int(e + PayloadFormat.IDEntryRecord.variant))
            }.sorted { $0.unit < $1.unit }
            return BundleContents.Layer(
                name: p.string(at: r + PayloadFormat.LayerRecord.name), unitType: unitTypes[p.int(r + PayloadFormat.LayerRecord.unitType)],
                salt: p.string(at: r + PayloadFormat.LayerRecord.salt),
                experiments: Array(first..<(first + p.int(r + PayloadFormat.LayerRecord.experimentCount))),
                parameters: Array(
                    p.int(
                        r + PayloadFormat.LayerRecord.firstParameter)..<(p.int(r + PayloadFormat.LayerRecord.firstParameter)
                        + p.int(r + PayloadFormat.LayerRecord.parameterCount))),
                bucketOwners: (0..<Bucketing.bucketCount).map { b in
                    let owner = p.bucketOwner(layer: l, bucket: b)
                    return owner == 0 ? -1 : first + owner - 1
                },
                holdouts: (0..<p.holdoutCount).filter { mask & (1 << UInt32($0)) != 0 }, overrides: overrides)
        }
        return BundleContents(
            version: version, createdAt: createdAt, keyID: header.keyID.description, compressedLength: header.compressedLength,
            payloadLength: header.payloadLength, bucketingScheme: p.bucketingScheme, unitTypes: unitTypes, attributes: attributes,
            layers: layers, experiments: experiments,
            parameters: parameters, segments: segments, holdouts: holdouts)
    }

    /// The ids listed by segment `index`, in table order (by hash); empty for a rule-only segment.
    public func segmentIDs(_ index: Int) -> [String] {
        let p = payload
        guard index >= 0, index < p.segmentCount else { return [] }
        let record = p.segmentRecord(index)
        let first = p.int(record + PayloadFormat.SegmentRecord.firstID)
        return (first..<(first + p.int(record + PayloadFormat.SegmentRecord.idCount))).map {
            p.string(at: p.idEntryRecord($0) + PayloadFormat.IDEntryRecord.string)
        }
    }
}
