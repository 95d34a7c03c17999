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
