public import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The writer service: runs `SegmentWriter` on a thread of its own (compression and file I/O stay
/// off the request threads and off Swift's cooperative pool) until graceful shutdown or
/// cancellation; then it drains every worker's buffer, closes the open segments (fsync) and
/// returns. Runs after the HTTP server in the `ServiceGroup`'s order of shutdown, so the buffers
/// hold every event of every answered request by then.
public final class ExposureWriter: Service, Sendable {
    let engine: SegmentWriter
    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)

    init(engine: SegmentWriter) {
        self.engine = engine
    }

    public func run() async throws {
        guard !started.exchange(true, ordering: .relaxed) else { return }
        await withTaskCancellationOrGracefulShutdownHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let engine = self.engine
                let started = startThread {
                    engine.run { self.stopping.load(ordering: .acquiring) }
                    continuation.resume()
                }
                if !started {
                    engine.logger.error("cannot start the exposure writer thread; writing on the caller's thread instead")
                    engine.run { self.stopping.load(ordering: .acquiring) }
                    continuation.resume()
                }
            }
        } onCancelOrGracefulShutdown: {
            self.stopping.store(true, ordering: .releasing)
        }
    }

    /// Runs one writer cycle on the calling thread: drains every worker's buffer into the open
    /// segments and flushes them. For tools, benchmarks and tests that do not run the service;
    /// refused (false) once the service has started, whose thread alone may touch the segments.
    @discardableResult
    public func runOnce() -> Bool {
        guard !started.load(ordering: .relaxed) else { return false }
        engine.cycle()
        return true
    }
}

/// Starts `body` on a new detached thread; false when the system refuses one.
private func startThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    final class Box: @unchecked Sendable {
        // @unchecked: created by the starting thread, consumed once by the new thread.
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body))
    var thread = pthread_t()
    let status = pthread_create(
        &thread, nil,
        { argument in
            Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue().body()
            return nil
        }, box.toOpaque())
    guard status == 0 else {
        box.release()
        return false
    }
    pthread_detach(thread)
    return true
}
