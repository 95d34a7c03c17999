import Synchronization

/// One worker thread's event buffer: a fixed ring of bytes with one producer (the worker's request
/// path) and one consumer (the writer thread), no locks and no allocation after `init`.
///
/// Records are whole and contiguous: one that does not fit before the end of the storage is
/// preceded by a padding record and written at the start. The producer writes records past the
/// published head, then publishes them all at once (`publish`) or forgets them (`rollback`), so a
/// request that fails after some of its records were written leaves nothing behind. The consumer
/// sees only published records, and frees their space when it is done with them.
///
/// `@unchecked Sendable`, with these invariants: `storage` and `positions` are allocated in `init`
/// and freed in `deinit`; the producer-side members (`producerHead`, `cachedTail`) are touched only
/// by the one producing thread, the consumer-side members (`consumerNames`, `consumerSlots`) only
/// by the one consuming thread; bytes between tail and head are written only before the head that
/// covers them is published (release) and read only after it is loaded (acquire), and the bytes
/// between head and tail + capacity only by the producer, after loading the tail (acquire) that the
/// consumer stored (release) once it was done with them.
public final class ExposureRing: @unchecked Sendable {
    /// Bytes of storage: a power of two.
    let capacity: Int
    private let mask: Int
    private let storage: UnsafeMutableRawPointer
    /// The published head (index 0) and the consumer's tail (index `tailIndex`), a cache line apart:
    /// positions count bytes since the start and only grow.
    private let positions: UnsafeMutablePointer<Atomic<Int>>
    private static let tailIndex = 16
    private static let positionSlots = 32

    // Producer side (no dynamic exclusivity checks: one thread, see above).
    @exclusivity(unchecked) private var producerHead = 0
    @exclusivity(unchecked) private var cachedTail = 0

    // Consumer side (the writer's state for this worker).
    /// The names of the bundle this worker's events refer to.
    var consumerNames: ExposureNames?
    /// Per variant of `consumerNames`, the assignment counter slot (-1: none).
    var consumerSlots: [Int32] = []

    /// A ring of at least `bytes` bytes (rounded up to a power of two, at least 4 KiB).
    init(bytes: Int) {
        var size = 4096
        while size < bytes { size <<= 1 }
        capacity = size
        mask = size - 1
        storage = .allocate(byteCount: size, alignment: 64)
        positions = .allocate(capacity: Self.positionSlots)
        for index in 0..<Self.positionSlots { (positions + index).initialize(to: Atomic(0)) }
    }

    deinit {
        // Names handed to the writer but never consumed are released with the ring.
        var tail = positions[Self.tailIndex].load(ordering: .acquiring)
        let head = positions[0].load(ordering: .acquiring)
        while tail < head {
            let record = UnsafeRawPointer(storage + (tail & mask))
            let length = Int(record.load(as: UInt32.self))
            if record.load(fromByteOffset: RecordLayout.kind, as: UInt8.self) == RecordLayout.Kind.names {
                RecordLayout.releaseNames(record)
            }
            tail += length
        }
        positions.deinitialize(count: Self.positionSlots)
        positions.deallocate()
        storage.deallocate()
    }

    /// The largest record the ring takes.
    var maxRecordLength: Int { capacity / 2 }

    // MARK: Producer

    /// Where the producer will write next: pass it to `rollback` to forget what follows.
    var mark: Int { producerHead }

    /// Room for a record of `length` bytes (a multiple of 8, at most `maxRecordLength`) after the
    /// records written so far, or nil when the consumer has not freed enough space.
    @inline(__always)
    func reserve(_ length: Int) -> UnsafeMutableRawPointer? {
        let offset = producerHead & mask
        let toEnd = capacity &- offset
        let needed = length <= toEnd ? length : toEnd &+ length
        if producerHead &+ needed &- cachedTail > capacity {
            cachedTail = positions[Self.tailIndex].load(ordering: .acquiring)
            if producerHead &+ needed &- cachedTail > capacity { return nil }
        }
        if length > toEnd {
            let padding = storage + offset
            padding.storeBytes(of: UInt32(toEnd), as: UInt32.self)
            padding.storeBytes(of: RecordLayout.Kind.padding, toByteOffset: RecordLayout.kind, as: UInt8.self)
            producerHead &+= toEnd
        }
        let record = storage + (producerHead & mask)
        producerHead &+= length
        return record
    }

