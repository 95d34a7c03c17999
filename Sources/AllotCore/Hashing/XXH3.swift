/// XXH3, 64-bit variant, version 0.8 of the xxHash family by Yann Collet.
///
/// This is the fixed, documented, non-cryptographic hash every Allot bucket is derived from. It is
/// checked against the official sanity vectors of the xxHash project (`Tests/Vectors/xxh3.json`), so
/// an SDK in any language can use its platform's xxHash library and agree with Allot bit for bit.
/// Never replace it with Swift's `Hasher`, which is seeded per process.
public enum XXH3 {
    /// Hashes `bytes` with the given seed (`XXH3_64bits_withSeed`).
    @inlinable
    public static func hash64<Bytes: Collection<UInt8>>(_ bytes: Bytes, seed: UInt64 = 0) -> UInt64 {
        if let result = bytes.withContiguousStorageIfAvailable({ hash64(UnsafeRawBufferPointer($0), seed: seed) }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { hash64($0, seed: seed) }
    }

    /// Hashes the bytes of `input` with the given seed (`XXH3_64bits_withSeed`).
    @inline(__always)
    public static func hash64(_ input: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let length = input.count
        if length <= 16 { return hashUpTo16(input, seed) }
        if length <= 128 { return hash17to128(input, seed) }
        return hashOver128(input, seed: seed)
    }

    /// Inputs over 128 bytes, kept out of line so the short paths inline into callers.
    @inline(never)
    @usableFromInline
    static func hashOver128(_ input: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        let length = input.count
        let secret = defaultSecretStorage
        switch length {
        case 129...midSizeMax:
            return hash129to240(input, secret, seed)
        default:
            if seed == 0 {
                return hashLong(input, secret)
            }
            return withUnsafeTemporaryAllocation(byteCount: secretSize, alignment: 8) { custom in
                for i in 0..<(secretSize / 16) {
                    custom.storeBytes(of: (secret.le64(16 * i) &+ seed).littleEndian, toByteOffset: 16 * i, as: UInt64.self)
                    custom.storeBytes(
                        of: (secret.le64(16 * i + 8) &- seed).littleEndian, toByteOffset: 16 * i + 8, as: UInt64.self)
                }
                return hashLong(input, UnsafeRawBufferPointer(custom))
            }
        }
    }

    // MARK: Constants

    // swift-format-ignore: AlwaysUseLowerCamelCase
    @usableFromInline static let prime32_1: UInt64 = 0x9E37_79B1
    // swift-format-ignore: AlwaysUseLowerCamelCase
    @usableFromInline static let prime32_2: UInt64 = 0x85EB_CA77
    // swift-format-ignore: AlwaysUseLowerCamelCase
    @usableFromInline static let prime32_3: UInt64 = 0xC2B2_AE3D
    // swift-format-ignore: AlwaysUseLowerCamelCase
    @usableFromInline static let prime64_1: UInt64 = 0x9E37_79B1_85EB_CA87
    // swift-format-ignore: AlwaysUseLowerCamelCase
    @usableFromInline static let prime64_2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    // swift-format-ignore: AlwaysUseLowerCamelCase
    @usableFromInline static let prime64_3: UInt64 = 0x1656_67B1_9E37_79F9
    // swift-format-ignore: AlwaysUseLowerCamelCase
    @usableFromInline static let prime64_4: UInt64 = 0x85EB_CA77_C2B2_AE63
    // swift-format-ignore: AlwaysUseLowerCamelCase
    @usableFromInline static let prime64_5: UInt64 = 0x27D4_EB2F_1656_67C5
    @usableFromInline static let primeMX1: UInt64 = 0x1656_6791_9E37_79F9
    @usableFromInline static let primeMX2: UInt64 = 0x9FB2_1C65_1E98_DF25

    static let secretSize = 192
    static let secretSizeMin = 136
    static let midSizeMax = 240
    static let stripeLength = 64
    static let secretConsumeRate = 8
    static let accumulatorCount = 8

    /// The default 192-byte secret of XXH3 (`XXH3_kSecret`).
    static let defaultSecret: [UInt8] = [
        0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
        0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
        0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
        0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
        0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
        0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
        0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
        0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
        0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
        0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
        0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
        0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
    ]

    /// The default secret in memory that is never freed, so the hot path does not retain an array.
    nonisolated(unsafe) static let defaultSecretStorage: UnsafeRawBufferPointer = {
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: defaultSecret.count, alignment: 8)
        storage.copyBytes(from: defaultSecret)
        return UnsafeRawBufferPointer(storage)
    }()

    // MARK: Mixing

    @inline(__always) @usableFromInline
    static func avalanche64(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h = h &* prime64_2
        h ^= h >> 29
        h = h &* prime64_3
        h ^= h >> 32
        return h
    }

    @inline(__always) @usableFromInline
    static func avalanche(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 37
        h = h &* primeMX1
        h ^= h >> 32
        return h
    }

