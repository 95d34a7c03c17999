/// Unit ids to dense indices (0, 1, 2, ... in first-seen order), keyed by their bytes: no `String`
/// per lookup. The ids live in one byte arena; the table is open addressing with linear probing,
/// each slot holding the index and 32 bits of the hash, so a probe reads one slot and only touches
/// an id's bytes when those bits match. Memory grows with distinct units, never with the records
/// read.
struct UnitTable {
    private var arena: [UInt8] = []
    /// Per unit: where its id is in the arena (offset << 16 | length).
    private var spans: [UInt64] = []
    /// Slot: (hash's high 32 bits) << 32 | (unit index + 1); 0 = empty.
    private var slots: [UInt64]
    private var mask: Int

    init() {
        slots = [UInt64](repeating: 0, count: 1024)
        mask = 1023
    }

    var count: Int { spans.count }

    /// The index of `id`, inserting it if new; `inserted` tells which.
    mutating func insert(_ id: UnsafeRawBufferPointer) -> (index: Int, inserted: Bool) {
        precondition(id.count < 1 << 16, "unit ids are at most 64 KiB (the readers' lines are shorter)")
        let hash = Self.hash(id)
        let found: (index: Int?, slot: Int) = arena.withUnsafeBytes { probe(id, hash, $0) }
        if let index = found.index { return (index, false) }
        let index = count
        spans.append(UInt64(arena.count) << 16 | UInt64(id.count))
        arena.append(contentsOf: id)
        slots[found.slot] = (hash & 0xFFFF_FFFF_0000_0000) | UInt64(index + 1)
        if count * 2 > slots.count { grow() }
        return (index, true)
    }

    /// The index of `id`, or nil.
    func index(of id: UnsafeRawBufferPointer) -> Int? {
        arena.withUnsafeBytes { probe(id, Self.hash(id), $0).index }
    }

    /// The id of the unit at `index`.
    func id(_ index: Int) -> String {
        let span = spans[index]
        let start = Int(span >> 16)
        return String(decoding: arena[start..<(start + Int(span & 0xFFFF))], as: UTF8.self)
    }

    /// The unit's index, or the empty slot where it would go.
    @inline(__always)
    private func probe(_ id: UnsafeRawBufferPointer, _ hash: UInt64, _ arenaBytes: UnsafeRawBufferPointer) -> (index: Int?, slot: Int) {
        let tag = hash & 0xFFFF_FFFF_0000_0000
        var slot = Int(truncatingIfNeeded: hash) & mask
        return slots.withUnsafeBufferPointer { table in
            spans.withUnsafeBufferPointer { spans in
                while true {
                    let entry = table[slot]
                    if entry == 0 { return (nil, slot) }
                    if entry & 0xFFFF_FFFF_0000_0000 == tag {
                        let index = Int(entry & 0xFFFF_FFFF) - 1
                        let span = spans[index]
                        if Int(span & 0xFFFF) == id.count, memcmpBytes(id.baseAddress, arenaBytes.baseAddress! + Int(span >> 16), id.count)
                        {
                            return (index, slot)
                        }
                    }
                    slot = (slot + 1) & mask
                }
            }
        }
    }

    private mutating func grow() {
        let capacity = slots.count * 2
        var table = [UInt64](repeating: 0, count: capacity)
        let newMask = capacity - 1
        arena.withUnsafeBytes { arenaBytes in
            for (index, span) in spans.enumerated() {
                let start = Int(span >> 16)
                let hash = Self.hash(UnsafeRawBufferPointer(rebasing: arenaBytes[start..<(start + Int(span & 0xFFFF))]))
                var slot = Int(truncatingIfNeeded: hash) & newMask
                while table[slot] != 0 { slot = (slot + 1) & newMask }
                table[slot] = (hash & 0xFFFF_FFFF_0000_0000) | UInt64(index + 1)
            }
        }
        slots = table
        mask = newMask
    }

    /// 64-bit FNV-1a over 8-byte words, then a final mix: fast and well spread for short ids.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var k = 0
        let count = bytes.count
        if let base = bytes.baseAddress {
            while k + 8 <= count {
                h = (h ^ base.loadUnaligned(fromByteOffset: k, as: UInt64.self)) &* 0x100_0000_01b3
                h ^= h >> 29
                k += 8
            }
            while k < count {
                h = (h ^ UInt64(base.load(fromByteOffset: k, as: UInt8.self))) &* 0x100_0000_01b3
                k += 1
            }
        }
        h ^= UInt64(count)
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h = h &* 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }
}
