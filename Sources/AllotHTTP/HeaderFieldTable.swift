/// The header fields of the request being parsed, as offsets into its head: the owner of the
/// memory `RequestHeadParser.parse` writes them to and `HTTPRequest` reads them from. One per
/// event loop, reused for every request.
struct HeaderFieldTable: ~Copyable {
    private let storage: UnsafeMutablePointer<HeaderField>
    /// The most fields a request may have.
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0, "a header table needs room for a field")
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
        storage.initialize(repeating: HeaderField(nameStart: 0, nameLength: 0, valueStart: 0, valueLength: 0), count: capacity)
    }

    deinit {
        storage.deinitialize(count: capacity)
        storage.deallocate()
    }

    /// Calls `body` with room for `capacity` fields. Do not let the pointer escape.
    @inline(__always)
    mutating func withUnsafeMutablePointer<R>(_ body: (UnsafeMutablePointer<HeaderField>) -> R) -> R {
        body(storage)
    }
}
