/// Unit ids to dense indices (0, 1, 2, ... in first-seen order), keyed by their bytes: no `String`
/// per lookup. The ids live in one byte arena; the table is open addressing with linear probing.
/// Memory grows with distinct units, never with the records read.
struct UnitTable {
    private var arena: [UInt8] = []
    /// Per unit: where its id is in the arena.
    private var offsets: [Int] = []
    private var lengths: [Int32] = []
    private var hashes: [UInt64] = []
    /// Slot → unit index + 1 (0 = empty).
    private var slots: [Int32]
    private var mask: Int

    init() {
        slots = [Int32](repeating: 0, count: 1024)
        mask = 1023
    }

    var count: Int { offsets.count }

    /// The index of `id`, inserting it if new; `inserted` tells which.
    mutating func insert(_ id: UnsafeRawBufferPointer) -> (index: Int, inserted: Bool) {
        let hash = Self.hash(id)
        if let found = find(id, hash) { return (found, false) }
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let index = count
        offsets.append(arena.count)
        lengths.append(Int32(id.count))
        hashes.append(hash)
        arena.append(contentsOf: id)
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(index + 1)
        return (index, true)
    }

    /// The index of `id`, or nil.
    func index(of id: UnsafeRawBufferPointer) -> Int? { find(id, Self.hash(id)) }

    /// The id of the unit at `index`.
    func id(_ index: Int) -> String {
        let start = offsets[index]
        return String(decoding: arena[start..<(start + Int(lengths[index]))], as: UTF8.self)
    }

    private func find(_ id: UnsafeRawBufferPointer, _ hash: UInt64) -> Int? {
        var slot = Int(truncatingIfNeeded: hash) & mask
        return arena.withUnsafeBytes { arenaBytes in
            while true {
                let entry = Int(slots[slot])
                if entry == 0 { return nil }
                let index = entry - 1
                if hashes[index] == hash, Int(lengths[index]) == id.count,
                    memcmpBytes(id.baseAddress, arenaBytes.baseAddress! + offsets[index], id.count)
                {
                    return index
                }
                slot = (slot + 1) & mask
            }
        }
    }

    private mutating func grow() {
        let capacity = slots.count * 2
        slots = [Int32](repeating: 0, count: capacity)
        mask = capacity - 1
        for index in 0..<count {
            var slot = Int(truncatingIfNeeded: hashes[index]) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index + 1)
        }
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
        return h
    }
}
