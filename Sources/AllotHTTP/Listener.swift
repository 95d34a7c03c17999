import CAllotLinux

#if canImport(Glibc)
    import Glibc
#endif

/// The listening socket: bound, listening, non-blocking. Every event loop adds it to its own
/// poller for exclusive input, so one new connection wakes one loop.
struct Listener: Sendable {
    let fd: Int32
    /// The bound port (the kernel's choice when the configuration asked for port 0).
    let port: Int

    static func bind(host: String, port: Int, backlog: Int) throws(HTTPServerError) -> Listener {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw HTTPServerError(.badAddress, "cannot resolve listen address \(host):\(port): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }

        let info = first.pointee
        let fd = socket(info.ai_family, Int32(SOCK_STREAM.rawValue) | CAllotLinux_SOCK_NONBLOCK | CAllotLinux_SOCK_CLOEXEC, 0)
        guard fd >= 0 else { throw HTTPServerError(.listen, "socket", errno: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard Glibc.bind(fd, info.ai_addr, info.ai_addrlen) == 0 else {
            let saved = errno
            Glibc.close(fd)
            throw HTTPServerError(.listen, "bind \(host):\(port)", errno: saved)
        }
        guard listen(fd, Int32(clamping: backlog)) == 0 else {
            let saved = errno
            Glibc.close(fd)
            throw HTTPServerError(.listen, "listen \(host):\(port)", errno: saved)
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let bound = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard bound == 0 else {
            let saved = errno
            Glibc.close(fd)
            throw HTTPServerError(.listen, "getsockname", errno: saved)
        }
        let boundPort: UInt16 = withUnsafeBytes(of: &storage) { raw in
            // sin_port and sin6_port both sit at offset 2, in network byte order.
            UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        }
        return Listener(fd: fd, port: Int(boundPort))
    }

    func close() {
        _ = Glibc.close(fd)
    }
}