    @inline(__always) @usableFromInline
    static func rrmxmx(_ value: UInt64, _ length: Int) -> UInt64 {
        var h = value
        h ^= rotl(h, 49) ^ rotl(h, 24)
        h = h &* primeMX2
        h ^= (h >> 35) &+ UInt64(length)
        h = h &* primeMX2
        h ^= h >> 28
        return h
    }

    @inline(__always) @usableFromInline
    static func rotl(_ value: UInt64, _ amount: UInt64) -> UInt64 {
        (value << amount) | (value >> (64 - amount))
    }

    @inline(__always) @usableFromInline
    static func mul128Fold64(_ lhs: UInt64, _ rhs: UInt64) -> UInt64 {
        let product = lhs.multipliedFullWidth(by: rhs)
        return product.high ^ product.low
    }

    @inline(__always)
    static func mix16(_ input: UnsafeRawBufferPointer, _ offset: Int, _ secret: UnsafeRawBufferPointer, _ secretOffset: Int, _ seed: UInt64)
        -> UInt64
    {
        mul128Fold64(
            input.le64(offset) ^ (secret.le64(secretOffset) &+ seed),
            input.le64(offset + 8) ^ (secret.le64(secretOffset + 8) &- seed)
        )
    }

    // MARK: Short inputs, with the default secret's words as constants

    /// Little-endian 64-bit words 0...15 of the default secret (bytes 0..<128), so inputs of up to
    /// 128 bytes hash without touching memory for the secret.
    @usableFromInline static let k0: UInt64 = 0xBE4B_A423_396C_FEB8
    @usableFromInline static let k1: UInt64 = 0x1CAD_21F7_2C81_017C
    @usableFromInline static let k2: UInt64 = 0xDB97_9083_E96D_D4DE
    @usableFromInline static let k3: UInt64 = 0x1F67_B3B7_A4A4_4072
    @usableFromInline static let k4: UInt64 = 0x78E5_C0CC_4EE6_79CB
    @usableFromInline static let k5: UInt64 = 0x2172_FFCC_7DD0_5A82
    @usableFromInline static let k6: UInt64 = 0x8E24_43F7_7446_08B8
    @usableFromInline static let k7: UInt64 = 0x4C26_3A81_E690_35E0
    @usableFromInline static let k8: UInt64 = 0xCB00_C391_BB52_283C
    @usableFromInline static let k9: UInt64 = 0xA32E_531B_8B65_D088
    @usableFromInline static let k10: UInt64 = 0x4EF9_0DA2_9748_6471
    @usableFromInline static let k11: UInt64 = 0xD8AC_DEA9_46EF_1938
    @usableFromInline static let k12: UInt64 = 0x3F34_9CE3_3F76_FAA8
    @usableFromInline static let k13: UInt64 = 0x1D4F_0BC7_C7BB_DCF9
    @usableFromInline static let k14: UInt64 = 0x3159_B4CD_4BE0_518A
    @usableFromInline static let k15: UInt64 = 0x6473_78D9_C97E_9FC8
    /// Little-endian 32-bit words at bytes 0 and 4 of the default secret.
    @usableFromInline static let k32a: UInt32 = 0x396C_FEB8
    @usableFromInline static let k32b: UInt32 = 0xBE4B_A423

    @inline(__always) @usableFromInline
    static func hashUpTo16(_ input: UnsafeRawBufferPointer, _ seed: UInt64) -> UInt64 {
        let length = input.count
        if length > 8 {
            let bitflip1 = (k3 ^ k4) &+ seed
            let bitflip2 = (k5 ^ k6) &- seed
            let low = input.le64(0) ^ bitflip1
            let high = input.le64(length - 8) ^ bitflip2
            return avalanche(UInt64(length) &+ low.byteSwapped &+ high &+ mul128Fold64(low, high))
        }
        if length >= 4 {
            let seed = seed ^ (UInt64(UInt32(truncatingIfNeeded: seed).byteSwapped) << 32)
            let bitflip = (k1 ^ k2) &- seed
            let input64 = UInt64(input.le32(length - 4)) &+ (UInt64(input.le32(0)) << 32)
            return rrmxmx(input64 ^ bitflip, length)
        }
        if length > 0 {
            let c1 = UInt32(input.load(fromByteOffset: 0, as: UInt8.self))
            let c2 = UInt32(input.load(fromByteOffset: length >> 1, as: UInt8.self))
            let c3 = UInt32(input.load(fromByteOffset: length - 1, as: UInt8.self))
            let combined = (c1 << 16) | (c2 << 24) | c3 | (UInt32(length) << 8)
            let bitflip = UInt64(k32a ^ k32b) &+ seed
            return avalanche64(UInt64(combined) ^ bitflip)
        }
        return avalanche64(seed ^ (k7 ^ k8))
    }

    @inline(__always) @usableFromInline
    static func mix16k(_ input: UnsafeRawBufferPointer, _ offset: Int, _ key0: UInt64, _ key1: UInt64, _ seed: UInt64) -> UInt64 {
        mul128Fold64(input.le64(offset) ^ (key0 &+ seed), input.le64(offset + 8) ^ (key1 &- seed))
    }

