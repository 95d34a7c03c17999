#if canImport(Glibc)
    import Glibc
#endif

/// Why the server could not start, or a system call it depends on failed.
public struct HTTPServerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What failed. A struct around a private enum, so a new code breaks no caller's `switch`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String {
            case invalidConfiguration = "invalid_configuration"
            case badAddress = "bad_address"
            case listen
            case eventPoll = "event_poll"
            case thread
            case alreadyRunning = "already_running"
            case descriptorLimit = "descriptor_limit"
        }

        private let value: Value

        /// A configuration value is out of range.
        public static let invalidConfiguration = Code(value: .invalidConfiguration)
        /// The listen host is not a numeric IPv4 or IPv6 address.
        public static let badAddress = Code(value: .badAddress)
        /// A socket, bind or listen call failed (port in use, permission).
        public static let listen = Code(value: .listen)
        /// The poller (epoll, eventfd) could not be created.
        public static let eventPoll = Code(value: .eventPoll)
        /// A worker thread could not be started.
        public static let thread = Code(value: .thread)
        /// `run()` was called twice.
        public static let alreadyRunning = Code(value: .alreadyRunning)
        /// The process may open too few descriptors to take any connection after the reserve.
        public static let descriptorLimit = Code(value: .descriptorLimit)

        /// The stable text of the code (`listen`, `descriptor_limit`…).
        public var rawValue: String { value.rawValue }
        public var description: String { value.rawValue }
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
