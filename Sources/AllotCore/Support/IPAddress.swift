/// An IPv4 or IPv6 address as one 128-bit number: the one reader and writer of IP addresses in
/// Allot (`ip` attributes in requests, `cidr(...)` in targeting).
///
/// An IPv4 address is held as its IPv4-mapped IPv6 address, `::ffff:a.b.c.d`, so `10.1.2.3` and
/// `::ffff:10.1.2.3` are the same address. Text forms (RFC 4291 section 2.2, without zone ids):
/// IPv4 as four decimal octets 0-255 without leading zeros; IPv6 as eight groups of one to four
/// hex digits, one `::` standing for one or more zero groups, and optionally a dotted IPv4 address
/// in place of the last two groups. At most 45 bytes.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address; bits 127 (most significant) to 0.
    public var value: UInt128

    public init(value: UInt128) {
        self.value = value
    }

    /// `::ffff:0:0`, the start of the IPv4-mapped block `::ffff:0:0/96`.
    static let mappedPrefix: UInt128 = 0xFFFF << 32

    /// Whether this is an IPv4 address (an IPv4-mapped IPv6 address).
    public var isIPv4: Bool { value >> 32 == 0xFFFF }

    /// Parses an address; nil when `text` is not one.
    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ Self.parse(UnsafeRawBufferPointer($0)) }) else { return nil }
        self = parsed
    }

    /// Parses without allocating.
    public static func parse(_ text: UnsafeRawBufferPointer) -> IPAddress? {
        guard text.count > 0, text.count <= 45 else { return nil }
        if !text.contains(UInt8(ascii: ":")) {
            return parseIPv4(text, from: 0).map { IPAddress(value: mappedPrefix | UInt128($0)) }
        }
        return parseIPv6(text).map(IPAddress.init(value:))
    }

    /// Four dotted decimal octets from `start` to the end of `text`.
    private static func parseIPv4(_ text: UnsafeRawBufferPointer, from start: Int) -> UInt32? {
        var value: UInt32 = 0
        var index = start
        for octet in 0..<4 {
            if octet > 0 {
                guard index < text.count, text[index] == UInt8(ascii: ".") else { return nil }
                index += 1
            }
            let first = index
            var number: UInt32 = 0
            while index < text.count, index - first < 3, let digit = decimal(text[index]) {
                number = number * 10 + UInt32(digit)
                index += 1
            }
            let length = index - first
            guard length > 0, number <= 255, length == 1 || text[first] != UInt8(ascii: "0") else { return nil }
            value = value << 8 | number
        }
        return index == text.count ? value : nil
    }

    private static func parseIPv6(_ text: UnsafeRawBufferPointer) -> UInt128? {
        let count = text.count
        var head: UInt128 = 0
        var headGroups = 0
        var tail: UInt128 = 0
        var tailGroups = 0
        var compressed = false
        var index = 0
        if text[0] == UInt8(ascii: ":") {
            guard count >= 2, text[1] == UInt8(ascii: ":") else { return nil }
            compressed = true
            index = 2
        }
        while index < count {
            let start = index
            var group: UInt128 = 0
            while index < count, index - start < 5, let digit = hex(text[index]) {
                group = group << 4 | UInt128(digit)
                index += 1
            }
            if index < count, text[index] == UInt8(ascii: ".") {
                // A dotted IPv4 address as the last two groups.
                guard let v4 = parseIPv4(text, from: start) else { return nil }
                if compressed {
                    tail = tail << 32 | UInt128(v4)
                    tailGroups += 2
                } else {
                    head = head << 32 | UInt128(v4)
                    headGroups += 2
                }
                index = count
                break
            }
            guard index > start, index - start <= 4 else { return nil }
            if compressed {
                tail = tail << 16 | group
                tailGroups += 1
            } else {
                head = head << 16 | group
                headGroups += 1
            }
            guard headGroups + tailGroups <= 8 else { return nil }
            if index == count { break }
            guard text[index] == UInt8(ascii: ":") else { return nil }
            index += 1
            if index < count, text[index] == UInt8(ascii: ":") {
                guard !compressed else { return nil }
                compressed = true
                index += 1
            } else if index == count {
                return nil  // a single trailing ':'
            }
        }
        let groups = headGroups + tailGroups
        if compressed {
            guard groups <= 7 else { return nil }
            return (headGroups == 0 ? 0 : head << (16 * (8 - headGroups))) | tail
        }
        guard groups == 8 else { return nil }
        return head
    }

    @inline(__always)
    private static func decimal(_ byte: UInt8) -> UInt8? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? byte - UInt8(ascii: "0") : nil
    }

    @inline(__always)
    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// IPv4 addresses as `a.b.c.d`; others as `ipv6Text`.
    public var description: String {
        if isIPv4 {
            return (0..<4).map { String((value >> (24 - 8 * UInt128($0))) & 0xFF) }.joined(separator: ".")
        }
        return ipv6Text
    }

    /// The RFC 5952 IPv6 form, also for IPv4 addresses (`::ffff:a00:1`): lowercase hex without
    /// leading zeros, the longest run of two or more zero groups (the first of equals) as `::`.
    public var ipv6Text: String {
        let groups = (0..<8).map { Int((value >> (112 - 16 * UInt128($0))) & 0xFFFF) }
        var bestStart = -1
        var bestLength = 1
        var start = 0
        while start < 8 {
            guard groups[start] == 0 else {
                start += 1
                continue
            }
            var end = start
            while end < 8, groups[end] == 0 { end += 1 }
            if end - start > bestLength {
                bestStart = start
                bestLength = end - start
            }
            start = end
        }
        func hexText(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard bestStart >= 0 else { return hexText(0..<8) }
        return hexText(0..<bestStart) + "::" + hexText((bestStart + bestLength)..<8)
    }
}
