public import AllotCore

/// A CIDR block, `10.0.0.0/8` or `2001:db8::/32`, as `ip in cidr(...)` writes it: the addresses
/// whose first `prefix` bits equal the network's. IPv4 blocks are held in the IPv4-mapped space
/// (`10.0.0.0/8` is `::ffff:10.0.0.0/104`), as `IPAddress` holds IPv4 addresses.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The first address; its bits after the prefix are zero.
    public var address: IPAddress
    /// Leading bits that must match, 0-128 (for IPv4 blocks, 96 plus the written prefix).
    public var prefix: Int

    public init(address: IPAddress, prefix: Int) {
        self.address = address
        self.prefix = prefix
    }

    /// The mask of the prefix bits.
    public var mask: UInt128 {
        prefix == 0 ? 0 : ~UInt128(0) << (128 - prefix)
    }

    /// Whether `address` is in the block.
    public func contains(_ address: IPAddress) -> Bool {
        address.value & mask == self.address.value
    }

    /// Why a text is not a CIDR block, for the compiler's message.
    public enum Failure: Error, Equatable, Sendable {
        /// The part before `/` is not an address.
        case badAddress
        /// The prefix is not a decimal number (without leading zeros) up to 32 (IPv4) or 128 (IPv6).
        case badPrefix(maximum: Int)
        /// Bits after the prefix are set; `network` is the block the text probably means.
        case hostBitsSet(network: IPNetwork)
    }

    /// Parses `address/prefix`, or an address alone (a block of one address: /32 or /128).
    public static func parse(_ text: String) -> Result<IPNetwork, Failure> {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { return .failure(.badAddress) }
        let isIPv4 = !parts[0].contains(":")
        let maximum = isIPv4 ? 32 : 128
        var written = maximum
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                digits.count == 1 || digits.first != "0", let value = Int(digits), value <= maximum
            else { return .failure(.badPrefix(maximum: maximum)) }
            written = value
        }
        // An IPv6 text may spell an IPv4-mapped address (`::ffff:10.0.0.0/104`); it is the same block.
        let network = IPNetwork(address: address, prefix: isIPv4 ? 96 + written : written)
        guard address.value & ~network.mask == 0 else {
            return .failure(
                .hostBitsSet(network: IPNetwork(address: IPAddress(value: address.value & network.mask), prefix: network.prefix)))
        }
        return .success(network)
    }

    /// `a.b.c.d/p` for blocks inside the IPv4-mapped space (prefix 96 or more), else the RFC 5952
    /// address and the prefix.
    public var description: String {
        if prefix >= 96, address.isIPv4 {
            return "\(address)/\(prefix - 96)"
        }
        return "\(address.ipv6Text)/\(prefix)"
    }
}
