import ServiceLifecycle
import Synchronization

/// Runs an operation that may ignore cancellation (a store request stuck on a peer that never
/// answers) so that its caller can still stop on time: the operation runs in its own task, and the
/// caller gets its result, or nil as soon as `deadline` passes or (with `stopOnShutdown`) graceful
/// shutdown begins (at once if it has begun). The
/// abandoned operation is cancelled and left to end on its own; the caller no longer waits for it.
///
/// A task group cannot do this: it waits for every child, however long a child ignores its
/// cancellation.
enum Abandonable {
    static func run<T: Sendable>(
        until deadline: ContinuousClock.Instant?, stopOnShutdown: Bool, _ operation: @escaping @Sendable () async -> T
    ) async -> T? {
        let outcome = Outcome<T>()
        let work = Task { outcome.finish(with: await operation()) }
        let timer: Task<Void, Never>? = deadline.map { deadline in
            Task {
                try? await Task.sleep(until: deadline)
                outcome.finish(with: nil)
            }
        }
        let wait = {
            await withTaskCancellationHandler {
                await outcome.wait()
            } onCancel: {
                outcome.finish(with: nil)
            }
        }
        let result =
            stopOnShutdown
            ? await withGracefulShutdownHandler {
                await wait()
            } onGracefulShutdown: {
                outcome.finish(with: nil)
            }
            : await wait()
        timer?.cancel()
        if result == nil { work.cancel() }
        return result
    }

    /// The first of the operation's result and "given up" (nil), delivered once to one waiter.
    private final class Outcome<T: Sendable>: Sendable {
        private struct State {
            var waiter: CheckedContinuation<T?, Never>?
            var done = false
            var value: T?
        }
        private let state = Mutex(State())

        func wait() async -> T? {
            await withCheckedContinuation { continuation in
                let finished: (T?)? = state.withLock { state in
                    if state.done { return .some(state.value) }
                    state.waiter = continuation
                    return .none
                }
                if let finished { continuation.resume(returning: finished) }
            }
        }

        func finish(with value: T?) {
            let waiter: CheckedContinuation<T?, Never>? = state.withLock { state in
                guard !state.done else { return nil }
                state.done = true
                state.value = value
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: value)
        }
    }
}
