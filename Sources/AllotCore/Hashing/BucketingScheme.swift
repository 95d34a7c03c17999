/// How a unit id and a salt become a 64-bit hash (then a bucket, by `Bucketing.bucket(forHash:)`).
///
/// The scheme is fixed by the payload format version: a version 1 payload uses `.saltedID`, a
/// version 2 payload `.unitDigest`. Both give uniform, independent buckets per salt
/// (`Benchmarks/hash-scheme/study.py`, `docs/bundle-format.md` §3); they give *different* buckets,
/// so a project changes scheme only on purpose (`allot compile --bucketing-scheme`, recorded in
/// the allocation lock).
public enum BucketingScheme: Int, Sendable, CaseIterable, CustomStringConvertible {
    /// Scheme 1: `XXH3_64(salt ‖ 0x00 ‖ id)`, one hash of the id per salt.
    case saltedID = 1
    /// Scheme 2: the id is hashed once, `XXH3_128(id)`; each salt hashes the 16-byte digest,
    /// `XXH3_64(digest, seed: XXH3_64(salt))`.
    case unitDigest = 2

    /// The payload format version that carries this scheme.
    public var payloadFormatVersion: UInt32 { UInt32(rawValue) }

    /// The scheme of a payload format version, nil for versions this build does not read.
    public init?(payloadFormatVersion: UInt32) {
        self.init(rawValue: Int(payloadFormatVersion))
    }

    /// The scheme a project without an allocation lock starts with.
    public static let newProjectDefault = BucketingScheme.unitDigest

    public var description: String { String(rawValue) }
}

/// A unit id's scheme-2 digest, `XXH3_128(id)` in xxHash's canonical byte order (`high`
/// big-endian, then `low` big-endian), held as the two little-endian words a 16-byte XXH3 reads.
public struct UnitDigest: Equatable, Sendable {
    /// Bytes 0..<8 of the canonical digest, read little-endian: `high.byteSwapped`.
    public var first: UInt64
    /// Bytes 8..<16 of the canonical digest, read little-endian: `low.byteSwapped`.
    public var second: UInt64

    /// A digest from its two words (as `first` and `second` hold them).
    @inline(__always)
    public init(first: UInt64, second: UInt64) {
        self.first = first
        self.second = second
    }

    /// The digest of `id`.
    @inline(__always)
    public init(id: UnsafeRawBufferPointer) {
        let hash = XXH3.hash128(id)
        first = hash.high.byteSwapped
        second = hash.low.byteSwapped
    }

    /// The digest of `id`, for strings.
    public init(id: String) {
        self = Array(id.utf8).withUnsafeBytes { UnitDigest(id: $0) }
    }

    /// The 16 canonical bytes.
    public var bytes: [UInt8] {
        withUnsafeBytes(of: (first.littleEndian, second.littleEndian)) { Array($0) }
    }
}

/// A salt prepared for scheme 2: its seed `XXH3_64(salt)` folded into the two words XXH3 XORs
/// into a 9–16-byte input, so hashing a digest under it is a multiply and an avalanche.
public struct SaltKey: Equatable, Sendable {
    /// `(secret[24..<32] ^ secret[32..<40]) + seed`, XOR-ed into the digest's first word.
    public var first: UInt64
    /// `(secret[40..<48] ^ secret[48..<56]) - seed`, XOR-ed into the digest's second word.
    public var second: UInt64

    /// A key from its two words (as `first` and `second` hold them).
    @inline(__always)
    public init(first: UInt64, second: UInt64) {
        self.first = first
        self.second = second
    }

    /// The key of a salt's seed.
    @inline(__always)
    public init(seed: UInt64) {
        first = (XXH3.k3 ^ XXH3.k4) &+ seed
        second = (XXH3.k5 ^ XXH3.k6) &- seed
    }

    /// The key of a salt (its UTF-8 bytes).
    public init(salt: UnsafeRawBufferPointer) {
        self.init(seed: XXH3.hash64(salt))
    }

    /// The key of a salt, for strings.
    public init(salt: String) {
        self.init(seed: XXH3.hash64(Array(salt.utf8)))
    }

    /// `XXH3_64(digest, seed)`: the path XXH3 takes for a 16-byte input, with this key's words.
    @inline(__always)
    public func hash(_ digest: UnitDigest) -> UInt64 {
        let low = digest.first ^ first
        let high = digest.second ^ second
        return XXH3.avalanche(16 &+ low.byteSwapped &+ high &+ XXH3.mul128Fold64(low, high))
    }
}
