#if canImport(Glibc)
    import Glibc
#endif

/// A growable byte buffer with manual lifetime: the one place the engine allocates, grows and
/// frees raw memory for connection input and output.
///
/// It is a plain value holding a pointer, so the event loop can keep thousands in one array without
/// reference counting. The owner must call `release()` exactly once; copies share the memory.
/// Never shared between threads.
struct OwnedBuffer {
    private(set) var base: UnsafeMutableRawPointer?
    /// Bytes in use, from `base`.
    var count: Int = 0
    private(set) var capacity: Int = 0

    init() {}

    init(capacity: Int) {
        reserve(capacity)
    }

    var isEmpty: Bool { count == 0 }

    /// Makes room for at least `minimum` bytes in total, keeping the content.
    mutating func reserve(_ minimum: Int) {
        guard minimum > capacity else { return }
        var newCapacity = Swift.max(capacity * 2, 1024)
        while newCapacity < minimum { newCapacity *= 2 }
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if let base {
            newBase.copyMemory(from: base, byteCount: count)
            base.deallocate()
        }
        base = newBase
        capacity = newCapacity
    }

    /// Appends `length` bytes from `source`.
    @inline(__always)
    mutating func append(_ source: UnsafeRawPointer, _ length: Int) {
        if count + length > capacity { reserve(count + length) }
        (base! + count).copyMemory(from: source, byteCount: length)
        count += length
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        append(source, bytes.count)
    }

    @inline(__always)
    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    @inline(__always)
    mutating func append(byte: UInt8) {
        if count == capacity { reserve(count + 1) }
        base!.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// Appends the decimal digits of `value`.
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

    /// Frees the memory. The buffer is empty and unallocated afterwards.
    mutating func release() {
        base?.deallocate()
        base = nil
        count = 0
        capacity = 0
    }

    /// Frees the memory if the buffer is empty and holds more than `keep` bytes of capacity.
    mutating func shrinkIfEmpty(keeping keep: Int) {
        if count == 0, capacity > keep { release() }
    }

    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: count)
    }
}
