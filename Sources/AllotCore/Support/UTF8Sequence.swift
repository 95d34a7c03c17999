/// Well-formed UTF-8 (Unicode, table 3-7): the one check Allot uses, for JSON text it writes
/// (`JSONString`) and for experiment files it reads.
public enum UTF8Sequence {
    /// The UTF-8 sequence starting at `index` (a byte ≥ 0x80): its length when it is valid, else
    /// the length of its maximal subpart (the bytes that could start a valid sequence, at least
    /// one), which one U+FFFD replaces. Overlong forms, surrogates and code points over U+10FFFF
    /// are not valid.
    public static func at(_ index: Int, in bytes: UnsafeRawBufferPointer) -> (length: Int, valid: Bool) {
        let lead = bytes[index]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            high = 0x9F
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default: return (1, false)
        }
        for offset in 1..<length {
            guard index + offset < bytes.count else { return (offset, false) }
            let byte = bytes[index + offset]
            let (minimum, maximum) = offset == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard byte >= minimum && byte <= maximum else { return (offset, false) }
        }
        return (length, true)
    }

    /// The offset of the first byte at or after `start` that does not belong to a well-formed
    /// sequence; nil when the rest is valid.
    public static func firstInvalid(_ bytes: UnsafeRawBufferPointer, from start: Int = 0) -> Int? {
        var index = start
        while index < bytes.count {
            if bytes[index] < 0x80 {
                index += 1
                continue
            }
            let (length, valid) = at(index, in: bytes)
            guard valid else { return index }
            index += length
        }
        return nil
    }
}
