import CAllotLinux

#if canImport(Glibc)
    import Glibc
#endif

/// A growable byte buffer that owns its memory: the one place the engine allocates, grows and
/// frees raw memory for connection input and output.
///
/// It cannot be copied (`~Copyable`), so exactly one owner frees the memory, in `deinit` or
/// `release()`. The bytes are reachable only inside the closures of the `with…` methods: the
/// pointers they hand out must not escape the closure. The count of bytes in use changes only
/// through the buffer's own methods. Never shared between threads.
///
/// Up to `largeThreshold` bytes come from malloc, growing by doubling. Larger buffers (request
/// bodies) are anonymous mappings of exactly the pages asked for, grown with `mremap` (no copy)
/// and returned to the system by `munmap` when released: malloc would keep freed megabytes in
/// its arenas (and raise its own mmap threshold after the first such free), so memory held by a
/// burst of uploads would stay with the process after they end.
struct OwnedBuffer: ~Copyable {
    /// Capacities above this are mappings.
    static let largeThreshold = 64 * 1024
    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    private var base: UnsafeMutableRawPointer?
    /// Bytes in use, from the start.
    private(set) var count: Int = 0
    /// Bytes allocated.
    private(set) var capacity: Int = 0

    init() {}

    init(capacity: Int) {
        reserve(capacity)
    }

    deinit {
        Self.free(base, capacity)
    }

    var isEmpty: Bool { count == 0 }

    /// Makes room for at least `minimum` bytes in total, keeping the content: doubling up to
    /// `largeThreshold`, exactly the pages needed above it.
    mutating func reserve(_ minimum: Int) {
        guard minimum > capacity else { return }
        let newCapacity = Self.capacity(toHold: minimum, growingFrom: capacity)
        if newCapacity > Self.largeThreshold {
            base = Self.mapping(growing: base, capacity: capacity, count: count, to: newCapacity)
        } else {
            let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            if let base {
                newBase.copyMemory(from: base, byteCount: count)
                base.deallocate()
            }
            base = newBase
        }
        capacity = newCapacity
    }

    /// The capacity `reserve(minimum)` would give a buffer of `capacity` bytes.
    static func capacity(toHold minimum: Int, growingFrom capacity: Int) -> Int {
        guard minimum > capacity else { return capacity }
        if minimum > largeThreshold { return (minimum + pageSize - 1) / pageSize * pageSize }
        var newCapacity = Swift.max(capacity * 2, 1024)
        while newCapacity < minimum { newCapacity *= 2 }
        return Swift.min(newCapacity, largeThreshold)
    }

    /// A mapping of `newCapacity` bytes holding the first `count` bytes of `base` (a malloc block
    /// or a mapping of `capacity` bytes), which is released.
    private static func mapping(growing base: UnsafeMutableRawPointer?, capacity: Int, count: Int, to newCapacity: Int)
        -> UnsafeMutableRawPointer
    {
        if let base, capacity > largeThreshold {
            guard let moved = CAllotLinux_mremap(base, capacity, newCapacity), moved != MAP_FAILED else {
                fatalError("mremap of \(newCapacity) bytes failed: errno \(errno)")
            }
            return moved
        }
        guard let mapped = mmap(nil, newCapacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), mapped != MAP_FAILED
        else {
            fatalError("mmap of \(newCapacity) bytes failed: errno \(errno)")
        }
        if let base {
            mapped.copyMemory(from: base, byteCount: count)
            base.deallocate()
        }
        return mapped
    }

    private static func free(_ base: UnsafeMutableRawPointer?, _ capacity: Int) {
        guard let base else { return }
        if capacity > largeThreshold {
            munmap(base, capacity)
        } else {
            base.deallocate()
        }
    }

    /// Appends `bytes`.
    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        if count + bytes.count > capacity { reserve(count + bytes.count) }
        (base! + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    @inline(__always)
    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Appends what `other` holds.
    @inline(__always)
    mutating func append(contentsOf other: borrowing OwnedBuffer) {
        other.withUnsafeReadableBytes { append($0) }
    }

    @inline(__always)
    mutating func append(byte: UInt8) {
        if count == capacity { reserve(count + 1) }
        base!.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// Appends the decimal digits of `value` (not negative).
    mutating func appendDecimal(_ value: Int) {
        if count + 20 > capacity { reserve(count + 20) }
        var remaining = UInt(bitPattern: value)
        var digits = 0
        var scratch = remaining
        repeat {
            digits += 1
            scratch /= 10
        } while scratch > 0
        let out = base! + count
        var index = digits - 1
        repeat {
            out.storeBytes(of: UInt8(truncatingIfNeeded: remaining % 10) &+ 48, toByteOffset: index, as: UInt8.self)
            remaining /= 10
            index -= 1
        } while index >= 0
        count += digits
    }

    /// Drops the first `length` bytes, moving the rest to the front.
    mutating func removeFirst(_ length: Int) {
        guard length > 0 else { return }
        if length >= count {
            count = 0
            return
        }
        memmove(base!, base! + length, count - length)
        count -= length
    }

    /// Keeps the first `length` bytes (at most `count`).
    mutating func truncate(to length: Int) {
        count = Swift.min(Swift.max(0, length), count)
    }

    /// Empties the buffer, keeping its memory.
    mutating func removeAll() {
        count = 0
    }

    /// Frees the memory. The buffer is empty and unallocated afterwards.
    mutating func release() {
        Self.free(base, capacity)
        base = nil
        count = 0
        capacity = 0
    }

    /// Frees the memory if the buffer is empty and holds more than `keep` bytes of capacity.
    mutating func shrinkIfEmpty(keeping keep: Int) {
        if count == 0, capacity > keep { release() }
    }

    /// Moves the memory and content out into a new buffer, leaving this one empty and unallocated.
    mutating func take() -> OwnedBuffer {
        var taken = OwnedBuffer()
        taken.base = base
        taken.count = count
        taken.capacity = capacity
        base = nil
        count = 0
        capacity = 0
        return taken
    }

    /// Calls `body` with the bytes in use. Do not let the pointer escape.
    @inline(__always)
    func withUnsafeReadableBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Calls `body` with the bytes in use, writable in place (the count does not change; use
    /// `truncate(to:)` after). Do not let the pointer escape.
    @inline(__always)
    mutating func withUnsafeMutableReadableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeMutableRawBufferPointer(start: base, count: count))
    }

    /// Makes room for `minimumWritableBytes` after the bytes in use, calls `body` with that
    /// space, and adds what `body` returns (the bytes it wrote; a negative result adds nothing)
    /// to the count. Returns `body`'s result. Do not let the pointer escape.
    @inline(__always)
    mutating func writeWithUnsafeMutableBytes(minimumWritableBytes: Int, _ body: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        let wanted = Swift.max(1, minimumWritableBytes)
        if capacity - count < wanted { reserve(count + wanted) }
        let written = body(UnsafeMutableRawBufferPointer(start: base! + count, count: capacity - count))
        if written > 0 { count += Swift.min(written, capacity - count) }
        return written
    }
}
