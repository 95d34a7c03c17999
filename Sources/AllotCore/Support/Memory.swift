#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `memcmp`, in one place.
@inline(__always)
func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Int32 {
    memcmp(a, b, count)
}

/// Whether two byte buffers hold the same bytes.
@inline(__always)
func bytesEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && (a.count == 0 || sameBytes(a.baseAddress!, b.baseAddress!, a.count))
}

/// Whether `count` bytes at `a` and at `b` are equal. Up to 16 bytes compare inline as the two
/// words of `shortWords`; longer runs call `memcmp`, whose call costs more than a short compare.
@inline(__always)
func sameBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    if count > 16 { return memcmp(a, b, count) == 0 }
    if count == 0 { return true }
    return shortWords(a, count) == shortWords(b, count)
}

/// A string of 1...16 bytes as two words that are equal, for two strings of the same length,
/// exactly when their bytes are: the first and the last 8, 4, 2 or 1 bytes (overlapping when
/// the string is shorter than two), zero-extended. Reads stay within `[0, count)`.
@inline(__always)
func shortWords(_ p: UnsafeRawPointer, _ count: Int) -> (UInt64, UInt64) {
    if count >= 8 {
        return (p.loadUnaligned(as: UInt64.self), p.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self))
    }
    if count >= 4 {
        return (UInt64(p.loadUnaligned(as: UInt32.self)), UInt64(p.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self)))
    }
    if count >= 2 {
        return (UInt64(p.loadUnaligned(as: UInt16.self)), UInt64(p.loadUnaligned(fromByteOffset: count &- 2, as: UInt16.self)))
    }
    return (UInt64(p.load(as: UInt8.self)), 0)
}

/// Copies `count` bytes from `source` to `destination` (not overlapping). Up to 32 bytes move
/// inline with two overlapping loads and stores of 1, 2, 4, 8 or 16 bytes that stay within
/// `[0, count)`; longer runs call `memcpy`.
@inline(__always)
func copyBytes(to destination: UnsafeMutableRawPointer, from source: UnsafeRawPointer, count: Int) {
    @inline(__always)
    func pair<T: FixedWidthInteger>(_: T.Type) {
        let last = count &- MemoryLayout<T>.size
        let head = source.loadUnaligned(as: T.self)
        let tail = source.loadUnaligned(fromByteOffset: last, as: T.self)
        destination.storeBytes(of: head, as: T.self)
        destination.storeBytes(of: tail, toByteOffset: last, as: T.self)
    }
    if count > 32 {
        memcpy(destination, source, count)
    } else if count > 16 {
        let last = count &- 16
        let head = source.loadUnaligned(as: SIMD16<UInt8>.self)
        let tail = source.loadUnaligned(fromByteOffset: last, as: SIMD16<UInt8>.self)
        destination.storeBytes(of: head, as: SIMD16<UInt8>.self)
        destination.storeBytes(of: tail, toByteOffset: last, as: SIMD16<UInt8>.self)
    } else if count >= 8 {
        pair(UInt64.self)
    } else if count >= 4 {
        pair(UInt32.self)
    } else if count >= 2 {
        pair(UInt16.self)
    } else if count == 1 {
        destination.storeBytes(of: source.load(as: UInt8.self), as: UInt8.self)
    }
}
