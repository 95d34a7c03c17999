#if os(Linux)
    import CAllotLinux
    import Glibc

    /// `Poller` on Linux: one level-triggered epoll set, its event array and an eventfd for
    /// wake-ups. The one owner of these descriptors and of the `epoll_event` memory; `deinit`
    /// releases them.
    final class EpollPoller: Poller {
        static let wakeToken = UInt64.max - 1

        private let epollFD: Int32
        private let wakeFD: Int32
        private let events: UnsafeMutablePointer<epoll_event>
        private let capacity: Int

        init(capacity: Int) throws(HTTPServerError) {
            precondition(capacity > 0, "a poller needs room for at least one event")
            let epollFD = epoll_create1(CAllotLinux_EPOLL_CLOEXEC)
            guard epollFD >= 0 else { throw HTTPServerError(.eventPoll, "epoll_create1", errno: errno) }
            let wakeFD = eventfd(0, CAllotLinux_EFD_NONBLOCK | CAllotLinux_EFD_CLOEXEC)
            guard wakeFD >= 0 else {
                let saved = errno
                Glibc.close(epollFD)
                throw HTTPServerError(.eventPoll, "eventfd", errno: saved)
            }
            self.epollFD = epollFD
            self.wakeFD = wakeFD
            self.capacity = capacity
            events = .allocate(capacity: capacity)
            events.initialize(repeating: epoll_event(), count: capacity)
            let added = Self.control(epollFD, CAllotLinux_EPOLL_CTL_ADD, wakeFD, bits: CAllotLinux_EPOLLIN, token: Self.wakeToken)
            guard added == 0 else {
                events.deinitialize(count: capacity)
                events.deallocate()
                Glibc.close(wakeFD)
                Glibc.close(epollFD)
                throw HTTPServerError(.eventPoll, "epoll_ctl (eventfd)", errno: added)
            }
        }

        deinit {
            Glibc.close(wakeFD)
            Glibc.close(epollFD)
            events.deinitialize(count: capacity)
            events.deallocate()
        }

        @discardableResult
        func register(_ descriptor: Int32, interest: PollInterest, token: UInt64) -> Int32 {
            Self.control(epollFD, CAllotLinux_EPOLL_CTL_ADD, descriptor, bits: Self.bits(interest), token: token)
        }

        @discardableResult
        func modify(_ descriptor: Int32, interest: PollInterest, token: UInt64) -> Int32 {
            Self.control(epollFD, CAllotLinux_EPOLL_CTL_MOD, descriptor, bits: Self.bits(interest), token: token)
        }

        @discardableResult
        func remove(_ descriptor: Int32) -> Int32 {
            Self.control(epollFD, CAllotLinux_EPOLL_CTL_DEL, descriptor, bits: 0, token: 0)
        }

        @inline(__always)
        func wait(timeoutMilliseconds: Int32) -> Int {
            let count = epoll_wait(epollFD, events, Int32(capacity), timeoutMilliseconds)
            guard count > 0 else { return 0 }
            for index in 0..<Int(count) where events[index].data.u64 == Self.wakeToken {
                // Level-triggered: read the counter back to zero, or every wait would return at once.
                var value: UInt64 = 0
                _ = read(wakeFD, &value, 8)
            }
            return Int(count)
        }

        @inline(__always)
        func event(at index: Int) -> PollEvent {
            let bits = events[index].events
            return PollEvent(
                token: events[index].data.u64,
                readable: bits & CAllotLinux_EPOLLIN != 0,
                writable: bits & CAllotLinux_EPOLLOUT != 0,
                failed: bits & (CAllotLinux_EPOLLERR | CAllotLinux_EPOLLHUP) != 0)
        }

        func wake() {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }

        private static func bits(_ interest: PollInterest) -> UInt32 {
            var bits: UInt32 = 0
            if interest.wantsInput { bits |= CAllotLinux_EPOLLIN }
            if interest.wantsOutput { bits |= CAllotLinux_EPOLLOUT }
            if interest.isExclusive { bits |= CAllotLinux_EPOLLEXCLUSIVE }
            return bits
        }

        private static func control(_ epollFD: Int32, _ operation: Int32, _ descriptor: Int32, bits: UInt32, token: UInt64) -> Int32 {
            var event = epoll_event()
            event.events = bits
            event.data.u64 = token
            return epoll_ctl(epollFD, operation, descriptor, &event) == 0 ? 0 : errno
        }
    }
#endif
