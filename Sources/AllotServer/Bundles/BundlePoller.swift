import AllotCore
public import AllotStore
public import Logging
public import ServiceLifecycle
import Synchronization

/// Keeps the newest verified bundle served: a `Service` that polls the stores' manifests and swaps
/// bundles in, beside the HTTP server.
///
/// - **At start** (`loadCache()`, also done by `run()`): the rollback floor is read from the state
///   directory (raised to `minVersion`), and the newest cached bundle at or above it that verifies
///   again is served at once, before any store is asked, so a restarted server answers even when
///   every store is unreachable.
/// - **Each poll** asks the primary, and every store (the fallbacks too) when the primary fails or
///   once per `fallbackInterval`: a conditional GET with the last ETag seen from that store (one
///   small 304 when nothing changed). Each store's last verified manifest is remembered; the
///   newest version among them wins, whichever store holds it, so a partial publish or a primary
///   that lags or replays an older manifest does not hold the server back (the lag is a gauge,
///   `allot_store_lag_versions`). A manifest older than the bundle served or the floor, or naming
///   the same version with another bundle, is refused (counted and logged). The winner's bundle is
///   fetched from a store that names it and checked (size, BLAKE2b, envelope header and signature
///   with the trusted keys, version and key id as the manifest says), decompressed into the
///   cache, mapped, validated and swapped in. A bundle refused after download is remembered by
///   hash and not fetched again until a manifest names another bundle.
/// - **Floor**: the highest version this server has verified and served, persisted in the state
///   directory apart from the cache, so neither a lost cache nor a replayed store can take it
///   below that.
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
        /// How often the fallback stores are polled while the primary answers (every round while
        /// it fails). Rounded to whole poll intervals, at least one.
        public var fallbackInterval: Duration = .seconds(60)
        /// The unit type OFREP's `targetingKey` stands for (for the per-bundle tables).
        public var targetingKeyUnit = "user_id"
        /// Never serve a version below this (the floor starts here if the state holds less).
        public var minVersion: UInt64 = 0
        /// Readiness fails when the newest verified manifest seen was signed longer ago than this
        /// (a frozen region); nil: no limit.
        public var maxStaleness: Duration?

        public init() {}
    }

    public let sources: [Source]
    public let cache: BundleCache
    public let slot: BundleSlot
    public let metrics: BundleMetrics
    public let configuration: Configuration
    /// Where the floor is persisted; nil keeps it in memory only.
    public let floorFile: FloorFile?
    let logger: Logger

    struct State {
        var etags: [ETag?]
        /// Each store's last verified manifest.
        var manifests: [Manifest?]
        var roundsSinceFallbacks = Int.max
        /// Bundles refused after download, newest last (bounded): by envelope hash, with the store
        /// when only that store's copy was bad (wrong size or hash), nil when the bundle itself was.
        var refused: [(store: Int?, hash: [UInt8])] = []
        var floor: UInt64 = 0
        /// The newest signing time among verified, unexpired manifests seen (format 1: created-at).
        var freshestSignedAt: Int64?
        /// When polling started: the staleness reference until a manifest is seen.
        var startedAt = BundleMetrics.now()
        var consecutiveFailures = 0
        var cacheLoaded = false
        var floorLoaded = false
    }

    private let state: Mutex<State>

    public init(
        sources: [Source], cache: BundleCache, slot: BundleSlot, metrics: BundleMetrics, configuration: Configuration,
        floorFile: FloorFile? = nil, logger: Logger
    ) {
        self.sources = sources
        self.cache = cache
        self.slot = slot
        self.metrics = metrics
        self.configuration = configuration
        self.floorFile = floorFile
        self.logger = logger
        var initial = State(etags: Array(repeating: nil, count: sources.count), manifests: Array(repeating: nil, count: sources.count))
        initial.floor = configuration.minVersion
        self.state = Mutex(initial)
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

    /// The rollback floor: no version below it is installed.
    public var floor: UInt64 { state.withLock { $0.floor } }

    // MARK: Start from the cache

    /// Reads the floor, then serves the newest cached bundle at or above it that verifies, once,
    /// if nothing is served yet. Returns the bundle served afterwards (nil when there is none).
    @discardableResult
    public func loadCache() -> ServedBundle? {
        let first = state.withLock { state in
            defer { state.cacheLoaded = true }
            return !state.cacheLoaded
        }
        guard first, slot.current() == nil else { return slot.current() }
        let floor = loadFloor()
        var rejected = 0
        let entry = cache.loadNewest(atLeast: floor) { file, error in
            rejected += 1
            metrics.recordVerifyFailure(store: "cache", reason: error.reason)
            logger.warning(
                "cached bundle rejected and deleted",
                metadata: ["file": "\(file)", "reason": "\(error.reason)", "error": "\(error.message)", "cache": "\(cache.directory)"])
        }
        state.withLock { $0.startedAt = BundleMetrics.now() }
        guard let entry else {
            metrics.recordCacheLoad(rejected > 0 ? "failed" : "empty")
            logger.info(
                "no cached bundle to serve; waiting for a store", metadata: ["cache": "\(cache.directory)", "floor": "\(floor)"])
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

    /// Reads the persisted floor once (raised to `minVersion`) and returns the floor.
    @discardableResult
    private func loadFloor() -> UInt64 {
        let first = state.withLock { state in
            defer { state.floorLoaded = true }
            return !state.floorLoaded
        }
        guard first else { return floor }
        var persisted: UInt64 = 0
        if let floorFile {
            do {
                persisted = try floorFile.load() ?? 0
            } catch {
                metrics.recordVerifyFailure(store: "state", reason: .unreadableFloor)
                logger.error(
                    "the rollback floor cannot be read; starting from --min-version",
                    metadata: ["file": "\(floorFile.path)", "error": "\(error)", "min_version": "\(configuration.minVersion)"])
            }
        }
        let floor = state.withLock { state in
            state.floor = max(state.floor, persisted)
            return state.floor
        }
        metrics.recordFloor(floor)
        return floor
    }

    // MARK: Polling

    /// One round: polls the primary, and the fallbacks when it fails or their turn has come; then
    /// installs the newest verified manifest's bundle. Returns whether any store gave a verified answer.
    @discardableResult
    public func pollOnce() async -> Bool {
        guard !sources.isEmpty else { return false }
        loadFloor()
        let fallbacksDue = state.withLock { $0.roundsSinceFallbacks >= fallbackRounds }
        let primaryAnswered = await pollManifest(0)
        var answered = primaryAnswered
        let pollFallbacks = sources.count > 1 && (!primaryAnswered || fallbacksDue)
        if pollFallbacks {
            for index in 1..<sources.count {
                if Task.isCancelled { return false }
                if await pollManifest(index) { answered = true }
            }
        }
        state.withLock { $0.roundsSinceFallbacks = pollFallbacks ? 1 : $0.roundsSinceFallbacks &+ 1 }
        if Task.isCancelled { return answered }
        await installNewest()
        return answered
    }

    /// Whole poll intervals between polls of the fallbacks.
    private var fallbackRounds: Int {
        max(1, Int((configuration.fallbackInterval.seconds / max(configuration.interval.seconds, 0.001)).rounded()))
    }

    /// Polls one store's manifest and remembers it if it verifies. Returns whether it answered
    /// with a verified manifest (or an unchanged one).
    private func pollManifest(_ index: Int) async -> Bool {
        let source = sources[index]
        let etag = state.withLock { $0.etags[index] }
        let fetch: RegionClient.ManifestFetch
        do {
            fetch = try await source.client.fetchManifest(ifNoneMatch: etag)
        } catch {
            record(error, source: source, step: "manifest")
            return false
        }
        guard case .manifest(let manifest, let newTag) = fetch else {
            // Unchanged, but it may have expired since it was read: then it is dropped (and read
            // again next time, in case the region was refreshed behind an unchanged tag).
            let now = BundleMetrics.now()
            let expired = state.withLock { state -> Manifest? in
                guard let held = state.manifests[index], held.isExpired(at: now) else { return nil }
                state.manifests[index] = nil
                state.etags[index] = nil
                return held
            }
            if let expired {
                record(
                    .manifest(
                        ManifestError(.expired, "the manifest expired at \(expired.freshness.map { RFC3339.format($0.expires) } ?? "?")")),
                    source: source, step: "manifest")
                return false
            }
            metrics.recordPoll(store: source.label, .notModified)
            logger.debug("manifest not modified", metadata: ["store": "\(source.label)"])
            return true
        }
        noteFreshness(manifest)
        let previous = state.withLock { state in
            defer {
                state.etags[index] = newTag
                state.manifests[index] = manifest
                // The store changed its manifest: its own bad copies may have been repaired.
                state.refused.removeAll { $0.store == index }
            }
            return state.manifests[index]
        }
        if let previous, manifest.version < previous.version {
            metrics.recordStoreRollback(store: source.label)
            logger.warning(
                "a store went back to an older manifest (replayed or restored): not followed",
                metadata: [
                    "store": "\(source.label)", "manifest_version": "\(manifest.version)", "previous_version": "\(previous.version)",
                ])
        }
        let floor = state.withLock { $0.floor }
        let served = slot.current()
        if let served, manifest.version == served.version {
            if served.isEnvelope(manifest.blake2b) {
                metrics.recordPoll(store: source.label, .current)
            } else {
                metrics.recordPoll(store: source.label, .refusedConflict)
                metrics.recordVerifyFailure(store: source.label, reason: .versionConflict)
                logger.warning(
                    "manifest refused: it names another bundle with the version served",
                    metadata: [
                        "store": "\(source.label)", "reason": "version_conflict", "version": "\(manifest.version)",
                        "object": "\(manifest.object)",
                    ])
            }
        } else if manifest.version < max(served?.version ?? 0, floor) {
            metrics.recordPoll(store: source.label, .refusedOlder)
            metrics.recordVerifyFailure(store: source.label, reason: .olderVersion)
            logger.warning(
                "manifest refused: it names an older bundle than the one served (or the rollback floor)",
                metadata: [
                    "store": "\(source.label)", "reason": "older_version", "manifest_version": "\(manifest.version)",
                    "served_version": "\(served.map { String($0.version) } ?? "none")", "floor": "\(floor)",
                ])
        }
        return true
    }

    /// Installs the bundle of the newest verified manifest any store shows, if it is newer than
    /// the one served and not below the floor: fetched from a store that names it, trying the
    /// next such store when one fails.
    private func installNewest() async {
        let (manifests, floor) = state.withLock { ($0.manifests, $0.floor) }
        let newest = manifests.compactMap { $0?.version }.max()
        metrics.recordStoreVersions(zip(sources.map(\.label), manifests.map { $0?.version }), newest: newest)
        let served = slot.current()
        // Newest first; within a version, the primary first.
        var candidates: [(index: Int, manifest: Manifest)] = []
        let now = BundleMetrics.now()
        for (index, manifest) in manifests.enumerated() {
            guard let manifest, manifest.version >= floor, !manifest.isExpired(at: now) else { continue }
            if let served, manifest.version <= served.version { continue }
            candidates.append((index, manifest))
        }
        candidates.sort { $0.manifest.version != $1.manifest.version ? $0.manifest.version > $1.manifest.version : $0.index < $1.index }
        for (index, manifest) in candidates {
            if let current = slot.current(), current.version >= manifest.version { return }
            let source = sources[index]
            if isRefused(manifest.blake2b, store: index) {
                metrics.recordPoll(store: source.label, .refusedKnown)
                continue
            }
            let fetched: FetchedBundle
            do throws(FetchError) {
                fetched = try await source.client.fetchBundle(manifest)
            } catch {
                record(error, source: source, step: "bundle")
                if case .manifest(let rejection) = error {
                    // A wrong size or hash is this store's copy; anything else is the bundle itself.
                    let storeOnly = rejection.code == .sizeMismatch || rejection.code == .hashMismatch
                    refuse(manifest.blake2b, store: storeOnly ? index : nil)
                }
                continue
            }
            guard let bundle = install(fetched, source: source) else {
                refuse(manifest.blake2b, store: nil)
                continue
            }
            if swapIn(bundle) {
                if let publishedAt = manifest.freshness?.publishedAt { metrics.recordPublished(publishedAt) }
                metrics.recordPoll(store: source.label, .updated)
            } else {
                metrics.recordPoll(store: source.label, .current)
            }
            return
        }
    }

    /// Records a verified, unexpired manifest's signing time (format 1: the bundle's created-at).
    private func noteFreshness(_ manifest: Manifest) {
        let signedAt = manifest.freshness?.signedAt ?? manifest.createdAt
        let newest = state.withLock { state -> Int64? in
            guard signedAt > (state.freshestSignedAt ?? Int64.min) else { return nil }
            state.freshestSignedAt = signedAt
            return signedAt
        }
        if let newest { metrics.recordFreshness(signedAt: newest, expires: manifest.freshness?.expires) }
        if let served = slot.current(), served.isEnvelope(manifest.blake2b), let publishedAt = manifest.freshness?.publishedAt {
            metrics.recordPublished(publishedAt)
        }
    }

    /// Seconds since the newest verified manifest seen was signed (since polling started, when
    /// none was seen yet), at `now`.
    public func staleness(now: Int64) -> Int64 {
        state.withLock { now - ($0.freshestSignedAt ?? $0.startedAt) }
    }

    /// Whether readiness must fail for staleness (`maxStaleness` set and exceeded) at `now`.
    public func isStale(now: Int64) -> Bool {
        guard let limit = configuration.maxStaleness else { return false }
        return Double(staleness(now: now)) > limit.seconds
    }

    /// Remembers a bundle refused after download, so it is not fetched again.
    private func refuse(_ hash: [UInt8], store: Int?) {
        state.withLock { state in
            state.refused.append((store, hash))
            if state.refused.count > 64 { state.refused.removeFirst(state.refused.count - 64) }
        }
    }

    private func isRefused(_ hash: [UInt8], store: Int) -> Bool {
        state.withLock { $0.refused.contains { $0.hash == hash && ($0.store == nil || $0.store == store) } }
    }

    /// Decompresses a fetched, verified envelope into the cache and maps it. When the cache cannot
    /// be written (disk full, read-only), the payload is held in memory instead: the server keeps
    /// up to date, only a restart loses the cache.
    private func install(_ fetched: FetchedBundle, source: Source) -> ServedBundle? {
        let bundle: LoadedBundle
        do {
            bundle = try cache.install(envelope: fetched.bytes, header: fetched.header, envelopeHash: fetched.manifest.blake2b)
        } catch  where error.reason == RefusalReason(.io) {
            logger.error(
                "cannot write the bundle cache; holding the bundle in memory",
                metadata: ["cache": "\(cache.directory)", "error": "\(error.message)", "version": "\(fetched.header.version)"])
            metrics.recordVerifyFailure(store: "cache", reason: .cacheWriteFailed)
            do {
                bundle = try LoadedBundle.open(envelope: fetched.bytes, trustedKeys: cache.trustedKeys, limits: cache.limits)
            } catch {
                rejected(source: source, reason: RefusalReason(error.code), message: error.message, version: fetched.header.version)
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
        guard served.version >= floor else { return false }
        let previous = slot.install(served)
        raiseFloor(to: served.version)
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

    /// Raises the floor to `version` and persists it (a failure to persist is logged and counted:
    /// the floor still holds in memory).
    private func raiseFloor(to version: UInt64) {
        let raised = state.withLock { state in
            guard version > state.floor else { return false }
            state.floor = version
            return true
        }
        guard raised else { return }
        metrics.recordFloor(version)
        guard let floorFile else { return }
        do {
            try floorFile.save(version)
        } catch {
            metrics.recordVerifyFailure(store: "state", reason: .floorWriteFailed)
            logger.error(
                "cannot persist the rollback floor; it holds until restart",
                metadata: ["file": "\(floorFile.path)", "error": "\(error)", "floor": "\(version)"])
        }
    }

    private func record(_ error: FetchError, source: Source, step: String) {
        metrics.recordPoll(store: source.label, .failed)
        switch error {
        case .store(let storeError):
            metrics.recordFetchFailure(store: source.label, reason: storeError.code)
            logger.warning(
                "store read failed",
                metadata: [
                    "store": "\(source.label)", "step": "\(step)", "reason": "\(storeError.code.rawValue)", "error": "\(storeError.detail)",
                ])
        case .manifest(let manifestError):
            let reason = RefusalReason(manifestError)
            metrics.recordVerifyFailure(store: source.label, reason: reason)
            logger.error(
                "refused what the store holds",
                metadata: ["store": "\(source.label)", "step": "\(step)", "reason": "\(reason)", "error": "\(manifestError.message)"])
        }
    }

    private func rejected(source: Source, reason: RefusalReason, message: String, version: UInt64) {
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
