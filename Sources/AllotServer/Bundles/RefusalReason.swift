public import AllotCore
public import AllotStore

/// Why a manifest, a bundle or the server's own state was refused: the `reason` label of
/// `allot_bundle_verify_failures_total` and of the log line. Built from the typed error codes
/// (`BundleError.Code`, `ManifestError`) or one of the server's own reasons below, never from
/// free text, so every label a dashboard can see is listed here or in those codes.
public struct RefusalReason: Hashable, Sendable, CustomStringConvertible {
    /// The label, such as `bad_signature` or `bundle_rejected_too_large`.
    public let rawValue: String

    private init(label: String) {
        rawValue = label
    }

    public var description: String { rawValue }

    /// A bundle's own error code (`hash_mismatch`, `untrusted_key`, `io`...).
    public init(_ code: BundleError.Code) {
        rawValue = code.rawValue
    }

    /// A manifest's error code; for `bundle_rejected`, with the bundle's code appended
    /// (`bundle_rejected_too_large`).
    public init(_ error: ManifestError) {
        var label = error.code.rawValue
        if let bundleError = error.bundleError { label += "_" + bundleError.code.rawValue }
        rawValue = label
    }

    /// A manifest names another bundle under the version already served.
    public static let versionConflict = RefusalReason(label: "version_conflict")
    /// A manifest names a version older than the one served or the rollback floor.
    public static let olderVersion = RefusalReason(label: "older_version")
    /// A cached bundle's file name disagrees with its content (planted or misplaced).
    public static let misnamed = RefusalReason(label: "misnamed")
    /// The cache folder cannot be written: the bundle is held in memory instead.
    public static let cacheWriteFailed = RefusalReason(label: "cache_write_failed")
    /// The persisted rollback floor cannot be read.
    public static let unreadableFloor = RefusalReason(label: "unreadable_floor")
    /// The rollback floor cannot be persisted.
    public static let floorWriteFailed = RefusalReason(label: "floor_write_failed")
}
