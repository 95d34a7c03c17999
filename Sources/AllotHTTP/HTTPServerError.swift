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
