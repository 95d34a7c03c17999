import Foundation

/// Runs blocking work (socket clients, processes) on its own thread, so it never holds one of the
/// few threads the test's cooperative pool (and the poller under test) runs on.
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// Calls blocking `attempt` on its own thread every `interval` seconds until it returns a value
/// or `seconds` have passed (then nil). The bound is a clock deadline, not a number of tries: a
/// debug build under a full suite's load may take many seconds to become ready.
public func pollOnThread<T: Sendable>(
    seconds: Double = 90, every interval: Double = 0.05, _ attempt: @escaping @Sendable () throws -> T?
) async throws -> T? {
    try await onThread { () -> T? in
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if let value = try attempt() { return value }
            Thread.sleep(forTimeInterval: interval)
        } while Date() < deadline
        return nil
    }
}
