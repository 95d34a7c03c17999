import CAllotLinux

#if canImport(Glibc)
    import Glibc
#endif

/// Why the server could not start, or a system call it depends on failed.
public struct HTTPServerError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable {
        /// A configuration value is out of range.
        case invalidConfiguration = "invalid_configuration"
        /// The listen host is not a numeric IPv4 or IPv6 address.
        case badAddress = "bad_address"
        /// A socket, bind or listen call failed (port in use, permission).
        case listen = "listen"
        /// epoll or eventfd could not be created.
        case eventPoll = "event_poll"
        /// A worker thread could not be started.
        case thread = "thread"
        /// `run()` was called twice.
        case alreadyRunning = "already_running"
    }

    public let code: Code
    public let message: String
    /// `errno` of the failed call, if one failed.
    public let errno: Int32?

    init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    public var description: String {
        if let errno { return "\(message): \(String(cString: strerror(errno)))" }
        return message
    }
}

/// Creation flags for descriptors the engine makes: close-on-exec and non-blocking.
enum DescriptorFlags {
    static let socket = CAllotLinux_SOCK_NONBLOCK | CAllotLinux_SOCK_CLOEXEC
    static let eventFD = CAllotLinux_EFD_NONBLOCK | CAllotLinux_EFD_CLOEXEC
}

/// epoll event bits.
enum PollEvents {
    static let input = CAllotLinux_EPOLLIN
    static let output = CAllotLinux_EPOLLOUT
    static let error = CAllotLinux_EPOLLERR
    static let hangUp = CAllotLinux_EPOLLHUP
    static let readHangUp = CAllotLinux_EPOLLRDHUP
    static let exclusive = CAllotLinux_EPOLLEXCLUSIVE
}

/// One epoll instance and its event array. Owned by one thread; `close()` releases both.
struct EventPoll {
    let fd: Int32
    let events: UnsafeMutablePointer<epoll_event>
    let capacity: Int

    init(capacity: Int) throws(HTTPServerError) {
        let fd = epoll_create1(CAllotLinux_EPOLL_CLOEXEC)
        guard fd >= 0 else { throw HTTPServerError(.eventPoll, "epoll_create1", errno: errno) }
        self.fd = fd
        self.capacity = capacity
        self.events = .allocate(capacity: capacity)
        self.events.initialize(repeating: epoll_event(), count: capacity)
    }

    func close() {
        _ = Glibc.close(fd)
        events.deinitialize(count: capacity)
        events.deallocate()
    }

    /// `epoll_ctl`; returns `errno` or 0.
    @discardableResult
    func control(_ operation: Int32, _ target: Int32, events: UInt32, data: UInt64) -> Int32 {
        var event = epoll_event()
        event.events = events
        event.data.u64 = data
        return epoll_ctl(fd, operation, target, &event) == 0 ? 0 : errno
    }

    @discardableResult
    func add(_ target: Int32, events: UInt32, data: UInt64) -> Int32 {
        control(CAllotLinux_EPOLL_CTL_ADD, target, events: events, data: data)
    }
    @discardableResult
    func modify(_ target: Int32, events: UInt32, data: UInt64) -> Int32 {
        control(CAllotLinux_EPOLL_CTL_MOD, target, events: events, data: data)
    }
    @discardableResult
    func remove(_ target: Int32) -> Int32 { control(CAllotLinux_EPOLL_CTL_DEL, target, events: 0, data: 0) }

    /// Waits for events; returns how many are ready (0 on timeout or signal).
    @inline(__always)
    func wait(timeoutMilliseconds: Int32) -> Int {
        let count = epoll_wait(fd, events, Int32(capacity), timeoutMilliseconds)
        return count < 0 ? 0 : Int(count)
    }

    @inline(__always)
    func eventBits(at index: Int) -> UInt32 {
        events[index].events
    }

    @inline(__always)
    func eventData(at index: Int) -> UInt64 {
        events[index].data.u64
    }
}

/// Monotonic and wall clocks.
enum Clock {
    /// Monotonic nanoseconds.
    @inline(__always)
    static func nanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// Wall-clock seconds since 1970.
    static func unixSeconds() -> Int {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int(spec.tv_sec)
    }
}
