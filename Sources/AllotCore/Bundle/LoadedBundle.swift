/// A verified bundle, ready to evaluate: the envelope header, the bytes of the payload (heap or
/// memory-mapped) and the validated view over them, kept alive together.
///
/// Immutable after `init`; safe to share across threads. Swapping bundles means replacing the
/// reference; a request holding the old reference finishes on the old bytes.
public final class LoadedBundle: @unchecked Sendable {
    // @unchecked: every stored property is a `let` set in init; `payload` and `plan` hold pointers
    // into `storage`'s bytes, which are never written and live as long as this object; the
    // answer plan is immutable after its init.
    /// The header of the envelope the payload came from.
    public let header: BundleHeader
    /// The validated view of the payload. Valid as long as this object is.
    public let payload: Payload
    private let storage: MappedBytes
    /// The answers' pre-rendered text (built at load).
    let answerPlan: AnswerPlan

    /// The bundle version.
    public var version: UInt64 { header.version }
    /// When the bundle's inputs were made (unix seconds).
    public var createdAt: Int64 { header.createdAt }

    /// Validates `storage` as the payload of the envelope `header` describes.
    /// - Parameter checkHash: whether to recompute the payload's BLAKE2b (skip only when it was
    ///   just checked during decompression).
    public init(header: BundleHeader, payloadStorage storage: MappedBytes, checkHash: Bool) throws(BundleError) {
        guard storage.count == header.payloadLength else {
            throw BundleError(.truncated, "payload is \(storage.count) bytes, the header says \(header.payloadLength)")
        }
        let bytes = storage.unsafeBuffer
        if checkHash {
            guard Blake2b.hash256(bytes) == header.payloadHash else {
                throw BundleError(.hashMismatch, "the payload's BLAKE2b-256 does not match the header")
            }
        }
        let payload = try Payload.validate(bytes)
        guard payload.version == header.version, payload.createdAt == header.createdAt else {
            throw BundleError(
                .malformedPayload, "payload header (version \(payload.version)) disagrees with the envelope (version \(header.version))")
        }
        self.header = header
        self.storage = storage
        self.payload = payload
        answerPlan = AnswerPlan(payload)
    }

    /// Verifies and opens an envelope held in memory: header, trusted signature, size limits,
    /// decompression, hash, then full payload validation.
    public static func open(envelope: UnsafeRawBufferPointer, trustedKeys: [PublicKey], limits: BundleLimits = .default)
        throws(BundleError) -> LoadedBundle
    {
        let (header, payload) = try BundleEnvelope.open(envelope, trustedKeys: trustedKeys, limits: limits)
        let storage = payload.withUnsafeBytes { MappedBytes(copying: $0) }
        return try LoadedBundle(header: header, payloadStorage: storage, checkHash: false)
    }

    /// Verifies and opens an envelope held in memory.
    public static func open(envelope: [UInt8], trustedKeys: [PublicKey], limits: BundleLimits = .default) throws(BundleError)
        -> LoadedBundle
    {
        try envelope.withUnsafeBytes { bytes in
            Result { () throws(BundleError) in try open(envelope: bytes, trustedKeys: trustedKeys, limits: limits) }
        }.get()
    }

