public import AllotCore
public import AllotExposures
public import AllotHTTP
public import AllotStore
public import Logging
public import ServiceLifecycle

/// Everything `allot serve` can be told, with the defaults it documents.
public struct EdgeConfiguration: Sendable {
    /// The HTTP engine: address, threads, limits and timeouts. `allot serve` listens on
    /// 127.0.0.1:8080 unless told otherwise.
    public var http = HTTPServerConfiguration(host: "127.0.0.1", port: 8080)
    /// Public keys whose bundles and manifests are accepted.
    public var trustedKeys: [PublicKey] = []
    /// Where the last verified bundle is kept for restarts.
    public var cacheDirectory = ".allot/cache"
    /// Where the rollback floor is persisted, apart from the cache (nil: in memory only).
    public var stateDirectory: String?
    /// Poll timing and the OFREP targeting unit.
    public var poller = BundlePoller.Configuration()
    /// Requests in one `POST /v1/assign/batch`.
    public var maxBatchRequests = 1000
    /// Size limits for bundles.
    public var limits = BundleLimits.default
    /// The exposure log (docs/exposures.md); nil: no log.
    public var exposures: ExposureConfiguration?

    public init() {}

    /// Throws when a value is out of range.
    public func validate() throws(EdgeConfigurationError) {
        do {
            try http.validate()
        } catch {
            throw EdgeConfigurationError(error.description)
        }
        guard !trustedKeys.isEmpty else { throw EdgeConfigurationError("at least one trusted key is needed") }
        guard !cacheDirectory.isEmpty else { throw EdgeConfigurationError("the cache directory must not be empty") }
        guard poller.interval >= .milliseconds(10) else { throw EdgeConfigurationError("the poll interval must be at least 10 ms") }
        guard poller.maxBackoff >= poller.interval else {
            throw EdgeConfigurationError("the maximum backoff must not be shorter than the poll interval")
        }
        guard poller.fallbackInterval >= .zero else { throw EdgeConfigurationError("the fallback poll interval must not be negative") }
        if let stateDirectory, stateDirectory.isEmpty { throw EdgeConfigurationError("the state directory must not be empty") }
        guard (0...0.5).contains(poller.jitter) else { throw EdgeConfigurationError("jitter must be in 0...0.5") }
        guard (1...100_000).contains(maxBatchRequests) else { throw EdgeConfigurationError("the batch limit must be in 1...100000") }
        guard !poller.targetingKeyUnit.isEmpty else { throw EdgeConfigurationError("the targeting key unit must not be empty") }
        do {
            try exposures?.validate()
        } catch {
            throw EdgeConfigurationError(error.message)
        }
    }
}

/// A configuration value out of range.
public struct EdgeConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The edge server: the HTTP engine with the native, OFREP and status routes, and the bundle
/// poller, sharing one bundle slot and one metrics registry. Run `services` in a `ServiceGroup`
/// (the poller first, so it is stopped after the HTTP server has drained).
public final class EdgeServer: Sendable {
    public let configuration: EdgeConfiguration
    public let slot: BundleSlot
    public let registry: MetricsRegistry
    public let bundleMetrics: BundleMetrics
    public let http: HTTPServer
    public let poller: BundlePoller
    /// The exposure log, when configured.
    public let exposures: ExposureLog?

    /// Binds the listening socket and prepares the poller for `stores` (the primary first, then
    /// the fallbacks). Nothing is read from the cache or the stores until `poller.loadCache()`
    /// or the services run. With `configuration.exposures`, takes the exposure spool; segments are
    /// shipped to `exposureStore` (kept in the spool without one).
    public init(
        configuration: EdgeConfiguration, stores: [any ObjectStore], exposureStore: (any ObjectStore)? = nil, logger: Logger
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        let slot = BundleSlot()
        let registry = MetricsRegistry()
        let bundleMetrics = BundleMetrics(registry: registry)
        let verifier = ManifestVerifier(trustedKeys: configuration.trustedKeys, limits: configuration.limits)
        var pollLogger = logger
        pollLogger[metadataKey: "component"] = "poller"
        let sources = stores.map { store in
            BundlePoller.Source(
                client: RegionClient(store: store, verifier: verifier, logger: pollLogger), label: store.location.description)
        }
        poller = BundlePoller(
            sources: sources,
            cache: BundleCache(
                directory: configuration.cacheDirectory, trustedKeys: configuration.trustedKeys, limits: configuration.limits),
            slot: slot, metrics: bundleMetrics, configuration: configuration.poller,
            floorFile: configuration.stateDirectory.map { FloorFile(directory: $0) }, logger: pollLogger)
        exposures = try configuration.exposures.map {
            try ExposureLog(configuration: $0, store: exposureStore, registry: registry, logger: logger)
        }
        let shared = EdgeShared(
            slot: slot, bundleMetrics: bundleMetrics, maxBatchRequests: configuration.maxBatchRequests, exposures: exposures,
            poller: poller)
        var httpLogger = logger
        httpLogger[metadataKey: "component"] = "http"
        http = try HTTPServer(
            configuration: configuration.http, metrics: HTTPServerMetrics(registry: registry, routes: EdgeRoute.allCases.map(\.rawValue)),
            logger: httpLogger, makeHandler: { EdgeHandler(shared: shared, context: $0) })
        self.slot = slot
        self.registry = registry
        self.bundleMetrics = bundleMetrics
    }

    /// The bound port.
    public var port: Int { http.port }

    /// The services to run together: the exposure log's (if any), the poller and the HTTP server.
    /// A `ServiceGroup` stops them in reverse order: the HTTP server drains first, so the exposure
    /// writer then takes every answered request's events.
    public var services: [any Service] { (exposures?.services ?? []) + [poller, http] }
}
