import AllotCore
import AllotStore
import Logging
public import ServiceLifecycle
import Synchronization

/// The uploader service: ships closed segments from the spool to the exposure store, oldest first,
/// each under its one key (`SegmentName.key`), and deletes a segment's file only after the store
/// confirmed the put and a HEAD shows it holds the object (a store that acknowledges and drops a
/// write loses nothing: the segment stays and is counted under `unconfirmed`). A retry (after a timeout, a lost answer, a restart) puts the same bytes
/// under the same key again, so a segment is never stored twice.
///
/// Failures back off (doubling from the upload interval to its maximum, with jitter) and are
/// counted by the store's error code; shipping resumes by itself when the store is back. Before a
/// put, a file is checked to be one complete zstd frame no larger than the segment limit: anything
/// else in the spool is moved to `rejected/` and never shipped.
///
/// One segment the store refuses does not hold back the others: when a put fails, the next
/// segment is tried, and only two failures in a row with nothing shipped end the round (the store
/// is away). A segment refused with a definite answer (not a timeout, a lost connection or a 5xx)
/// in `stuckSegmentStrikes` rounds in which other segments shipped is moved to `rejected/`, logged
/// as an error and counted: the store will not take it, and a person must look.
///
/// On graceful shutdown (after the writer has closed its segments) it keeps shipping until the
/// spool is empty or `shipGrace` has passed; what is left is shipped by the next start, which
/// ships whatever a previous process left.
public final class ExposureUploader: Service, Sendable {
    let store: any ObjectStore
    let spool: ExposureSpool
    let metrics: ExposureMetrics
    let configuration: ExposureConfiguration
    let logger: Logger
    /// When the oldest closed segment waiting was closed (ms since the epoch), 0 when none waits.
    private let oldestWaiting = Atomic<Int64>(0)
    /// Rounds in which a segment was refused with a definite answer while others shipped, by key.
    private let strikes = Mutex<[String: Int]>([:])
    /// How many such rounds set a segment aside.
    static let stuckSegmentStrikes = 5

    init(store: any ObjectStore, spool: ExposureSpool, metrics: ExposureMetrics, configuration: ExposureConfiguration, logger: Logger) {
        self.store = store
        self.spool = spool
        self.metrics = metrics
        self.configuration = configuration
        self.logger = logger
    }

    /// What a shipping round did.
    enum RoundResult: Equatable {
        /// Every segment there was is shipped.
        case empty
        /// Puts failed and nothing shipped: the store is away; the rest waits.
        case failed
        /// Some segments shipped, some were refused (they wait for the next round, or are set aside);
        /// `retryable` when a refusal was not definite (a timeout, a 5xx, an unconfirmed put), so
        /// trying again soon may ship it.
        case someRefused(retryable: Bool)
        /// The deadline came first.
        case outOfTime
    }

