public import AllotHTTP
import AllotStore

#if canImport(Glibc)
    import Glibc
#endif

/// The bundle lifecycle's metrics: what is served, polls, failures by reason, swaps, cache loads.
///
/// | metric | labels |
/// | --- | --- |
/// | `allot_bundle_version` (gauge) | |
/// | `allot_bundle_created_timestamp_seconds` (gauge) | |
/// | `allot_bundle_installed_timestamp_seconds` (gauge) | |
/// | `allot_bundle_age_seconds` (gauge, now − created-at, computed at scrape) | |
/// | `allot_ready` (gauge, 1 once a verified bundle is mapped) | |
/// | `allot_bundle_polls_total` | `store`, `result` |
/// | `allot_bundle_fetch_failures_total` | `store`, `reason` |
/// | `allot_bundle_verify_failures_total` | `store`, `reason` |
/// | `allot_bundle_swaps_total` | |
/// | `allot_bundle_cache_loads_total` | `result` |
/// | `allot_bundle_last_poll_success_timestamp_seconds` (gauge) | |
/// | `allot_bundle_published_timestamp_seconds` (gauge, from the manifest) | |
/// | `allot_manifest_signed_timestamp_seconds` (gauge: newest verified manifest's signing time) | |
/// | `allot_manifest_expires_timestamp_seconds` (gauge) | |
/// | `allot_bundle_stale` (gauge: 1 when over `--max-staleness`, computed at scrape; 0 without it) | |
/// | `allot_bundle_floor_version` (gauge: the rollback floor) | |
/// | `allot_bundle_newest_seen_version` (gauge: newest verified manifest any store shows) | |
/// | `allot_store_manifest_version` (gauge) | `store` |
/// | `allot_store_lag_versions` (gauge: newest seen − this store's version) | `store` |
/// | `allot_store_rollbacks_total` (a store's manifest went back to an older version) | `store` |
///
/// Updated from the poller (the registry's shared shard); the age is set when `/metrics` renders.
public final class BundleMetrics: Sendable {
    /// Results of one poll of one store.
    public enum PollResult: String, Sendable, CaseIterable {
        /// 304: the manifest did not change since the last poll.
        case notModified = "not_modified"
        /// The manifest names the bundle already served.
        case current = "current"
        /// A newer bundle was verified and swapped in.
        case updated = "updated"
        /// The manifest names an older version than the one served: refused.
        case refusedOlder = "refused_older"
        /// The manifest names the served version with a different bundle: refused.
        case refusedConflict = "refused_conflict"
        /// The manifest names a bundle this server already refused after download: not fetched again.
        case refusedKnown = "refused_known"
        /// The store could not be read, or what it holds did not verify.
        case failed = "failed"
    }

    public let registry: MetricsRegistry
    let version: Gauge
    let createdAt: Gauge
    let installedAt: Gauge
    let age: Gauge
    let ready: Gauge
    let swaps: Counter
    let lastSuccess: Gauge

    public init(registry: MetricsRegistry) {
        self.registry = registry
        version = registry.gauge("allot_bundle_version", help: "Version of the bundle being served (0 before the first).")
        createdAt = registry.gauge("allot_bundle_created_timestamp_seconds", help: "Created-at of the bundle being served (unix seconds).")
        installedAt = registry.gauge(
            "allot_bundle_installed_timestamp_seconds", help: "When this server installed the bundle being served (unix seconds).")
        age = registry.gauge("allot_bundle_age_seconds", help: "Seconds since the served bundle's created-at, at scrape time.")
        ready = registry.gauge("allot_ready", help: "1 once a verified bundle is mapped and served, else 0.")
        swaps = registry.counter("allot_bundle_swaps_total", help: "Bundles swapped in (including the first and the cached one).")
        lastSuccess = registry.gauge(
            "allot_bundle_last_poll_success_timestamp_seconds",
            help: "When a poll last got a verified answer from any store (unix seconds).")
        for result in ["loaded", "empty", "failed"] { _ = cacheLoadCounter(result) }
    }

    /// Pre-registers the poll results of `store`, so they show as 0 before they happen.
    func register(store: String) {
        for result in PollResult.allCases { _ = pollCounter(store: store, result) }
    }

    func recordPoll(store: String, _ result: PollResult) {
        registry.shared.increment(pollCounter(store: store, result))
        if result != .failed { registry.set(lastSuccess, Double(Self.now())) }
    }

    func recordFetchFailure(store: String, reason: StoreError.Code) {
        registry.shared.increment(
            registry.counter(
                "allot_bundle_fetch_failures_total", help: "Failed reads of a store (manifest or bundle), by store and reason.",
                labels: [("store", store), ("reason", reason.rawValue)]))
    }