    /// Reads, verifies and opens the envelope file at `path`.
    public static func load(path: String, trustedKeys: [PublicKey], limits: BundleLimits = .default) throws(BundleError) -> LoadedBundle {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path: path)
        } catch {
            throw BundleError(.io, error.description)
        }
        return try open(envelope: bytes, trustedKeys: trustedKeys, limits: limits)
    }

    /// Maps a payload file already decompressed from the envelope `header` describes (a server's
    /// cache) and checks its structure, and its hash unless `checkHash` is false (when the caller
    /// has just decompressed it with `BundleEnvelope.decompress`, which checks the hash).
    public static func map(payloadAt path: String, header: BundleHeader, checkHash: Bool = true) throws(BundleError) -> LoadedBundle {
        let storage: MappedBytes
        do {
            storage = try MappedBytes(mapping: path)
        } catch {
            throw BundleError(.io, error.description)
        }
        return try LoadedBundle(header: header, payloadStorage: storage, checkHash: checkHash)
    }

    // MARK: Names

    /// The index of the unit type named `name`, or nil.
    public func unitTypeIndex(named name: UnsafeRawBufferPointer) -> Int? {
        binarySearch(count: payload.unitTypeCount, name: name) { payload.unitTypeRecord($0) + PayloadFormat.UnitTypeRecord.name }
    }

    /// The index of the attribute named `name`, or nil.
    public func attributeIndex(named name: UnsafeRawBufferPointer) -> Int? {
        binarySearch(count: payload.attributeCount, name: name) { payload.attributeRecord($0) + PayloadFormat.AttributeRecord.name }
    }

    /// The index of the parameter named `name`, or nil.
    public func parameterIndex(named name: UnsafeRawBufferPointer) -> Int? {
        guard
            let position = binarySearch(
                count: payload.parameterCount, name: name,
                nameAt: { payload.parameterRecord(payload.int(payload.parameterIndex + $0 * 4)) + PayloadFormat.ParameterRecord.name })
        else { return nil }
        return payload.int(payload.parameterIndex + position * 4)
    }

    /// The index of the unit type named `name`, or nil.
    public func unitTypeIndex(named name: String) -> Int? { withUTF8(name) { unitTypeIndex(named: $0) } }
    /// The index of the attribute named `name`, or nil.
    public func attributeIndex(named name: String) -> Int? { withUTF8(name) { attributeIndex(named: $0) } }
    /// The index of the parameter named `name`, or nil.
    public func parameterIndex(named name: String) -> Int? { withUTF8(name) { parameterIndex(named: $0) } }

    /// The name of attribute `index` (`0..<payload.attributeCount`; traps otherwise).
    public func attributeName(_ index: Int) -> String {
        checkIndex(index, payload.attributeCount, "attribute")
        return payload.string(at: payload.attributeRecord(index) + PayloadFormat.AttributeRecord.name)
    }

    /// The declared type of attribute `index` (`0..<payload.attributeCount`; traps otherwise).
    public func attributeType(_ index: Int) -> AttributeType {
        checkIndex(index, payload.attributeCount, "attribute")
        return AttributeType(rawValue: payload.u8(payload.attributeRecord(index) + PayloadFormat.AttributeRecord.type))!
    }

    /// Traps, naming `kind`, unless `0 <= index < count`: public entry points that take an index
    /// check it (one compare) rather than read outside the payload.
    @inline(__always)
    func checkIndex(_ index: Int, _ count: Int, _ kind: StaticString) {
        precondition(UInt(bitPattern: index) < UInt(bitPattern: count), "\(kind) index out of range for this bundle")
    }

    /// Traps unless `outcome` names a layer, an experiment and a variant (or -1) of this bundle,
    /// as outcomes from `evaluate` on this bundle do: one from another bundle is refused before
    /// any record is read.
    @inline(__always)
    func checkOutcome(_ outcome: Outcome) {
        let p = payload
        precondition(
            UInt(bitPattern: Int(outcome.layer)) < UInt(bitPattern: p.layerCount)
                && UInt(bitPattern: Int(outcome.experiment)) < UInt(bitPattern: p.experimentCount)
                && outcome.variant >= -1
                && Int(outcome.variant) < p.int(p.experimentRecord(Int(outcome.experiment)) &+ PayloadFormat.ExperimentRecord.variantCount),
            "the outcome does not belong to this bundle")
    }

    private func binarySearch(count: Int, name: UnsafeRawBufferPointer, nameAt: (Int) -> Int) -> Int? {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) >> 1
            let result = compareBytes(payload.stringBytes(at: nameAt(middle)), name)
            if result == 0 { return middle }
            if result < 0 { low = middle + 1 } else { high = middle }
        }
        return nil
    }
}

@inline(__always)
func withUTF8<R>(_ string: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    var string = string
    return string.withUTF8 { body(UnsafeRawBufferPointer($0)) }
}

extension LoadedBundle {
    /// Validates a payload that never was in an envelope, for tools that just compiled it
    /// themselves (`allot diff` and `allot lint` compiling experiment directories): full payload
    /// validation, but no signature, hash or envelope. Servers load envelopes, never this.
    public static func open(unsignedPayload payload: [UInt8]) throws(BundleError) -> LoadedBundle {
        guard payload.count >= 32 else { throw BundleError(.truncated, "payload is \(payload.count) bytes, shorter than its header") }
        let version = payload.withUnsafeBytes { $0.le64(16) }
        let createdAt = payload.withUnsafeBytes { Int64(bitPattern: $0.le64(24)) }
        let header = BundleHeader(
            version: version, createdAt: createdAt, keyID: KeyID(bytes: [UInt8](repeating: 0, count: 8))!, compressedLength: 0,
            payloadLength: payload.count, payloadHash: [UInt8](repeating: 0, count: 32), signature: [UInt8](repeating: 0, count: 64))
        let storage = payload.withUnsafeBytes { MappedBytes(copying: $0) }
        return try LoadedBundle(header: header, payloadStorage: storage, checkHash: false)
    }
}
