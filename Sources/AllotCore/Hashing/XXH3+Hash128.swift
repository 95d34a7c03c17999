extension XXH3 {
    /// Hashes `bytes` to 128 bits with the given seed (`XXH3_128bits_withSeed`).
    @inlinable
    public static func hash128<Bytes: Collection<UInt8>>(_ bytes: Bytes, seed: UInt64 = 0) -> (high: UInt64, low: UInt64) {
        if let result = bytes.withContiguousStorageIfAvailable({ hash128(UnsafeRawBufferPointer($0), seed: seed) }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { hash128($0, seed: seed) }
    }

    /// Hashes the bytes of `input` to 128 bits with the given seed (`XXH3_128bits_withSeed`).
    ///
    /// xxHash's canonical byte form of the result, which `Bucketing` hashes again under scheme 2,
    /// is `high` big-endian followed by `low` big-endian.
    @inline(__always)
    public static func hash128(_ input: UnsafeRawBufferPointer, seed: UInt64 = 0) -> (high: UInt64, low: UInt64) {
        let length = input.count
        if length <= 16 { return hash128UpTo16(input, seed) }
        if length <= 128 { return hash128From17To128(input, seed) }
        return hash128Over128(input, seed: seed)
    }

    @inline(__always) @usableFromInline
    static func hash128UpTo16(_ input: UnsafeRawBufferPointer, _ seed: UInt64) -> (high: UInt64, low: UInt64) {
        let length = input.count
        if length > 8 {
            let bitflipLow = (k4 ^ k5) &- seed
            let bitflipHigh = (k6 ^ k7) &+ seed
            let inputLow = input.le64(0)
            var inputHigh = input.le64(length - 8)
            var m = (inputLow ^ inputHigh ^ bitflipLow).multipliedFullWidth(by: prime64_1)
            var mLow = m.low &+ (UInt64(length - 1) << 54)
            inputHigh ^= bitflipHigh
            let mHigh = m.high &+ inputHigh &+ (inputHigh & 0xFFFF_FFFF) &* (prime32_2 - 1)
            mLow ^= mHigh.byteSwapped
            m = mLow.multipliedFullWidth(by: prime64_2)
            return (avalanche(m.high &+ mHigh &* prime64_2), avalanche(m.low))
        }
        if length >= 4 {
            let seed = seed ^ (UInt64(UInt32(truncatingIfNeeded: seed).byteSwapped) << 32)
            let input64 = UInt64(input.le32(0)) &+ (UInt64(input.le32(length - 4)) << 32)
            let bitflip = (k2 ^ k3) &+ seed
            let m = (input64 ^ bitflip).multipliedFullWidth(by: prime64_1 &+ (UInt64(length) << 2))
            let high = m.high &+ (m.low << 1)
            var low = m.low ^ (high >> 3)
            low ^= low >> 35
            low = low &* primeMX2
            low ^= low >> 28
            return (avalanche(high), low)
        }
        if length > 0 {
            let c1 = UInt32(input.load(fromByteOffset: 0, as: UInt8.self))
            let c2 = UInt32(input.load(fromByteOffset: length >> 1, as: UInt8.self))
            let c3 = UInt32(input.load(fromByteOffset: length - 1, as: UInt8.self))
            let combinedLow = (c1 << 16) | (c2 << 24) | c3 | (UInt32(length) << 8)
            let swapped = combinedLow.byteSwapped
            let combinedHigh = (swapped << 13) | (swapped >> 19)
            let bitflipLow = UInt64(k32a ^ k32b) &+ seed
            let bitflipHigh = UInt64(UInt32(truncatingIfNeeded: k1) ^ UInt32(truncatingIfNeeded: k1 >> 32)) &- seed
            return (avalanche64(UInt64(combinedHigh) ^ bitflipHigh), avalanche64(UInt64(combinedLow) ^ bitflipLow))
        }
        return (avalanche64(seed ^ k10 ^ k11), avalanche64(seed ^ k8 ^ k9))
    }

    /// XXH3's 32-byte mixing step of the 128-bit hash, over `input[first..<first+16]` and
    /// `input[second..<second+16]` with the secret at `secretOffset`.
    @inline(__always)
    static func mix32(
        _ acc: inout (high: UInt64, low: UInt64), _ input: UnsafeRawBufferPointer, _ first: Int, _ second: Int,
        _ secret: UnsafeRawBufferPointer, _ secretOffset: Int, _ seed: UInt64
    ) {
        acc.low = acc.low &+ mix16(input, first, secret, secretOffset, seed)
        acc.low ^= input.le64(second) &+ input.le64(second + 8)
        acc.high = acc.high &+ mix16(input, second, secret, secretOffset + 16, seed)
        acc.high ^= input.le64(first) &+ input.le64(first + 8)
    }

    @inline(__always) @usableFromInline
    static func hash128From17To128(_ input: UnsafeRawBufferPointer, _ seed: UInt64) -> (high: UInt64, low: UInt64) {
        let length = input.count
        let secret = defaultSecretStorage
        var acc: (high: UInt64, low: UInt64) = (0, UInt64(length) &* prime64_1)
        if length > 32 {
            if length > 64 {
                if length > 96 {
                    mix32(&acc, input, 48, length - 64, secret, 96, seed)
                }
                mix32(&acc, input, 32, length - 48, secret, 64, seed)
            }
            mix32(&acc, input, 16, length - 32, secret, 32, seed)
        }
        mix32(&acc, input, 0, length - 16, secret, 0, seed)
        return finish128(acc, length, seed)
    }

    /// The last step of the 17–240-byte paths.
    @inline(__always)
    static func finish128(_ acc: (high: UInt64, low: UInt64), _ length: Int, _ seed: UInt64) -> (high: UInt64, low: UInt64) {
        let low = acc.low &+ acc.high
        let high = (acc.low &* prime64_1) &+ (acc.high &* prime64_4) &+ ((UInt64(length) &- seed) &* prime64_2)
        return (0 &- avalanche(high), avalanche(low))
    }

    /// Inputs over 128 bytes, kept out of line so the short paths inline into callers.
    @inline(never)
    @usableFromInline
    static func hash128Over128(_ input: UnsafeRawBufferPointer, seed: UInt64) -> (high: UInt64, low: UInt64) {
        let length = input.count
        let secret = defaultSecretStorage
        if length <= midSizeMax {
            var acc: (high: UInt64, low: UInt64) = (0, UInt64(length) &* prime64_1)
            var i = 32
            while i < 160 {
                mix32(&acc, input, i - 32, i - 16, secret, i - 32, seed)
                i += 32
            }
            acc = (avalanche(acc.high), avalanche(acc.low))
            i = 160
            while i <= length {
                mix32(&acc, input, i - 32, i - 16, secret, 3 + i - 160, seed)
                i += 32
            }
            mix32(&acc, input, length - 16, length - 32, secret, secretSizeMin - 17 - 16, 0 &- seed)
            return finish128(acc, length, seed)
        }
        if seed == 0 {
            return hash128Long(input, secret)
        }
        return withUnsafeTemporaryAllocation(byteCount: secretSize, alignment: 8) { custom in
            for i in 0..<(secretSize / 16) {
                custom.storeBytes(of: (secret.le64(16 * i) &+ seed).littleEndian, toByteOffset: 16 * i, as: UInt64.self)
                custom.storeBytes(of: (secret.le64(16 * i + 8) &- seed).littleEndian, toByteOffset: 16 * i + 8, as: UInt64.self)
            }
            return hash128Long(input, UnsafeRawBufferPointer(custom))
        }
    }

    private static func hash128Long(_ input: UnsafeRawBufferPointer, _ secret: UnsafeRawBufferPointer) -> (high: UInt64, low: UInt64) {
        let length = UInt64(input.count)
        return withLongAccumulators(input, secret) { acc in
            /// XXH3's merge of the eight accumulators with the secret at `offset`, from `start`.
            func merge(_ offset: Int, _ start: UInt64) -> UInt64 {
                var result = start
                for i in 0..<4 {
                    result =
                        result &+ mul128Fold64(acc[2 * i] ^ secret.le64(offset + 16 * i), acc[2 * i + 1] ^ secret.le64(offset + 16 * i + 8))
                }
                return avalanche(result)
            }
            let low = merge(11, length &* prime64_1)
            let high = merge(secretSize - stripeLength - 11, ~(length &* prime64_2))
            return (high, low)
        }
    }
}
