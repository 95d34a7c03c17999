/// What a loop waits for on a descriptor.
struct PollInterest: Equatable {
    fileprivate let bits: UInt8

    /// Readable (or closed by the peer, or in error).
    static let input = PollInterest(bits: 1)
    /// Writable (or in error).
    static let output = PollInterest(bits: 2)
    /// Readable, waking only one of the loops that share the descriptor (the listening socket).
    static let exclusiveInput = PollInterest(bits: 4)

    var wantsInput: Bool { bits & 5 != 0 }
    var wantsOutput: Bool { bits & 2 != 0 }
    var isExclusive: Bool { bits & 4 != 0 }
}

/// One ready descriptor, as `Poller.wait` reports it.
struct PollEvent {
    /// The token the descriptor was registered with.
    let token: UInt64
    let readable: Bool
    let writable: Bool
    /// Error or hang-up: the next read or write says which.
    let failed: Bool
}

/// The readiness notification a loop is built on: epoll on Linux (`EpollPoller`); a kqueue
/// backend would implement the same five operations and be chosen as `PlatformPoller`.
///
/// A poller belongs to one loop thread, except `wake()`, which any thread may call. Every other
/// file of the engine reaches the kernel's readiness API through this protocol.
protocol Poller: AnyObject {
    /// The token `wait` reports after `wake()`; no descriptor may be registered with it.
    static var wakeToken: UInt64 { get }

    /// A poller reporting up to `capacity` events per `wait`.
    init(capacity: Int) throws(HTTPServerError)

    /// Starts watching `descriptor`. Returns 0 or the `errno` of the failure.
    @discardableResult
    func register(_ descriptor: Int32, interest: PollInterest, token: UInt64) -> Int32
    /// Changes what `descriptor` is watched for. Returns 0 or the `errno` of the failure.
    @discardableResult
    func modify(_ descriptor: Int32, interest: PollInterest, token: UInt64) -> Int32
    /// Stops watching `descriptor` (closing it does too). Returns 0 or the `errno` of the failure.
    @discardableResult
    func remove(_ descriptor: Int32) -> Int32
    /// Waits up to `timeoutMilliseconds` (0: poll) and returns how many events are ready, to be read
    /// with `event(at:)` until the next `wait`. A wake-up is reported once, as `wakeToken`.
    func wait(timeoutMilliseconds: Int32) -> Int
    /// Ready event `index` of the last `wait`.
    func event(at index: Int) -> PollEvent
    /// Makes the owning loop's `wait` return soon. Safe from any thread.
    func wake()
}

#if os(Linux)
    /// The poller of this platform.
    typealias PlatformPoller = EpollPoller
#else
    #error("AllotHTTP has a poller for Linux (epoll) only: add a Poller for this system (kqueue) and name it PlatformPoller")
#endif