    public func run() async throws {
        var failures = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let result = await shipAll(deadline: nil)
            failures = result == .failed ? failures + 1 : 0
            let delay = Self.backoff(failures: failures, interval: configuration.uploadInterval, maximum: configuration.uploadMaxBackoff)
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
            } catch {
                break
            }
        }
        guard !Task.isCancelled else { return }
        // Graceful shutdown: the writer has closed its segments; ship them within the grace.
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.shipGrace
        var attempts = 0
        while clock.now < deadline {
            let result = await shipAll(deadline: deadline)
            // Go on while a retry may ship something: not for a segment the store refuses for good.
            guard result == .failed || result == .someRefused(retryable: true) else { break }
            attempts += 1
            let pause = min(
                Self.backoff(failures: attempts, interval: configuration.uploadInterval, maximum: .seconds(1)), deadline - clock.now)
            try? await Task.sleep(for: pause)
        }
        let left = spool.readyEntries().filter { $0.name != nil }.count
        if left > 0 {
            logger.warning(
                "exposure segments left in the spool at shutdown; the next start ships them",
                metadata: ["segments": "\(left)", "spool": "\(spool.root)"])
        } else {
            logger.info("exposure segments all shipped", metadata: ["store": "\(store.location)"])
        }
    }

    /// The wait after `failures` failed rounds in a row: the interval when all is well, then
    /// doubling up to `maximum`, each wait jittered by ±20 %.
    static func backoff(failures: Int, interval: Duration, maximum: Duration) -> Duration {
        guard failures > 0 else { return interval }
        var delay = interval * 2
        for _ in 1..<min(failures, 30) where delay < maximum { delay *= 2 }
        return min(delay, maximum) * Double.random(in: 0.8...1.2)
    }

    /// Ships every closed segment in the spool, oldest first, until two puts in a row fail with
    /// nothing shipped, or `deadline` passes.
    func shipAll(deadline: ContinuousClock.Instant?) async -> RoundResult {
        let entries = spool.readyEntries()
        var waiting = entries.filter { $0.name != nil }
        publish(waiting)
        for entry in entries where entry.name == nil {
            logger.warning("a file in the exposure spool is not a segment: set aside", metadata: ["file": "\(entry.path)"])
            setAside(entry)
        }
        var shipped = false
        var refused: [(entry: ExposureSpool.Entry, definite: Bool)] = []
        var index = 0
        while index < waiting.count {
            if let deadline, ContinuousClock().now >= deadline { return .outOfTime }
            let entry = waiting[index]
            switch await ship(entry, deadline: deadline) {
            case .done:
                shipped = true
                strikes.withLock { _ = $0.removeValue(forKey: entry.name!.key) }
                waiting.remove(at: index)
                publish(waiting)
            case .refused(let definite):
                refused.append((entry, definite))
                if !shipped && refused.count >= 2 { return .failed }
                index += 1
            }
        }
        guard !refused.isEmpty else { return .empty }
        guard shipped else { return .failed }
        for (entry, definite) in refused where definite {
            let count = strikes.withLock { strikes in
                strikes[entry.name!.key, default: 0] += 1
                return strikes[entry.name!.key]!
            }
            guard count >= Self.stuckSegmentStrikes else { continue }
            strikes.withLock { _ = $0.removeValue(forKey: entry.name!.key) }
            logger.error(
                "the exposure store keeps refusing a segment it takes others beside: set aside in rejected/ for a person",
                metadata: ["segment": "\(entry.name!)", "store": "\(store.location)", "rounds": "\(count)"])
            setAside(entry)
            waiting.removeAll { $0.path == entry.path }
            publish(waiting)
        }
        return .someRefused(retryable: refused.contains { !$0.definite && FileIO.exists($0.entry.path) })
    }

    /// Moves a file to `rejected/` and counts it (and the old files that made room).
    private func setAside(_ entry: ExposureSpool.Entry) {
        let deleted = spool.reject(entry)
        metrics.registry.shared.increment(metrics.filesRejected)
        metrics.registry.shared.increment(metrics.rejectedDeleted, by: UInt64(deleted))
    }

    /// What became of one segment.
    enum ShipOutcome: Equatable {
        /// Shipped and confirmed, or set aside as invalid.
        case done
        /// Not shipped; `definite` when the store answered a refusal (not a timeout, a lost
        /// connection, a 5xx, or an unconfirmed put), which may be about this segment alone.
        case refused(definite: Bool)
    }

    /// Ships one segment.
    private func ship(_ entry: ExposureSpool.Entry, deadline: ContinuousClock.Instant?) async -> ShipOutcome {
        let name = entry.name!
        let bytes: [UInt8]
        do {
            guard entry.size <= configuration.segmentMaxBytes else {
                throw SegmentCheck("it is \(entry.size) bytes, over the segment limit of \(configuration.segmentMaxBytes)")
            }
            bytes = try FileIO.read(path: entry.path)
            guard bytes.count <= configuration.segmentMaxBytes else { throw SegmentCheck("it grew to \(bytes.count) bytes") }
            guard bytes.withUnsafeBytes({ Zstd.isSingleFrame($0) }) else { throw SegmentCheck("it is not one complete zstd frame") }
        } catch let error as SegmentCheck {
            logger.warning(
                "an exposure segment is not valid: set aside", metadata: ["file": "\(entry.path)", "problem": "\(error.message)"])
            setAside(entry)
            return .done
        } catch {
            logger.warning("cannot read an exposure segment", metadata: ["file": "\(entry.path)", "error": "\(error)"])
            metrics.registry.shared.increment(metrics.uploadFailureCounter("read_failed"))
            return .refused(definite: false)
        }
        do {
            switch try await put(name.key, bytes, deadline: deadline) {
            case .confirmed:
                break
            case .unconfirmed(let why):
                metrics.registry.shared.increment(metrics.uploadFailureCounter(ExposureMetrics.unconfirmed))
                logger.error(
                    "the exposure store acknowledged a segment it does not hold; kept in the spool, will retry",
                    metadata: ["segment": "\(name)", "store": "\(store.location)", "problem": "\(why)"])
                return .refused(definite: false)
            }
        } catch {
            metrics.registry.shared.increment(metrics.uploadFailureCounter(error.code.rawValue))
            logger.warning(
                "cannot ship an exposure segment; will retry",
                metadata: ["segment": "\(name)", "store": "\(store.location)", "error": "\(error.detail)"])
            return .refused(definite: ![.timeout, .unreachable, .serverError].contains(error.code))
        }
        SpoolFiles.remove(entry.path)
        SpoolFiles.removeEmptyFolders(of: entry.path, below: spool.readyRoot)
        spool.subtract(entry.size)
        metrics.registry.shared.increment(metrics.segmentsShipped)
        metrics.registry.shared.increment(metrics.bytesShipped, by: UInt64(bytes.count))
        logger.debug("exposure segment shipped", metadata: ["key": "\(name.key)", "bytes": "\(bytes.count)"])
        return .done
    }

    /// What the store holds after a put it acknowledged.
    enum Confirmation: Equatable {
        case confirmed
        /// The store said yes but does not hold these bytes under the key (a store that lies, or
        /// lost the write): the segment must stay.
        case unconfirmed(String)
    }

    /// The store's put, then a HEAD of the key to confirm the store holds an object of the same
    /// size (and, where both have one, the same entity tag): a segment's file is deleted only on
    /// that confirmation. Given up at `deadline`, or when graceful shutdown begins if there is no
    /// deadline (the shutdown's own shipping has one). A put given up is cancelled and no longer
    /// waited for, even if the store never answers; the segment stays in the spool, and a later
    /// put of the same bytes under the same key is harmless.
    private func put(_ key: String, _ bytes: [UInt8], deadline: ContinuousClock.Instant?) async throws(StoreError) -> Confirmation {
        let store = self.store
        let result = await Abandonable.run(until: deadline, stopOnShutdown: deadline == nil) { () -> Result<Confirmation, StoreError> in
            do throws(StoreError) {
                let etag = try await store.put(key, bytes: bytes, condition: .none)
                guard let held = try await store.head(key) else { return .success(.unconfirmed("no object under the key")) }
                guard held.size == bytes.count else {
                    return .success(.unconfirmed("it holds \(held.size) bytes, not \(bytes.count)"))
                }
                guard etag.value.isEmpty || held.etag.value.isEmpty || etag == held.etag else {
                    return .success(.unconfirmed("its entity tag is \(held.etag), the put's was \(etag)"))
                }
                return .success(.confirmed)
            } catch {
                return .failure(error)
            }
        }
        guard let result else {
            let why = deadline == nil ? "the server is stopping" : "the shutdown's ship grace ran out"
            throw StoreError(.timeout, "given up: \(why)", store: store.location, key: key)
        }
        return try result.get()
    }

    /// Sets the unshipped gauges from the segments still waiting.
    private func publish(_ waiting: [ExposureSpool.Entry]) {
        oldestWaiting.store(waiting.map(\.modified).min() ?? 0, ordering: .relaxed)
        metrics.registry.set(metrics.unshipped, Double(waiting.count))
        metrics.registry.set(metrics.spoolBytes, Double(spool.bytes))
    }

    /// Sets the oldest unshipped segment's age (at scrape time).
    func updateAge(nowMilliseconds: Int64) {
        let oldest = oldestWaiting.load(ordering: .relaxed)
        metrics.registry.set(metrics.oldestAge, oldest == 0 ? 0 : Double(max(0, nowMilliseconds - oldest)) / 1000)
    }

    private struct SegmentCheck: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }
}
