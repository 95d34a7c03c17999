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

/// The Linux calls the engine needs that Glibc's Swift module does not export (`sys/epoll.h`,
/// `sys/eventfd.h` and GNU `accept4`), resolved once from the C library by name. Every other file
/// reaches epoll through `EventPoll`, never through these pointers.
enum LinuxCalls {
    typealias EpollCreate1 = @convention(c) (Int32) -> Int32
    typealias EpollCtl = @convention(c) (Int32, Int32, Int32, UnsafeMutableRawPointer?) -> Int32
    typealias EpollWait = @convention(c) (Int32, UnsafeMutableRawPointer?, Int32, Int32) -> Int32
    typealias Accept4 = @convention(c) (Int32, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int32) -> Int32
    typealias EventFD = @convention(c) (UInt32, Int32) -> Int32
    typealias SetThreadName = @convention(c) (pthread_t, UnsafePointer<CChar>?) -> Int32

    /// The functions, or nil when the C library lacks one (never on glibc Linux).
    struct Table: @unchecked Sendable {
        let epollCreate1: EpollCreate1
        let epollCtl: EpollCtl
        let epollWait: EpollWait
        let accept4: Accept4
        let eventfd: EventFD
        /// `pthread_setname_np`, optional: only for naming threads in `top` and profilers.
        let setThreadName: SetThreadName?
    }

    static let table: Table? = {
        guard let handle = dlopen(nil, RTLD_NOW) else { return nil }
        func lookup<T>(_ name: String, _ type: T.Type) -> T? {
            guard let symbol = dlsym(handle, name) else { return nil }
            return unsafeBitCast(symbol, to: type)
        }
        guard let create = lookup("epoll_create1", EpollCreate1.self),
            let ctl = lookup("epoll_ctl", EpollCtl.self),
            let wait = lookup("epoll_wait", EpollWait.self),
            let accept = lookup("accept4", Accept4.self),
            let eventfd = lookup("eventfd", EventFD.self)
        else { return nil }
        return Table(
            epollCreate1: create, epollCtl: ctl, epollWait: wait, accept4: accept, eventfd: eventfd,
            setThreadName: lookup("pthread_setname_np", SetThreadName.self))
    }()

    static let cloexec: Int32 = 0o2_000_000  // O_CLOEXEC, EPOLL_CLOEXEC, SOCK_CLOEXEC, EFD_CLOEXEC
    static let nonblock: Int32 = 0o4000  // O_NONBLOCK, SOCK_NONBLOCK, EFD_NONBLOCK
}

/// epoll event bits.
enum PollEvents {
    static let input: UInt32 = 0x001
    static let output: UInt32 = 0x004
    static let error: UInt32 = 0x008
    static let hangUp: UInt32 = 0x010
    static let readHangUp: UInt32 = 0x2000
    static let exclusive: UInt32 = 1 << 28
}

/// One epoll instance and its event array. Owned by one thread; `close()` releases both.
struct EventPoll {
    #if arch(x86_64)
        /// `struct epoll_event` is packed on x86-64: 4 bytes of events, then 8 of data.
        static let eventSize = 12
        static let dataOffset = 4
    #else
        static let eventSize = 16
        static let dataOffset = 8
    #endif

    let fd: Int32
    let events: UnsafeMutableRawPointer
    let capacity: Int

    init(capacity: Int) throws(HTTPServerError) {
        guard let calls = LinuxCalls.table else { throw HTTPServerError(.eventPoll, "epoll is not available") }
        let fd = calls.epollCreate1(LinuxCalls.cloexec)
        guard fd >= 0 else { throw HTTPServerError(.eventPoll, "epoll_create1", errno: errno) }
        self.fd = fd
        self.capacity = capacity
        self.events = .allocate(byteCount: capacity * Self.eventSize, alignment: 16)
    }

    func close() {
        _ = Glibc.close(fd)
        events.deallocate()
    }

    /// `EPOLL_CTL_ADD` (1), `EPOLL_CTL_DEL` (2), `EPOLL_CTL_MOD` (3). Returns `errno` or 0.
    @discardableResult
    func control(_ operation: Int32, _ target: Int32, events: UInt32, data: UInt64) -> Int32 {
        var raw: (UInt64, UInt64) = (0, 0)
        return withUnsafeMutableBytes(of: &raw) { buffer in
            buffer.storeBytes(of: events, toByteOffset: 0, as: UInt32.self)
            buffer.storeBytes(of: data, toByteOffset: Self.dataOffset, as: UInt64.self)
            return LinuxCalls.table!.epollCtl(fd, operation, target, buffer.baseAddress) == 0 ? 0 : errno
        }
    }

    @discardableResult
    func add(_ target: Int32, events: UInt32, data: UInt64) -> Int32 { control(1, target, events: events, data: data) }
    @discardableResult
    func modify(_ target: Int32, events: UInt32, data: UInt64) -> Int32 { control(3, target, events: events, data: data) }
    @discardableResult
    func remove(_ target: Int32) -> Int32 { control(2, target, events: 0, data: 0) }

    /// Waits for events; returns how many are ready (0 on timeout or signal).
    @inline(__always)
    func wait(timeoutMilliseconds: Int32, calls: LinuxCalls.Table) -> Int {
        let count = calls.epollWait(fd, events, Int32(capacity), timeoutMilliseconds)
        return count < 0 ? 0 : Int(count)
    }

    @inline(__always)
    func eventBits(at index: Int) -> UInt32 {
        events.loadUnaligned(fromByteOffset: index * Self.eventSize, as: UInt32.self)
    }

    @inline(__always)
    func eventData(at index: Int) -> UInt64 {
        events.loadUnaligned(fromByteOffset: index * Self.eventSize + Self.dataOffset, as: UInt64.self)
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
