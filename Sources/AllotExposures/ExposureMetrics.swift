public import AllotHTTP
import AllotStore

/// The exposure log's metrics (docs/server.md, "Exposure log").
///
/// | metric | labels |
/// | --- | --- |
/// | `allot_exposure_events_total` | events written into segments |
/// | `allot_exposure_events_dropped_total` | `reason`: `buffer_full`, `spool_full`, `write_failed` |
/// | `allot_exposure_segments_closed_total` | segments finished and waiting to ship |
/// | `allot_exposure_segments_shipped_total`, `allot_exposure_shipped_bytes_total` | confirmed by the store |
/// | `allot_exposure_upload_failures_total` | `reason`: the store's error code |
/// | `allot_exposure_segments_recovered_total`, `allot_exposure_records_recovered_total` | left open by a killed process |
/// | `allot_exposure_files_rejected_total` | files in the spool that are not segments |
/// | `allot_exposure_spool_bytes`, `allot_exposure_spool_limit_bytes` (gauges) | |
/// | `allot_exposure_unshipped_segments` (gauge) | closed, not yet shipped |
/// | `allot_exposure_oldest_unshipped_segment_age_seconds` (gauge, at scrape) | 0 when none |
///
/// The worker threads count `buffer_full` drops in their own shards; the writer thread has its own
/// shard; the uploader uses the shared one.
public final class ExposureMetrics: Sendable {
    /// Why events were not logged.
    public enum DropReason: String, Sendable, CaseIterable {
        /// A worker's buffer was full: the writer is behind (CPU saturation).
        case bufferFull = "buffer_full"
        /// The spool is at its limit: the store is not taking segments fast enough (or at all).
        case spoolFull = "spool_full"
        /// The spool's disk failed (full, read-only, gone).
        case writeFailed = "write_failed"
    }

    public let registry: MetricsRegistry
    let events: Counter
    let dropped: [DropReason: Counter]
    let segmentsClosed: Counter
    let segmentsShipped: Counter
    let bytesShipped: Counter
    let segmentsRecovered: Counter
    let recordsRecovered: Counter
    let filesRejected: Counter
    let rejectedDeleted: Counter
    let spoolBytes: Gauge
    let spoolLimit: Gauge
    let unshipped: Gauge
    let oldestAge: Gauge

    public init(registry: MetricsRegistry) {
        self.registry = registry
        events = registry.counter("allot_exposure_events_total", help: "Exposure events written into segments.")
        var dropped: [DropReason: Counter] = [:]
        for reason in DropReason.allCases {
            dropped[reason] = registry.counter(
                "allot_exposure_events_dropped_total", help: "Exposure events not logged, by reason.", labels: [("reason", reason.rawValue)]
            )
        }
        self.dropped = dropped
        segmentsClosed = registry.counter("allot_exposure_segments_closed_total", help: "Segments finished and waiting to be shipped.")
        segmentsShipped = registry.counter("allot_exposure_segments_shipped_total", help: "Segments the exposure store confirmed.")
        bytesShipped = registry.counter("allot_exposure_shipped_bytes_total", help: "Bytes of segments the exposure store confirmed.")
        segmentsRecovered = registry.counter(
            "allot_exposure_segments_recovered_total", help: "Segments left open by a stopped process whose complete records were kept.")
        recordsRecovered = registry.counter("allot_exposure_records_recovered_total", help: "Records kept from segments left open.")
        filesRejected = registry.counter(
            "allot_exposure_files_rejected_total",
            help: "Files in the spool that are not valid segments, or segments the store refuses (moved to rejected/).")
        rejectedDeleted = registry.counter(
            "allot_exposure_rejected_files_deleted_total", help: "Oldest files deleted from rejected/ to keep it under its bound.")
        spoolBytes = registry.gauge("allot_exposure_spool_bytes", help: "Bytes of segments in the spool (open and waiting).")
        spoolLimit = registry.gauge("allot_exposure_spool_limit_bytes", help: "The spool's limit in bytes.")
        unshipped = registry.gauge("allot_exposure_unshipped_segments", help: "Closed segments waiting to be shipped.")
        oldestAge = registry.gauge(
            "allot_exposure_oldest_unshipped_segment_age_seconds",
            help: "Seconds since the oldest closed segment still waiting was closed (0 when none waits).")
        for reason in Self.uploadFailureReasons { _ = uploadFailureCounter(reason) }
    }

    /// The upload failure counter for a store error code.
    func uploadFailureCounter(_ code: String) -> Counter {
        registry.counter(
            "allot_exposure_upload_failures_total", help: "Failed segment uploads, by the store's error code.", labels: [("reason", code)])
    }

    /// The reasons failures are counted under: the store's error codes, `read_failed` for a
    /// segment the spool could not read, and `unconfirmed` (a bounded set).
    static let uploadFailureReasons = StoreError.Code.allCases.map(\.rawValue) + ["read_failed", unconfirmed]

    /// The reason for a put the store acknowledged but whose object a HEAD did not find as written.
    static let unconfirmed = "unconfirmed"

    /// Events dropped so far for `reason` (all shards).
    public func droppedCount(_ reason: DropReason) -> UInt64 { registry.value(of: dropped[reason]!) }

    /// Events written so far.
    public var eventCount: UInt64 { registry.value(of: events) }

    /// Segments shipped so far.
    public var shippedCount: UInt64 { registry.value(of: segmentsShipped) }
}
