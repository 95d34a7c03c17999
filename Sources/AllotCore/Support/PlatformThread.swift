#if canImport(Glibc)
    package import Glibc
#elseif canImport(Darwin)
    package import Darwin
#endif

/// Threads of the system, for work that must not run on Swift's cooperative pool (event loops,
/// batch workers, blocking libcurl transfers). The one place a closure crosses `pthread_create`.
package enum PlatformThread {
    /// Starts `body` on a new joinable thread (join it with `pthread_join`).
    package static func start(_ body: @escaping @Sendable () -> Void) throws(SystemError) -> pthread_t {
        let box = Unmanaged.passRetained(ThreadBody(body))
        #if canImport(Glibc)
            var thread = pthread_t()
        #else
            var thread: pthread_t?
        #endif
        let status = pthread_create(
            &thread, nil,
            { argument in
                // Optional on Glibc, not on Darwin.
                let pointer: UnsafeMutableRawPointer? = argument
                Unmanaged<ThreadBody>.fromOpaque(pointer!).takeRetainedValue().body()
                return nil
            }, box.toOpaque())
        guard status == 0 else {
            box.release()
            throw SystemError(call: "pthread_create", path: "", errno: status)
        }
        #if canImport(Glibc)
            return thread
        #else
            return thread!
        #endif
    }

    /// Starts `body` on a new detached thread. Returns false when the system refuses one.
    package static func detach(_ body: @escaping @Sendable () -> Void) -> Bool {
        guard let thread = try? start(body) else { return false }
        pthread_detach(thread)
        return true
    }
}

/// A thread's entry closure, passed through `pthread_create`'s argument.
private final class ThreadBody: Sendable {
    let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
    }
}
