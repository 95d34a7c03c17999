/// One client connection's state, kept by value in its event loop's connection table.
struct Connection {
    /// The socket, or -1 for a free slot.
    var fd: Int32 = -1
    /// Bumped when the slot is freed, so a stale epoll event for a previous connection is ignored.
    var generation: UInt32 = 0
    /// Next free slot in the free list (free slots only).
    var nextFree: Int = -1

    /// Bytes of an incomplete request (and any pipelined bytes after it). Empty and unallocated
    /// while the connection is between requests: reads then go to the loop's shared buffer.
    var input = OwnedBuffer()
    /// Response bytes the socket did not take yet.
    var output = OwnedBuffer()
    var outputSent = 0

    /// Monotonic milliseconds at which the current phase times out.
    var deadline: Int64 = 0
    /// Requests answered on this connection.
    var requests = 0

    /// Where to resume looking for the end of the head, from the request start.
    var scanFrom = 0
    /// The parsed head of the request whose body is being received; valid when `headLength > 0`.
    var head = RequestHead()
    var headLength = 0
    var chunk = ChunkedDecoder()
    var continueSent = false

    /// An incomplete request is buffered (its header deadline is running).
    var partial = false
    /// The head is complete and the body deadline is running.
    var inBody = false
    /// Close once the pending output is sent.
    var closeAfterWrite = false
    /// Output is pending and the socket is registered for writability only.
    var writeBlocked = false
    /// Our side is shut down; reading and discarding until the client closes.
    var lingering = false
}
