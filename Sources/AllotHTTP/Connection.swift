/// One client connection's state, kept in its event loop's `ConnectionTable`.
///
/// A slot is free when `fd` is -1. Closing a connection (`close()`) frees its buffers and marks
/// the slot free; the table then bumps the generation and puts the slot on its free list.
struct Connection: ~Copyable {
    /// The socket, or -1 for a free slot.
    var fd: Int32 = -1
    /// The poller token: slot index in the low 32 bits, generation in the high 32 bits, so a
    /// stale event for a previous connection in the same slot is ignored.
    var token: UInt64 = 0

    /// Bytes of an incomplete request (and any pipelined bytes after it). Empty and unallocated
    /// while the connection is between requests: reads then go to the loop's shared buffer.
    var input = OwnedBuffer()
    /// Bytes of `input`'s capacity charged to the server's buffer budget.
    var charged = 0
    /// Response bytes the socket did not take yet.
    var output = OwnedBuffer()
    var outputSent = 0

    /// Monotonic milliseconds at which the current phase times out.
    var deadline: Int64 = 0
    /// Requests answered on this connection.
    var requests = 0

    /// Empty-line bytes received before the current request line.
    var blankBytes = 0
    /// Where to resume looking for the end of the head, from the request start.
    var scanFrom = 0
    /// The parsed head of the request whose body is being received; valid when `headLength > 0`.
    var head = RequestHead()
    var headLength = 0
    var chunk = ChunkedDecoder()
    var continueSent = false

    /// A request has started, or the connection is new, and its header deadline is running.
    var partial = false
    /// The head is complete and the body deadline is running.
    var inBody = false
    /// Close once the pending output is sent.
    var closeAfterWrite = false
    /// Output is pending and the socket is registered for writability only.
    var writeBlocked = false
    /// Our side is shut down; reading and discarding until the client closes.
    var lingering = false

    var isOpen: Bool { fd >= 0 }

    /// Frees the buffers and marks the slot free (the socket is the caller's to close).
    mutating func close() {
        let token = self.token
        self = Connection()
        self.token = token
    }
}
