/// How a unit lands in a bucket: the one function every layer, experiment and holdout uses.
///
/// Scheme 1 (payload format 1): `hash = XXH3_64(salt ‖ 0x00 ‖ unitID)` over UTF-8 bytes, seed 0.
/// Salts never contain a zero byte (the compiler refuses them), so the separator is unambiguous.
/// Scheme 2 (payload format 2): `hash = XXH3_64(XXH3_128(unitID), seed: XXH3_64(salt))`, the
/// 128-bit digest in canonical byte order (`BucketingScheme`, `UnitDigest`, `SaltKey`). The hash is mapped to
/// `0 ..< bucketCount` by Lemire's multiply-shift with rejection, which has no modulo bias; a
/// rejected hash (probability below 2⁻⁵⁰) is rehashed as `XXH3_64(le64(hash))` until accepted.
/// `docs/bundle-format.md` specifies this; `Tests/Vectors/buckets.json` pins it.
public enum Bucketing {
    /// Buckets in a layer and in an experiment's variant space: traffic has 0.01% granularity.
    public static let bucketCount = 10_000

    /// The longest unit id, in UTF-8 bytes, that Allot hashes. Longer ids are refused by the
    /// request parsers and treated as absent by the evaluator.
    public static let maxUnitIDLength = 512

    /// The longest salt, in UTF-8 bytes.
    public static let maxSaltLength = 255

    /// The 64-bit hash of a unit id under a salt.
    public static func hash(salt: UnsafeRawBufferPointer, unitID: UnsafeRawBufferPointer) -> UInt64 {
        let total = salt.count + 1 + unitID.count
        return withUnsafeTemporaryAllocation(byteCount: total, alignment: 8) { buffer in
            if salt.count > 0 {
                buffer.baseAddress!.copyMemory(from: salt.baseAddress!, byteCount: salt.count)
            }
            buffer[salt.count] = 0
            if unitID.count > 0 {
                (buffer.baseAddress! + salt.count + 1).copyMemory(from: unitID.baseAddress!, byteCount: unitID.count)
            }
            return XXH3.hash64(UnsafeRawBufferPointer(buffer))
        }
    }

    /// The 64-bit hash of a unit id under a salt, for strings.
    public static func hash(salt: String, unitID: String) -> UInt64 {
        var salt = salt
        var unitID = unitID
        return salt.withUTF8 { s in
            unitID.withUTF8 { u in
                hash(salt: UnsafeRawBufferPointer(s), unitID: UnsafeRawBufferPointer(u))
            }
        }
    }

    /// The 64-bit hash of a unit id under a salt in either scheme, for strings.
    public static func hash(scheme: BucketingScheme, salt: String, unitID: String) -> UInt64 {
        switch scheme {
        case .saltedID: return hash(salt: salt, unitID: unitID)
        case .unitDigest: return SaltKey(salt: salt).hash(UnitDigest(id: unitID))
        }
    }

    /// The bucket of a unit id under a salt in either scheme, for strings.
    public static func bucket(scheme: BucketingScheme, salt: String, unitID: String, count: Int = bucketCount) -> Int {
        bucket(forHash: hash(scheme: scheme, salt: salt, unitID: unitID), count: count)
    }

    /// Maps a 64-bit hash to `0 ..< count` without modulo bias.
    @inline(__always)
    public static func bucket(forHash hash: UInt64, count: Int = bucketCount) -> Int {
        let n = UInt64(count)
        var h = hash
        var product = h.multipliedFullWidth(by: n)
        if product.low < n {
            let threshold = (0 &- n) % n
            while product.low < threshold {
                h = rehash(h)
                product = h.multipliedFullWidth(by: n)
            }
        }
        return Int(product.high)
    }

    /// The bucket of a unit id under a salt.
    @inline(__always)
    public static func bucket(salt: UnsafeRawBufferPointer, unitID: UnsafeRawBufferPointer, count: Int = bucketCount) -> Int {
        bucket(forHash: hash(salt: salt, unitID: unitID), count: count)
    }

    /// The bucket of a unit id under a salt, for strings.
    public static func bucket(salt: String, unitID: String, count: Int = bucketCount) -> Int {
        bucket(forHash: hash(salt: salt, unitID: unitID), count: count)
    }

    /// The replacement for a rejected hash: XXH3 of its eight little-endian bytes.
    static func rehash(_ hash: UInt64) -> UInt64 {
        withUnsafeBytes(of: hash.littleEndian) { XXH3.hash64($0) }
    }
}

/// The loaded unit's id and what its buckets are hashed from. Scheme 1: `salt ‖ 0x00 ‖ id` laid
/// out contiguously in scratch memory: the id is written once (at the end), each salt just before
/// it, so hashing one unit under many salts copies only the salts. Scheme 2: the id's digest,
/// computed once per `load`, hashed under each salt's key. The evaluator keeps one on the stack
/// per evaluation.
struct BucketKeyBuffer {
    static let capacity = Bucketing.maxSaltLength + 1 + Bucketing.maxUnitIDLength

