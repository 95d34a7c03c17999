import CAllotLinux

#if canImport(Glibc)
    import Glibc
#endif

/// The socket calls of the event loops, each answering with what the loop does next instead of
/// a bare return value and `errno`. Bytes move only between a socket and an `OwnedBuffer` (or a
/// constant), so no other file of the loop handles raw pointers for I/O.
enum Socket {
    enum AcceptResult {
        case accepted(Int32)
        /// No connection is waiting.
        case empty
        /// The connection went away before it was accepted, or a signal came: try the next.
        case retry
        /// Out of descriptors or memory (`errno`).
        case failed(Int32)
    }

    enum ReceiveResult {
        case received(Int)
        case wouldBlock
        /// The peer closed or reset the connection.
        case closed
    }

    enum SendResult {
        /// Bytes taken by the kernel: all of them, or fewer when the socket buffer is full.
        case sent(Int)
        /// The connection is broken.
        case failed
    }

    /// Accepts one connection from `listener`, non-blocking and close-on-exec.
    @inline(__always)
    static func accept(_ listener: Int32) -> AcceptResult {
        let fd = accept4(listener, nil, nil, CAllotLinux_SOCK_NONBLOCK | CAllotLinux_SOCK_CLOEXEC)
        if fd >= 0 { return .accepted(fd) }
        switch errno {
        case EAGAIN, EWOULDBLOCK: return .empty
        case EINTR, ECONNABORTED, EPROTO: return .retry
        default: return .failed(errno)
        }
    }

    /// Receives up to `maximum` bytes at the end of `buffer`.
    @inline(__always)
    static func receive(_ fd: Int32, into buffer: inout OwnedBuffer, maximum: Int) -> ReceiveResult {
        var failure: Int32 = 0
        let received = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maximum) { space in
            let result = recv(fd, space.baseAddress, min(space.count, maximum), 0)
            if result < 0 { failure = errno }
            return result
        }
        if received > 0 { return .received(received) }
        if received < 0, failure == EAGAIN || failure == EWOULDBLOCK || failure == EINTR { return .wouldBlock }
        return .closed
    }

    /// Sends as much of `bytes` as the socket takes without blocking.
    @inline(__always)
    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> SendResult {
        guard let base = bytes.baseAddress else { return .sent(0) }
        var sent = 0
        while sent < bytes.count {
            let result = Glibc.send(fd, base + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            if result > 0 {
                sent += result
                continue
            }
            if result < 0, errno == EINTR { continue }
            if result < 0, errno == EAGAIN || errno == EWOULDBLOCK { break }
            return .failed
        }
        return .sent(sent)
    }

    /// Sends a constant response once, ignoring what the socket does not take.
    static func sendOnce(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads and drops what the peer sent, up to 16 reads. Returns true when the peer has closed
    /// (or the connection broke), false when it would block with the connection still open.
    static func discardInput(_ fd: Int32) -> Bool {
        withUnsafeTemporaryAllocation(byteCount: 16 * 1024, alignment: 16) { scratch in
            for _ in 0..<16 {
                let received = recv(fd, scratch.baseAddress, scratch.count, 0)
                if received > 0 { continue }
                if received < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return false }
                return true
            }
            return true
        }
    }

    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Ends our side of the connection (FIN); reading still works.
    static func shutdownWrite(_ fd: Int32) {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// A descriptor to hold in reserve (`/dev/null`), or -1.
    static func openSpare() -> Int32 {
        open("/dev/null", O_RDONLY | O_CLOEXEC)
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }
}
