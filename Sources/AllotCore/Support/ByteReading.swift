/// Little-endian reads at any alignment. Callers check bounds: the payload validator proves every
/// offset the evaluator reads, and the hash reads only inside its input.
extension UnsafeRawBufferPointer {
    /// Reads a little-endian `UInt64` at `offset`, with no alignment assumed. The caller checks bounds.
    @inline(__always) @usableFromInline
    func le64(_ offset: Int) -> UInt64 {
        UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Reads a little-endian `UInt32` at `offset`, with no alignment assumed. The caller checks bounds.
    @inline(__always) @usableFromInline
    func le32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Reads a little-endian `UInt16` at `offset`, with no alignment assumed. The caller checks bounds.
    @inline(__always) @usableFromInline
    func le16(_ offset: Int) -> UInt16 {
        UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
}
