import AllotCore
public import AllotStore
public import Logging
public import ServiceLifecycle
import Synchronization

/// Keeps the newest verified bundle served: a `Service` that polls the stores' manifests and swaps
/// bundles in, beside the HTTP server.
///
/// - **At start** (`loadCache()`, also done by `run()`): the newest bundle in the cache directory
///   that verifies again is served at once, before any store is asked, so a restarted server
///   answers even when every store is unreachable.
/// - **Each poll** asks the stores in order (the primary, then the fallbacks) until one answers
///   with a verified manifest: a conditional GET with the last ETag seen from that store (one
///   small 304 when nothing changed). A manifest older than the bundle served, or naming the same
///   version with another bundle, is refused (counted and logged; the ETag is remembered so it is
///   not refetched). A newer one is fetched and checked (size, BLAKE2b, envelope header and
///   signature with the trusted keys, version and key id as the manifest says), decompressed into
///   the cache, mapped, validated and swapped in. A failure of any step (store unreachable, bad
///   signature, hash mismatch...) is counted by reason and logged, and the next store is tried.
/// - **Timing**: the next poll follows after the poll interval, ±jitter. When no store gave a
///   verified answer, the wait doubles with each failed round (from twice the interval up to
///   `maxBackoff`), still jittered, so a fleet does not hammer a failing store in step; a server
///   with nothing to serve yet keeps polling at the interval.
///
/// The bundle served is never replaced by anything unverified, older, or equal but different.
public final class BundlePoller: Service, Sendable {
    /// One store to poll, with the label its metrics and logs use.
    public struct Source: Sendable {
        public let client: RegionClient
        public let label: String

        public init(client: RegionClient, label: String) {
            self.client = client
            self.label = label
        }
    }

    /// Timing and identity settings.
    public struct Configuration: Sendable {
        /// Time between polls when all is well.
        public var interval: Duration = .seconds(10)
        /// The longest wait between polls after repeated failures.
        public var maxBackoff: Duration = .seconds(300)
        /// Each wait is multiplied by a random factor in `1 ± jitter`.
        public var jitter: Double = 0.2
        /// The unit type OFREP's `targetingKey` stands for (for the per-bundle tables).
        public var targetingKeyUnit = "user_id"

        public init() {}
    }

    public let sources: [Source]
    public let cache: BundleCache
    public let slot: BundleSlot
    public let metrics: BundleMetrics
    public let configuration: Configuration
    let logger: Logger

    struct State {
        var etags: [ETag?]
        var consecutiveFailures = 0
        var cacheLoaded = false
    }

    private let state: Mutex<State>

    public init(
        sources: [Source], cache: BundleCache, slot: BundleSlot, metrics: BundleMetrics, configuration: Configuration,
        logger: Logger
    ) {
        self.sources = sources
        self.cache = cache
        self.slot = slot
        self.metrics = metrics
        self.configuration = configuration
        self.logger = logger
        self.state = Mutex(State(etags: Array(repeating: nil, count: sources.count)))
        for source in sources { metrics.register(store: source.label) }
    }

