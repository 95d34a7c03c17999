import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A tiny HTTP server on a raw loopback socket that misbehaves the way an adversary controlling a
/// store endpoint would, to show that a client bounds what it reads and how long it waits.
/// Each connection is served on its own thread; `stop()` closes the listener and every
/// connection. `bytesSent` counts body bytes written (what the client was offered).
public final class HostileHTTPServer: @unchecked Sendable {
    public enum Behaviour: Sendable {
        /// `200 OK` with no length, then the same byte forever (until the client hangs up).
        case endlessBody
        /// `200 OK` with `Content-Length: length`, then one byte per `interval`.
        case drip(length: Int, interval: Duration)
        /// Ignores `Range`: `200 OK` with the whole `size`-byte body (and an ETag), whatever was asked.
        case ignoresRange(size: Int)
        /// Declares `Content-Length: declared` and sends that many bytes (a huge honest answer).
        case declaresLength(Int)
    }

    public let port: Int
    public let behaviour: Behaviour
    private let listener: Int32
    private let state = Mutex<(connections: [Int32], stopped: Bool, sent: Int, requests: Int)>(([], false, 0, 0))

    public init(_ behaviour: Behaviour) throws {
        self.behaviour = behaviour
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket failed: errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw ClientError(description: "bind/listen failed: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    /// Body bytes written so far, over all connections.
    public var bytesSent: Int { state.withLock { $0.sent } }
    /// Requests received so far.
    public var requests: Int { state.withLock { $0.requests } }

    /// The endpoint URL.
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    public func stop() {
        let first = state.withLock { state -> Bool in
            defer { state.stopped = true }
            return !state.stopped
        }
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        state.withLock { state in
            for fd in state.connections { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    private var stopped: Bool { state.withLock { $0.stopped } }

    private func acceptLoop() {
        while !stopped {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                break
            }
            state.withLock { $0.connections.append(fd) }
            let thread = Thread { [self] in
                serve(fd)
                // Forget it before closing, so `stop()` never shuts down a reused descriptor.
                state.withLock { state in
                    state.connections.removeAll { $0 == fd }
                    close(fd)
                }
            }
            thread.start()
        }
        close(listener)
    }

    /// Reads one request head (up to the blank line) and answers per the behaviour.
    private func serve(_ fd: Int32) {
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !head.suffix(4).elementsEqual("\r\n\r\n".utf8) {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return }
            head.append(contentsOf: chunk[0..<count])
            if head.count > 65536 { return }
            if let end = find(head, "\r\n\r\n") { head = Array(head[..<(end + 4)]) }
        }
        state.withLock { $0.requests += 1 }
        switch behaviour {
        case .endlessBody:
            guard send(fd, "HTTP/1.1 200 OK\r\nETag: \"endless\"\r\nConnection: close\r\n\r\n") else { return }
            let block = [UInt8](repeating: 0x41, count: 64 * 1024)
            while !stopped, send(fd, block) {}
        case .drip(let length, let interval):
            guard send(fd, "HTTP/1.1 200 OK\r\nETag: \"drip\"\r\nContent-Length: \(length)\r\n\r\n") else { return }
            for _ in 0..<length {
                guard !stopped, send(fd, [0x42]) else { return }
                Thread.sleep(forTimeInterval: Double(interval.components.seconds) + Double(interval.components.attoseconds) * 1e-18)
            }
        case .ignoresRange(let size):
            guard send(fd, "HTTP/1.1 200 OK\r\nETag: \"whole\"\r\nContent-Length: \(size)\r\nConnection: close\r\n\r\n") else { return }
            sendBody(fd, size)
        case .declaresLength(let size):
            guard send(fd, "HTTP/1.1 200 OK\r\nETag: \"declared\"\r\nContent-Length: \(size)\r\nConnection: close\r\n\r\n") else { return }
            sendBody(fd, size)
        }
    }

    private func sendBody(_ fd: Int32, _ size: Int) {
        let block = [UInt8](repeating: 0x43, count: 64 * 1024)
        var remaining = size
        while remaining > 0, !stopped {
            let part = Array(block.prefix(remaining))
            guard send(fd, part) else { return }
            remaining -= part.count
        }
    }

    private func send(_ fd: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) == $0.count }
    }

    /// Sends all of `bytes`; false when the peer is gone. Body bytes are counted.
    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if count <= 0 {
                if count < 0 && errno == EINTR { continue }
                return false
            }
            offset += count
            state.withLock { $0.sent += count }
        }
        return true
    }

    private func find(_ bytes: [UInt8], _ pattern: String) -> Int? {
        let needle = Array(pattern.utf8)
        guard bytes.count >= needle.count else { return nil }
        for start in 0...(bytes.count - needle.count) where bytes[start..<(start + needle.count)].elementsEqual(needle) { return start }
        return nil
    }
}