    private let base: UnsafeMutableRawPointer
    /// The unit type whose id is loaded, -1 before the first `load`.
    private(set) var unitType = -1
    private var idLength = 0
    /// Scheme 2: buckets come from `digest` (`bucket(keyAt:)`), not from the salted id.
    let usesDigest: Bool
    /// Scheme 2: the loaded id's digest.
    private var digest = UnitDigest(first: 0, second: 0)

    /// `scratch` must hold at least `capacity` bytes and outlive the buffer.
    init(scratch: UnsafeMutableRawPointer, scheme: BucketingScheme) {
        self.base = scratch
        self.usesDigest = scheme == .unitDigest
    }

    /// Places the id of `unitType` (at most `maxUnitIDLength` bytes), unless it is already there.
    @inline(__always)
    mutating func load(unitType: Int, id: UnsafeRawBufferPointer) {
        guard unitType != self.unitType else { return }
        precondition(id.count <= Bucketing.maxUnitIDLength, "unit ids are at most \(Bucketing.maxUnitIDLength) bytes")
        idLength = id.count
        let start = Self.capacity - idLength
        if idLength > 0 { (base + start).copyMemory(from: id.baseAddress!, byteCount: idLength) }
        base.storeBytes(of: 0, toByteOffset: start - 1, as: UInt8.self)
        if usesDigest { digest = UnitDigest(id: id) }
        self.unitType = unitType
    }

    /// Scheme 2: the bucket of the loaded id under the `SaltKey` stored as two words at `key`.
    @inline(__always)
    func bucket(keyAt key: UnsafeRawPointer) -> Int {
        let saltKey = SaltKey(first: key.load(as: UInt64.self), second: key.load(fromByteOffset: 8, as: UInt64.self))
        return Bucketing.bucket(forHash: saltKey.hash(digest))
    }

    /// The loaded id.
    var id: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + (Self.capacity &- idLength), count: idLength)
    }

    /// The bucket of the loaded id under `salt` (at most `maxSaltLength` bytes, no zero byte).
    @inline(__always)
    func bucket(salt: UnsafeRawBufferPointer) -> Int {
        let start = Self.capacity &- idLength &- 1 &- salt.count
        if let source = salt.baseAddress { copySmall(to: base + start, from: source, count: salt.count) }
        return Bucketing.bucket(forHash: XXH3.hash64(UnsafeRawBufferPointer(start: base + start, count: Self.capacity - start)))
    }

    /// The bucket of the loaded id under a salt of `length` bytes (at most 32, no zero byte) held
    /// right-aligned in the 32 bytes at `salt`: two fixed 16-byte moves place it, whatever its
    /// length, because bytes written before the salt's start are outside the hashed range (the
    /// buffer has room: the id takes at most `maxUnitIDLength` bytes of `capacity`).
    @inline(__always)
    func bucket(rightAlignedSalt salt: UnsafeRawPointer, length: Int) -> Int {
        let separator = Self.capacity &- idLength &- 1
        let destination = base + (separator &- 32)
        destination.storeBytes(of: salt.loadUnaligned(as: SIMD16<UInt8>.self), as: SIMD16<UInt8>.self)
        destination.storeBytes(of: salt.loadUnaligned(fromByteOffset: 16, as: SIMD16<UInt8>.self), toByteOffset: 16, as: SIMD16<UInt8>.self)
        let start = separator &- length
        return Bucketing.bucket(forHash: XXH3.hash64(UnsafeRawBufferPointer(start: base + start, count: Self.capacity &- start)))
    }
}

/// Copies `count` bytes with unaligned word moves, inline: salts are short, and a `memmove` call
/// costs more than the copy. Reads and writes stay within `[0, count)` of both buffers.
/// (`copyBytes` in Support/Memory.swift does the same job for the answer writer; used here it
/// costs about 280 more instructions per 50-layer evaluation: `Benchmarks/count-instructions.sh`.)
@inline(__always)
func copySmall(to destination: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count: Int) {
    if count >= 8 {
        var index = 0
        while index &+ 8 <= count {
            destination.storeBytes(of: source.loadUnaligned(fromByteOffset: index, as: UInt64.self), toByteOffset: index, as: UInt64.self)
            index &+= 8
        }
        if index < count {
            let last = count &- 8
            destination.storeBytes(of: source.loadUnaligned(fromByteOffset: last, as: UInt64.self), toByteOffset: last, as: UInt64.self)
        }
    } else if count >= 4 {
        destination.storeBytes(of: source.loadUnaligned(fromByteOffset: 0, as: UInt32.self), toByteOffset: 0, as: UInt32.self)
        let last = count &- 4
        destination.storeBytes(of: source.loadUnaligned(fromByteOffset: last, as: UInt32.self), toByteOffset: last, as: UInt32.self)
    } else {
        var index = 0
        while index < count {
            destination.storeBytes(of: source.load(fromByteOffset: index, as: UInt8.self), toByteOffset: index, as: UInt8.self)
            index &+= 1
        }
    }
}
