/// Little-endian byte assembly for payload sections.
struct ByteWriter {
    var bytes: [UInt8] = []

    var count: Int { bytes.count }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { bytes.appendLE(value) }
    mutating func u32(_ value: UInt32) { bytes.appendLE(value) }
    mutating func u32(_ value: Int) {
        precondition(value >= 0 && value <= Int(UInt32.max), "value \(value) does not fit a u32 field")
        bytes.appendLE(UInt32(value))
    }
    mutating func u64(_ value: UInt64) { bytes.appendLE(value) }
    mutating func i64(_ value: Int64) { bytes.appendLE(UInt64(bitPattern: value)) }
    mutating func ref(_ ref: (offset: UInt32, length: UInt32)) {
        u32(ref.offset)
        u32(ref.length)
    }
    mutating func zeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }
    mutating func append(_ other: [UInt8]) { bytes.append(contentsOf: other) }

    /// Pads with zeros to a multiple of `alignment`.
    mutating func align(_ alignment: Int) {
        let remainder = bytes.count % alignment
        if remainder != 0 { zeros(alignment - remainder) }
    }

    /// Overwrites a u32 at `offset`.
    mutating func patchU32(_ value: UInt32, at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for (index, byte) in raw.enumerated() { bytes[offset + index] = byte }
        }
    }
}

/// A pool of byte strings referred to by `(offset, length)`; identical strings are stored once.
struct BytePool {
    private(set) var bytes: [UInt8] = []
    private var index: [[UInt8]: (offset: UInt32, length: UInt32)] = [:]

    mutating func intern(_ value: [UInt8]) -> (offset: UInt32, length: UInt32) {
        if let existing = index[value] { return existing }
        precondition(bytes.count + value.count <= Int(UInt32.max), "string pool exceeds 4 GiB")
        let ref = (UInt32(bytes.count), UInt32(value.count))
        bytes.append(contentsOf: value)
        index[value] = ref
        return ref
    }

    mutating func intern(_ value: String) -> (offset: UInt32, length: UInt32) {
        intern(Array(value.utf8))
    }
}