    /// Makes every record written since the last `publish` visible to the consumer.
    @inline(__always)
    func publish() {
        positions[0].store(producerHead, ordering: .releasing)
    }

    /// Forgets the records written after `mark` (which must not be published yet).
    @inline(__always)
    func rollback(to mark: Int) {
        producerHead = mark
    }

    // MARK: Consumer

    /// Calls `body` with each published record in order (padding skipped), then frees their space.
    /// The bytes are valid only inside `body`. Returns the bytes consumed.
    @discardableResult
    func consume(_ body: (UnsafeRawPointer) -> Void) -> Int {
        let start = positions[Self.tailIndex].load(ordering: .relaxed)
        let head = positions[0].load(ordering: .acquiring)
        var tail = start
        while tail < head {
            let record = UnsafeRawPointer(storage + (tail & mask))
            let length = Int(record.load(as: UInt32.self))
            precondition(length >= 8 && length & 7 == 0 && length <= head - tail, "exposure ring corrupted")
            if record.load(fromByteOffset: RecordLayout.kind, as: UInt8.self) != RecordLayout.Kind.padding { body(record) }
            tail += length
        }
        positions[Self.tailIndex].store(tail, ordering: .releasing)
        return tail - start
    }

    /// Bytes published and not yet consumed.
    var pendingBytes: Int {
        positions[0].load(ordering: .acquiring) - positions[Self.tailIndex].load(ordering: .acquiring)
    }
}

/// The layout of the records in an `ExposureRing` (an in-memory format between a worker and the
/// writer of one process, never stored). Native endianness, 8-byte aligned lengths.
///
/// | offset | size | |
/// | --- | --- | --- |
/// | 0 | 4 | the record's length in bytes |
/// | 4 | 1 | kind: 0 padding, 1 events, 2 names |
///
/// Names (16 bytes): at 8, a retained `ExposureNames` reference the consumer takes over.
///
/// Events: at 5 the API (1 byte), at 6 the event count (2), at 8 the time in ms (8), at 16 the
/// flag's parameter index or -1 (4), at 20 the unit count (2); at 24 the events, 12 bytes each
/// (experiment 4, variant or -1 4, reason 1, 3 unused); then the units, each a unit type (2), a
/// length (2) and the id's bytes, packed.
enum RecordLayout {
    enum Kind {
        static let padding: UInt8 = 0
        static let events: UInt8 = 1
        static let names: UInt8 = 2
    }

    static let length = 0
    static let kind = 4
    static let api = 5
    static let eventCount = 6
    static let timestamp = 8
    static let flag = 16
    static let unitCount = 20
    static let headerLength = 24
    static let eventLength = 12
    static let namesLength = 16
    /// The most events one record holds (a request with more is split into several records).
    static let maxEvents = Int(UInt16.max)

    static let eventExperiment = 0
    static let eventVariant = 4
    static let eventReason = 8

    /// Rounds up to a multiple of 8.
    @inline(__always)
    static func aligned(_ length: Int) -> Int { (length &+ 7) & ~7 }

    /// Takes over the reference a names record holds.
    static func takeNames(_ record: UnsafeRawPointer) -> ExposureNames {
        let bits = record.load(fromByteOffset: 8, as: UInt.self)
        return Unmanaged<ExposureNames>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).takeRetainedValue()
    }

    /// Releases the reference a names record holds, without using it.
    static func releaseNames(_ record: UnsafeRawPointer) {
        let bits = record.load(fromByteOffset: 8, as: UInt.self)
        Unmanaged<ExposureNames>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).release()
    }
}
