/// A validated, zero-copy view of a decompressed payload.
///
/// Created only by `Payload.validate`, which checks every offset, length, index and count once;
/// the accessors below then read without further checks. The view does not own its bytes: it is
/// valid while the `MappedBytes` it came from is alive (a `LoadedBundle` keeps both together).
public struct Payload: @unchecked Sendable {
    // @unchecked: a read-only view (pointers into bytes nobody writes) with `let` fields only; the
    // owner of the bytes (`MappedBytes`, kept by `LoadedBundle`) outlives every use.
    let bytes: UnsafeRawBufferPointer
    /// `bytes.baseAddress`, never nil: a validated payload is at least its header. Accessors read
    /// through it with wrapping arithmetic, because validation has already proven every offset.
    let base: UnsafeRawPointer

    /// The bundle version recorded in the payload header.
    public let version: UInt64
    /// The created-at time recorded in the payload header.
    public let createdAt: Int64
    /// How units are hashed into buckets, fixed by the payload format version.
    public let bucketingScheme: BucketingScheme

    // Section start offsets.
    let strings: Int
    let unitTypes: Int
    let attributes: Int
    let layers: Int
    let bucketTables: Int
    let experiments: Int
    let variants: Int
    let parameterValues: Int
    let variantRuns: Int
    let parameters: Int
    let parameterIndex: Int
    let json: Int
    let targeting: Int
    let segments: Int
    let idEntries: Int
    let holdouts: Int
    let u32Lists: Int

    // Section lengths that are needed after validation.
    let stringsLength: Int
    let jsonLength: Int
    let targetingLength: Int

    public let unitTypeCount: Int
    public let attributeCount: Int
    public let layerCount: Int
    public let experimentCount: Int
    public let variantCount: Int
    public let parameterValueCount: Int
    public let variantRunCount: Int
    public let parameterCount: Int
    public let segmentCount: Int
    public let idEntryCount: Int
    public let holdoutCount: Int
    public let u32ListCount: Int
    let bucketTablesEntryCount: Int

    /// The evaluator's per-layer and per-experiment records, built by `validate` once the payload
    /// has passed every check (see `EvaluationPlan`).
    var plan = EvaluationPlan.unbuilt

    // MARK: Primitive reads

    @inline(__always) func u8(_ offset: Int) -> UInt8 { base.load(fromByteOffset: offset, as: UInt8.self) }
    @inline(__always) func u16(_ offset: Int) -> UInt16 {
        UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inline(__always) func u32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inline(__always) func int(_ offset: Int) -> Int { Int(truncatingIfNeeded: u32(offset)) }
    @inline(__always) func u64(_ offset: Int) -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    @inline(__always) func i64(_ offset: Int) -> Int64 { Int64(bitPattern: u64(offset)) }

    /// The bytes of a string reference stored at `offset`.
    @inline(__always)
    func stringBytes(at offset: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + (strings &+ int(offset)), count: int(offset &+ 4))
    }

    /// The bytes of a JSON reference stored at `offset`.
    @inline(__always)
    func jsonBytes(at offset: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + (json &+ int(offset)), count: int(offset &+ 4))
    }

    /// A string reference stored at `offset`, as a Swift string.
    func string(at offset: Int) -> String {
        String(decoding: stringBytes(at: offset), as: UTF8.self)
    }

    // MARK: Record offsets

    @inline(__always) func unitTypeRecord(_ i: Int) -> Int { unitTypes &+ i &* PayloadFormat.UnitTypeRecord.length }
    @inline(__always) func attributeRecord(_ i: Int) -> Int { attributes &+ i &* PayloadFormat.AttributeRecord.length }
    @inline(__always) func layerRecord(_ i: Int) -> Int { layers &+ i &* PayloadFormat.LayerRecord.length }
    @inline(__always) func experimentRecord(_ i: Int) -> Int { experiments &+ i &* PayloadFormat.ExperimentRecord.length }
    @inline(__always) func variantRecord(_ i: Int) -> Int { variants &+ i &* PayloadFormat.VariantRecord.length }
    /// The record of variant `variant` (its index within the experiment) of the experiment whose record is at `experimentRecord`.
    @inline(__always) func variantRecord(experimentRecord e: Int, variant: Int32) -> Int {
        variantRecord(int(e &+ PayloadFormat.ExperimentRecord.firstVariant) &+ Int(variant))
    }
    @inline(__always) func parameterValueRecord(_ i: Int) -> Int { parameterValues &+ i &* PayloadFormat.ParameterValueRecord.length }
    @inline(__always) func variantRunRecord(_ i: Int) -> Int { variantRuns &+ i &* PayloadFormat.VariantRunRecord.length }
    @inline(__always) func parameterRecord(_ i: Int) -> Int { parameters &+ i &* PayloadFormat.ParameterRecord.length }
    @inline(__always) func segmentRecord(_ i: Int) -> Int { segments &+ i &* PayloadFormat.SegmentRecord.length }
    @inline(__always) func idEntryRecord(_ i: Int) -> Int { idEntries &+ i &* PayloadFormat.IDEntryRecord.length }
    @inline(__always) func holdoutRecord(_ i: Int) -> Int { holdouts &+ i &* PayloadFormat.HoldoutRecord.length }
    @inline(__always) func u32List(_ i: Int) -> Int { int(u32Lists &+ i &* 4) }

    /// The experiment index owning `bucket` of `layer`, relative to the layer's first experiment, plus one; 0 = free.
    @inline(__always)
    func bucketOwner(layer: Int, bucket: Int) -> Int {
        Int(u16(bucketTables &+ (layer &* Bucketing.bucketCount &+ bucket) &* 2))
    }

    /// The targeting program bytes at `offset ..< offset + length` of the targeting section.
    @inline(__always)
    func program(offset: Int, length: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + (targeting &+ offset), count: length)
    }
}