    func recordVerifyFailure(store: String, reason: RefusalReason) {
        registry.shared.increment(verifyFailureCounter(store: store, reason: reason))
    }

    func recordCacheLoad(_ result: String) {
        registry.shared.increment(cacheLoadCounter(result))
    }

    func recordSwap(to bundle: ServedBundle) {
        registry.shared.increment(swaps)
        registry.set(version, Double(bundle.version))
        registry.set(createdAt, Double(bundle.bundle.createdAt))
        registry.set(installedAt, Double(bundle.installedAt))
        registry.set(ready, 1)
    }

    /// The newest verified manifest's signing time and expiry.
    func recordFreshness(signedAt: Int64, expires: Int64?) {
        registry.set(
            registry.gauge(
                "allot_manifest_signed_timestamp_seconds",
                help: "When the newest verified manifest seen was signed (unix seconds; format-1 manifests: the bundle's created-at)."),
            Double(signedAt))
        if let expires {
            registry.set(
                registry.gauge(
                    "allot_manifest_expires_timestamp_seconds", help: "When the newest verified manifest seen expires (unix seconds)."),
                Double(expires))
        }
    }

    /// When the served bundle was first published (from its manifest).
    func recordPublished(_ publishedAt: Int64) {
        registry.set(publishedGauge, Double(publishedAt))
    }

    private var publishedGauge: Gauge {
        registry.gauge(
            "allot_bundle_published_timestamp_seconds",
            help: "When the served bundle was first published (unix seconds, from its manifest).")
    }

    func recordFloor(_ version: UInt64) {
        registry.set(
            registry.gauge("allot_bundle_floor_version", help: "The rollback floor: no bundle older than this is installed."),
            Double(version))
    }

    /// Each store's last verified manifest version and its lag behind the newest.
    func recordStoreVersions(_ versions: some Sequence<(String, UInt64?)>, newest: UInt64?) {
        guard let newest else { return }
        registry.set(
            registry.gauge(
                "allot_bundle_newest_seen_version", help: "The newest version a verified manifest in any store names."),
            Double(newest))
        for (store, version) in versions {
            guard let version else { continue }
            registry.set(
                registry.gauge(
                    "allot_store_manifest_version", help: "The version of the store's last verified manifest.", labels: [("store", store)]),
                Double(version))
            registry.set(storeLag(store), Double(newest - min(version, newest)))
        }
    }

    func recordStoreRollback(store: String) {
        registry.shared.increment(
            registry.counter(
                "allot_store_rollbacks_total",
                help: "Times a store's verified manifest went back to an older version (replayed or restored).",
                labels: [("store", store)]))
    }

    /// How many versions `store` was behind the newest at the last poll.
    public func lag(store: String) -> Double { registry.value(of: storeLag(store)) }

    private func storeLag(_ store: String) -> Gauge {
        registry.gauge(
            "allot_store_lag_versions", help: "Versions the store's manifest is behind the newest verified one any store shows.",
            labels: [("store", store)])
    }

    /// Sets the staleness gauge for a scrape.
    func updateStale(_ stale: Bool) {
        registry.set(
            registry.gauge(
                "allot_bundle_stale", help: "1 when the newest verified manifest is older than --max-staleness (readiness fails)."),
            stale ? 1 : 0)
    }

    /// Sets the age gauge for a scrape.
    func updateAge(_ bundle: ServedBundle?) {
        guard let bundle else { return }
        registry.set(age, Double(Self.now() - bundle.bundle.createdAt))
    }

    /// The number of polls of `store` with `result` so far.
    public func polls(store: String, _ result: PollResult) -> UInt64 {
        registry.value(of: pollCounter(store: store, result))
    }

    /// The number of verification failures of `store` with `reason` so far.
    public func verifyFailures(store: String, reason: RefusalReason) -> UInt64 {
        registry.value(of: verifyFailureCounter(store: store, reason: reason))
    }

    /// The number of swaps so far.
    public var swapCount: UInt64 { registry.value(of: swaps) }

    private func verifyFailureCounter(store: String, reason: RefusalReason) -> Counter {
        registry.counter(
            "allot_bundle_verify_failures_total",
            help: "Manifests and bundles refused (signature, hash, size, version, payload...), by store and reason.",
            labels: [("store", store), ("reason", reason.rawValue)])
    }

    private func pollCounter(store: String, _ result: PollResult) -> Counter {
        registry.counter(
            "allot_bundle_polls_total", help: "Manifest polls, by store and result.",
            labels: [("store", store), ("result", result.rawValue)])
    }

    private func cacheLoadCounter(_ result: String) -> Counter {
        registry.counter(
            "allot_bundle_cache_loads_total", help: "Attempts to serve the cached last-known-good bundle at start, by result.",
            labels: [("result", result)])
    }

    static func now() -> Int64 {
        Int64(time(nil))
    }
}