    @inline(__always) @usableFromInline
    static func hash17to128(_ input: UnsafeRawBufferPointer, _ seed: UInt64) -> UInt64 {
        let length = input.count
        var acc = UInt64(length) &* prime64_1
        if length > 32 {
            if length > 64 {
                if length > 96 {
                    acc = acc &+ mix16k(input, 48, k12, k13, seed)
                    acc = acc &+ mix16k(input, length - 64, k14, k15, seed)
                }
                acc = acc &+ mix16k(input, 32, k8, k9, seed)
                acc = acc &+ mix16k(input, length - 48, k10, k11, seed)
            }
            acc = acc &+ mix16k(input, 16, k4, k5, seed)
            acc = acc &+ mix16k(input, length - 32, k6, k7, seed)
        }
        acc = acc &+ mix16k(input, 0, k0, k1, seed)
        acc = acc &+ mix16k(input, length - 16, k2, k3, seed)
        return avalanche(acc)
    }

    private static func hash129to240(_ input: UnsafeRawBufferPointer, _ secret: UnsafeRawBufferPointer, _ seed: UInt64) -> UInt64 {
        let length = input.count
        var acc = UInt64(length) &* prime64_1
        let rounds = length / 16
        for i in 0..<8 {
            acc = acc &+ mix16(input, 16 * i, secret, 16 * i, seed)
        }
        acc = avalanche(acc)
        for i in 8..<rounds {
            acc = acc &+ mix16(input, 16 * i, secret, 16 * (i - 8) + 3, seed)
        }
        acc = acc &+ mix16(input, length - 16, secret, secretSizeMin - 17, seed)
        return avalanche(acc)
    }

    // MARK: Long inputs

    private static func hashLong(_ input: UnsafeRawBufferPointer, _ secret: UnsafeRawBufferPointer) -> UInt64 {
        withLongAccumulators(input, secret) { acc in
            var result = UInt64(input.count) &* prime64_1
            for i in 0..<4 {
                result = result &+ mul128Fold64(acc[2 * i] ^ secret.le64(11 + 16 * i), acc[2 * i + 1] ^ secret.le64(11 + 16 * i + 8))
            }
            return avalanche(result)
        }
    }

    /// Runs the stripes and blocks of a long input (over 240 bytes) through the eight
    /// accumulators, then passes them to `merge`: the part the 64- and 128-bit hashes share.
    static func withLongAccumulators<R>(
        _ input: UnsafeRawBufferPointer, _ secret: UnsafeRawBufferPointer, _ merge: (UnsafeMutableBufferPointer<UInt64>) -> R
    ) -> R {
        let length = input.count
        var acc: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (
            prime32_3, prime64_1, prime64_2, prime64_3, prime64_4, prime32_2, prime64_5, prime32_1
        )
        return withUnsafeMutableBytes(of: &acc) { raw in
            let acc = raw.bindMemory(to: UInt64.self)
            let stripesPerBlock = (secretSize - stripeLength) / secretConsumeRate
            let blockLength = stripeLength * stripesPerBlock
            let blocks = (length - 1) / blockLength
            for block in 0..<blocks {
                accumulate(acc, input, block * blockLength, secret, stripes: stripesPerBlock)
                scramble(acc, secret, secretSize - stripeLength)
            }
            let stripes = ((length - 1) - blockLength * blocks) / stripeLength
            accumulate(acc, input, blocks * blockLength, secret, stripes: stripes)
            accumulate512(acc, input, length - stripeLength, secret, secretSize - stripeLength - 7)
            return merge(acc)
        }
    }

    @inline(__always)
    private static func accumulate(
        _ acc: UnsafeMutableBufferPointer<UInt64>, _ input: UnsafeRawBufferPointer, _ offset: Int,
        _ secret: UnsafeRawBufferPointer, stripes: Int
    ) {
        for stripe in 0..<stripes {
            accumulate512(acc, input, offset + stripe * stripeLength, secret, stripe * secretConsumeRate)
        }
    }

    @inline(__always)
    private static func accumulate512(
        _ acc: UnsafeMutableBufferPointer<UInt64>, _ input: UnsafeRawBufferPointer, _ offset: Int,
        _ secret: UnsafeRawBufferPointer, _ secretOffset: Int
    ) {
        for i in 0..<accumulatorCount {
            let value = input.le64(offset + 8 * i)
            let key = value ^ secret.le64(secretOffset + 8 * i)
            acc[i ^ 1] = acc[i ^ 1] &+ value
            acc[i] = acc[i] &+ (key & 0xFFFF_FFFF) &* (key >> 32)
        }
    }

    @inline(__always)
    private static func scramble(_ acc: UnsafeMutableBufferPointer<UInt64>, _ secret: UnsafeRawBufferPointer, _ secretOffset: Int) {
        for i in 0..<accumulatorCount {
            var value = acc[i]
            value ^= value >> 47
            value ^= secret.le64(secretOffset + 8 * i)
            acc[i] = value &* prime32_1
        }
    }
}
