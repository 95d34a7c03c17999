#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Read-only bytes that outlive any single call: a private read-only `mmap` of a file, or a heap
/// copy for payloads that came from memory. This is the one type in Allot that owns raw memory.
///
/// Invariants that make it `Sendable`: the bytes are never written after `init` returns, and they
/// are released only in `deinit`, when no reference remains. Callers get the bytes through
/// `withBytes`, and must not let the pointer escape the closure unless they also keep this object
/// alive for as long as they use it (the evaluator does, by holding the bundle).
public final class MappedBytes: @unchecked Sendable {
    private let base: UnsafeRawPointer?
    /// The number of bytes.
    public let count: Int
    private let isMapped: Bool

    /// Maps the whole file at `path` read-only.
    public init(mapping path: String) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(call: "open", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError(call: "fstat", path: path, errno: errno) }
        let size = Int(info.st_size)
        if size == 0 {
            self.base = nil
            self.count = 0
            self.isMapped = false
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != MAP_FAILED else { throw SystemError(call: "mmap", path: path, errno: errno) }
        self.base = UnsafeRawPointer(address)
        self.count = size
        self.isMapped = true
    }

    /// A private copy of `bytes` on the heap, aligned to 16.
    public init(copying bytes: UnsafeRawBufferPointer) {
        if bytes.count == 0 {
            self.base = nil
        } else {
            let storage = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 16)
            storage.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            self.base = UnsafeRawPointer(storage)
        }
        self.count = bytes.count
        self.isMapped = false
    }

    deinit {
        guard let base else { return }
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), count)
        } else {
            base.deallocate()
        }
    }

    /// Calls `body` with the bytes. The pointer must not escape `body`.
    @inline(__always)
    public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// The bytes, for holders that keep `self` alive while they use them (see the type's invariants).
    @inline(__always)
    var unsafeBuffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
