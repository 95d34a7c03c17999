public import AllotHTTP
public import AllotStore
public import Logging
public import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The exposure log of one `allot serve` (docs/exposures.md): every worker thread records the
/// decisions it hands out into its own buffer (`makeRecorder`); the writer service turns them into
/// records in zstd segments in the spool; the uploader service ships closed segments to the
/// exposure store. Run `services` in the server's `ServiceGroup` *before* the HTTP server in the
/// list, so that they stop after it.
public final class ExposureLog: Sendable {
    public let configuration: ExposureConfiguration
    public let metrics: ExposureMetrics
    public let spool: ExposureSpool
    public let writer: ExposureWriter
    /// Nil without an exposure store: segments then stay in the spool (until it is full).
    public let uploader: ExposureUploader?
    let counters: AssignmentCounters
    private let rings: RingList
    /// When this process started (ms since the epoch): the `boot` of its segment names.
    public let boot: Int64

    /// Takes the spool (creating it; refusing one another process uses) and prepares the services.
    /// - Parameter store: where segments are shipped; nil keeps them in the spool.
    public init(configuration: ExposureConfiguration, store: (any ObjectStore)?, registry: MetricsRegistry, logger: Logger)
        throws(ExposureError)
    {
        try configuration.validate()
        self.configuration = configuration
        let metrics = ExposureMetrics(registry: registry)
        let spool = try ExposureSpool(root: configuration.spoolDirectory, limit: configuration.spoolLimitBytes)
        let counters = AssignmentCounters()
        self.metrics = metrics
        self.spool = spool
        self.counters = counters
        let rings = RingList()
        self.rings = rings
        let boot = ExposureRecorder.nowMilliseconds()
        self.boot = boot
        var writerLogger = logger
        writerLogger[metadataKey: "component"] = "exposure-writer"
        writer = ExposureWriter(
            engine: SegmentWriter(
                configuration: configuration, spool: spool, metrics: metrics, counters: counters, rings: { rings.all() },
                boot: boot, logger: writerLogger))
        var uploadLogger = logger
        uploadLogger[metadataKey: "component"] = "exposure-uploader"
        uploader = store.map {
            ExposureUploader(store: $0, spool: spool, metrics: metrics, configuration: configuration, logger: uploadLogger)
        }
        registry.set(metrics.spoolBytes, Double(spool.bytes))
    }

    /// The services: the uploader (if any) and the writer, in the order to list them before the
    /// HTTP server (a `ServiceGroup` stops services in reverse order: HTTP, writer, uploader).
    public var services: [any Service] {
        (uploader.map { [$0] } ?? []) + [writer]
    }

    /// A recorder for one worker thread, with its own buffer (`bufferBytes`). Drops are counted in
    /// `shard`, the worker's metrics shard.
    public func makeRecorder(shard: MetricsShard) -> ExposureRecorder {
        let ring = ExposureRing(bytes: configuration.bufferBytes)
        rings.add(ring)
        return ExposureRecorder(
            ring: ring, shard: shard, droppedFull: metrics.dropped[.bufferFull]!, logDefaults: configuration.logDefaults)
    }

    /// Sets the gauges computed at scrape time, and appends the sample-ratio families
    /// (`allot_assignments_total`, `allot_assignment_expected_share`): call when `/metrics` is
    /// rendered, after the registry.
    public func renderAssignments(into output: inout [UInt8]) {
        counters.render(into: &output)
    }

    /// Sets the gauges that depend on the time of the scrape (call before rendering the registry).
    public func updateGauges() {
        uploader?.updateAge(nowMilliseconds: ExposureRecorder.nowMilliseconds())
        metrics.registry.set(metrics.spoolBytes, Double(spool.bytes))
    }

    /// For tests: the split exposures counted for a variant.
    public func assignmentCount(experiment: String, variant: String) -> UInt64? {
        counters.count(experiment: experiment, variant: variant)
    }
}

/// The workers' rings, for the writer to drain.
final class RingList: Sendable {
    private let rings = Mutex<[ExposureRing]>([])

    func add(_ ring: ExposureRing) { rings.withLock { $0.append(ring) } }

    func all() -> [ExposureRing] { rings.withLock { $0 } }
}
