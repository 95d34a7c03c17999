/// An event loop's connections: a slab of `Connection` slots that grows by doubling, with a free
/// list, so a connection costs no allocation of its own and idle ones hold no buffers.
///
/// The one owner of the slab's memory. A connection is reached by its poller token (slot and
/// generation) or, for sweeps, by position, always inside a closure that gets it `inout`; a
/// connection the closure closed (`Connection.close()`) is recycled when the closure returns.
struct ConnectionTable: ~Copyable {
    private var slots: UnsafeMutablePointer<Connection>
    private var capacity: Int
    /// Slots ever used: every open connection is below it.
    private(set) var highWater = 0
    private var freeHead = -1
    /// Next free slot, per slot; meaningful for free slots only.
    private var nextFree: [Int32]
    /// Connections open now.
    private(set) var openCount = 0

    init(initialCapacity: Int = 64) {
        capacity = max(1, initialCapacity)
        slots = .allocate(capacity: capacity)
        for index in 0..<capacity { (slots + index).initialize(to: Self.freeSlot(index, generation: 0)) }
        nextFree = Array(repeating: -1, count: capacity)
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
    }

    /// Puts a new connection on `fd` in a free slot and returns its token.
    mutating func open(fd: Int32, deadline: Int64) -> UInt64 {
        let slot: Int
        if freeHead >= 0 {
            slot = freeHead
            freeHead = Int(nextFree[slot])
        } else {
            if highWater == capacity { grow() }
            slot = highWater
            highWater += 1
        }
        slots[slot].fd = fd
        slots[slot].deadline = deadline
        // Waiting for the first request's head: its deadline is already running.
        slots[slot].partial = true
        openCount += 1
        return slots[slot].token
    }

    /// Runs `body` on the open connection `token` names; nil, without calling it, when the
    /// connection has closed since (a stale event).
    @inline(__always)
    mutating func withConnection<R>(token: UInt64, _ body: (inout Connection) -> R) -> R? {
        let slot = Int(truncatingIfNeeded: token & 0xFFFF_FFFF)
        guard slot < highWater, slots[slot].fd >= 0, slots[slot].token == token else { return nil }
        let result = body(&slots[slot])
        if slots[slot].fd < 0 { recycle(slot) }
        return result
    }

    /// Runs `body` on every open connection.
    mutating func forEachOpen(_ body: (inout Connection) -> Void) {
        for slot in 0..<highWater where slots[slot].fd >= 0 {
            body(&slots[slot])
            if slots[slot].fd < 0 { recycle(slot) }
        }
    }

    private mutating func recycle(_ slot: Int) {
        let generation = UInt32(truncatingIfNeeded: slots[slot].token >> 32) &+ 1
        slots[slot] = Self.freeSlot(slot, generation: generation)
        nextFree[slot] = Int32(freeHead)
        freeHead = slot
        openCount -= 1
    }

    private mutating func grow() {
        let grown = capacity * 2
        let bigger = UnsafeMutablePointer<Connection>.allocate(capacity: grown)
        bigger.moveInitialize(from: slots, count: capacity)
        for index in capacity..<grown { (bigger + index).initialize(to: Self.freeSlot(index, generation: 0)) }
        slots.deallocate()
        slots = bigger
        capacity = grown
        nextFree.append(contentsOf: repeatElement(-1, count: grown - nextFree.count))
    }

    private static func freeSlot(_ slot: Int, generation: UInt32) -> Connection {
        var connection = Connection()
        connection.token = UInt64(slot) | UInt64(generation) << 32
        return connection
    }
}
