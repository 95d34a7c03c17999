/// Bytes gathered for compression: raw memory the record encoder fills with plain copies (no
/// reference counting, uniqueness or capacity checks per piece). Grows by doubling, which happens
/// only until it has reached its working size; owned by one writer-thread object at a time.
final class StagingBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// Bytes written.
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    func reserve(_ extra: Int) {
        if count &+ extra > capacity { grow(to: count &+ extra) }
    }

    private func grow(to needed: Int) {
        var size = capacity * 2
        while size < needed { size *= 2 }
        let larger = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        larger.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = larger
        capacity = size
    }

    /// Appends `length` bytes from `source`; `reserve` must have made room.
    @inline(__always)
    func appendReserved(_ source: UnsafeRawPointer, _ length: Int) {
        (base + count).copyMemory(from: source, byteCount: length)
        count &+= length
    }

    /// Lets `write` fill the reserved room at the end and appends the bytes it says it wrote;
    /// `reserve` must have made room for as many.
    @inline(__always)
    func appendReserved(_ write: (UnsafeMutablePointer<UInt8>) -> Int) {
        count &+= write((base + count).assumingMemoryBound(to: UInt8.self))
    }

    /// Appends one byte; `reserve` must have made room.
    @inline(__always)
    func appendReserved(_ byte: UInt8) {
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count &+= 1
    }

    /// Appends `bytes`, making room first.
    @inline(__always)
    func append(_ bytes: UnsafeRawBufferPointer) {
        reserve(bytes.count)
        if bytes.count > 0 { appendReserved(bytes.baseAddress!, bytes.count) }
    }

    /// Appends a literal, making room first.
    @inline(__always)
    func append(_ literal: StaticString) {
        reserve(literal.utf8CodeUnitCount)
        appendReserved(literal.utf8Start, literal.utf8CodeUnitCount)
    }

    /// Appends `value` in decimal, making room first.
    func appendDecimal(_ value: UInt64) {
        reserve(20)
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var position = 24
            var rest = value
            repeat {
                position -= 1
                buffer[position] = UInt8(ascii: "0") &+ UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            appendReserved(buffer.baseAddress! + position, 24 - position)
        }
    }

    /// Forgets the bytes written, keeping the memory.
    func removeAll() { count = 0 }

    /// The bytes written; valid until the next change.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