    /// Polls until graceful shutdown or cancellation; serves the cache first.
    public func run() async throws {
        loadCache()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let answered = await cancelWhenGracefulShutdown { await self.pollOnce() }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            let delay = nextDelay(afterSuccess: answered, unit: Double.random(in: 0...1))
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
            } catch {
                break
            }
        }
        logger.info("bundle poller stopped")
    }

    // MARK: Start from the cache

    /// Serves the newest cached bundle that verifies, once, if nothing is served yet. Returns the
    /// bundle served afterwards (nil when there is none).
    @discardableResult
    public func loadCache() -> ServedBundle? {
        let first = state.withLock { state in
            defer { state.cacheLoaded = true }
            return !state.cacheLoaded
        }
        guard first, slot.current() == nil else { return slot.current() }
        var rejected = 0
        let entry = cache.loadNewest { file, error in
            rejected += 1
            metrics.recordVerifyFailure(store: "cache", reason: error.reason)
            logger.warning(
                "cached bundle rejected and deleted",
                metadata: ["file": "\(file)", "reason": "\(error.reason)", "error": "\(error.message)", "cache": "\(cache.directory)"])
        }
        guard let entry else {
            metrics.recordCacheLoad(rejected > 0 ? "failed" : "empty")
            logger.info("no cached bundle to serve; waiting for a store", metadata: ["cache": "\(cache.directory)"])
            return nil
        }
        let served = ServedBundle(
            bundle: entry.bundle, envelopeHash: entry.envelopeHash, source: "cache", installedAt: BundleMetrics.now(),
            targetingKeyUnit: configuration.targetingKeyUnit)
        guard swapIn(served) else { return slot.current() }
        metrics.recordCacheLoad("loaded")
        logger.notice(
            "serving the cached bundle",
            metadata: ["version": "\(served.version)", "created_at": "\(entry.bundle.createdAt)", "file": "\(entry.fileName)"])
        cache.removeAll(exceptVersion: served.version, envelopeHash: served.envelopeHash)
        return served
    }

    // MARK: Polling

    /// One round: asks the stores in order until one gives a verified answer. Returns whether one did.
    @discardableResult
    public func pollOnce() async -> Bool {
        for (index, source) in sources.enumerated() {
            if Task.isCancelled { return false }
            if await poll(index, source) { return true }
        }
        return false
    }

    /// Polls one store. Returns true when it answered with a verified manifest (whatever was done with it).
    private func poll(_ index: Int, _ source: Source) async -> Bool {
        let etag = state.withLock { $0.etags[index] }
        let fetch: RegionClient.ManifestFetch
        do {
            fetch = try await source.client.fetchManifest(ifNoneMatch: etag)
        } catch {
            record(error, source: source, step: "manifest")
            return false
        }
        guard case .manifest(let manifest, let newTag) = fetch else {
            metrics.recordPoll(store: source.label, .notModified)
            logger.debug("manifest not modified", metadata: ["store": "\(source.label)"])
            return true
        }
        if let served = slot.current() {
            if manifest.version < served.version {
                remember(newTag, at: index)
                metrics.recordPoll(store: source.label, .refusedOlder)
                metrics.recordVerifyFailure(store: source.label, reason: "older_version")
                logger.warning(
                    "manifest refused: it names an older bundle than the one served",
                    metadata: [
                        "store": "\(source.label)", "reason": "older_version", "manifest_version": "\(manifest.version)",
                        "served_version": "\(served.version)",
                    ])
                return true
            }
            if manifest.version == served.version {
                remember(newTag, at: index)
                if served.isEnvelope(manifest.blake2b) {
                    metrics.recordPoll(store: source.label, .current)
                } else {
                    metrics.recordPoll(store: source.label, .refusedConflict)
                    metrics.recordVerifyFailure(store: source.label, reason: "version_conflict")
                    logger.warning(
                        "manifest refused: it names another bundle with the version served",
                        metadata: [
                            "store": "\(source.label)", "reason": "version_conflict", "version": "\(manifest.version)",
                            "object": "\(manifest.object)",
                        ])
                }
                return true
            }
        }
        let fetched: FetchedBundle
        do {
            fetched = try await source.client.fetchBundle(manifest)
        } catch {
            record(error, source: source, step: "bundle")
            return false
        }
        guard let served = install(fetched, source: source) else { return false }
        if swapIn(served) {
            remember(newTag, at: index)
            metrics.recordPoll(store: source.label, .updated)
        } else {
            metrics.recordPoll(store: source.label, .current)
        }
        return true
    }

    /// Decompresses a fetched, verified envelope into the cache and maps it. When the cache cannot
    /// be written (disk full, read-only), the payload is held in memory instead: the server keeps
    /// up to date, only a restart loses the cache.
    private func install(_ fetched: FetchedBundle, source: Source) -> ServedBundle? {
        let bundle: LoadedBundle
        do {
            bundle = try cache.install(envelope: fetched.bytes, header: fetched.header, envelopeHash: fetched.manifest.blake2b)
        } catch  where error.reason == "io" {
            logger.error(
                "cannot write the bundle cache; holding the bundle in memory",
                metadata: ["cache": "\(cache.directory)", "error": "\(error.message)", "version": "\(fetched.header.version)"])
            metrics.recordVerifyFailure(store: "cache", reason: "cache_write_failed")
            do {
                bundle = try LoadedBundle.open(envelope: fetched.bytes, trustedKeys: cache.trustedKeys, limits: cache.limits)
            } catch {
                rejected(source: source, reason: error.code.rawValue, message: error.message, version: fetched.header.version)
                return nil
            }
        } catch {
            rejected(source: source, reason: error.reason, message: error.message, version: fetched.header.version)
            return nil
        }
        return ServedBundle(
            bundle: bundle, envelopeHash: fetched.manifest.blake2b, source: source.label, installedAt: BundleMetrics.now(),
            targetingKeyUnit: configuration.targetingKeyUnit)
    }

    /// Swaps `served` in (unless something at least as new is served already). Returns whether it did.
    private func swapIn(_ served: ServedBundle) -> Bool {
        if let current = slot.current(), current.version >= served.version { return false }
        let previous = slot.install(served)
        metrics.recordSwap(to: served)
        logger.notice(
            "bundle swapped in",
            metadata: [
                "version": "\(served.version)", "previous_version": "\(previous.map { String($0.version) } ?? "none")",
                "source": "\(served.source)", "created_at": "\(served.bundle.createdAt)", "key_id": "\(served.bundle.header.keyID)",
            ])
        if served.catalog.targetingUnit == nil {
            logger.warning(
                "the bundle declares no unit type for OFREP's targetingKey: it is ignored until one does",
                metadata: ["unit": "\(configuration.targetingKeyUnit)", "version": "\(served.version)"])
        }
        if served.source != "cache" {
            cache.removeAll(exceptVersion: served.version, envelopeHash: served.envelopeHash)
        }
        return true
    }

    private func remember(_ etag: ETag, at index: Int) {
        state.withLock { $0.etags[index] = etag }
    }

    private func record(_ error: FetchError, source: Source, step: String) {
        metrics.recordPoll(store: source.label, .failed)
        switch error {
        case .store(let storeError):
            metrics.recordFetchFailure(store: source.label, reason: storeError.code.rawValue)
            logger.warning(
                "store read failed",
                metadata: [
                    "store": "\(source.label)", "step": "\(step)", "reason": "\(storeError.code.rawValue)", "error": "\(storeError.detail)",
                ])
        case .manifest(let manifestError):
            var reason = manifestError.code.rawValue
            if let bundleError = manifestError.bundleError { reason += "_" + bundleError.code.rawValue }
            metrics.recordVerifyFailure(store: source.label, reason: reason)
            logger.error(
                "refused what the store holds",
                metadata: ["store": "\(source.label)", "step": "\(step)", "reason": "\(reason)", "error": "\(manifestError.message)"])
        }
    }

    private func rejected(source: Source, reason: String, message: String, version: UInt64) {
        metrics.recordPoll(store: source.label, .failed)
        metrics.recordVerifyFailure(store: source.label, reason: reason)
        logger.error(
            "bundle refused after download",
            metadata: ["store": "\(source.label)", "reason": "\(reason)", "error": "\(message)", "version": "\(version)"])
    }

    // MARK: Timing

    /// The wait before the next poll, given whether this round got a verified answer and a random `unit` in 0...1.
    func nextDelay(afterSuccess success: Bool, unit: Double) -> Duration {
        let failures = state.withLock { state in
            state.consecutiveFailures = success ? 0 : state.consecutiveFailures + 1
            return state.consecutiveFailures
        }
        // With nothing to serve yet, keep trying at the interval: readiness matters more than
        // sparing a store that one poll per interval and server does not hurt.
        let serving = slot.current() != nil
        return Self.delay(failures: serving ? failures : 0, configuration: configuration, unit: unit)
    }

    /// The wait after `failures` failed rounds in a row: the interval when 0, else
    /// `min(maxBackoff, interval × 2^failures)`; times `1 + jitter × (2 × unit − 1)`.
    public static func delay(failures: Int, configuration: Configuration, unit: Double) -> Duration {
        let interval = configuration.interval.seconds
        var base = interval
        if failures > 0 {
            base = min(max(configuration.maxBackoff.seconds, interval), interval * Double(1 << min(failures, 20)))
        }
        let factor = 1 + configuration.jitter * (2 * min(max(unit, 0), 1) - 1)
        return .milliseconds(Int64((base * factor * 1000).rounded()))
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
