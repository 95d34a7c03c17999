public import AllotCore

/// A verified, mapped bundle as the server serves it: the bundle, where it came from, and the
/// per-bundle tables the routes use.
///
/// Immutable and shared by every worker thread. A request holds one reference for its whole
/// duration, so a swap never changes the bundle under a request; when the last reference goes,
/// the `LoadedBundle` and its `MappedBytes` are released and the payload is unmapped.
public final class ServedBundle: Sendable {
    /// The bundle.
    public let bundle: LoadedBundle
    /// BLAKE2b-256 of the whole envelope file: the identity manifests name.
    public let envelopeHash: [UInt8]
    /// Where it came from: a store's URL, or `cache` for the last-known-good bundle read at start.
    public let source: String
    /// When this server installed it (unix seconds).
    public let installedAt: Int64
    let catalog: BundleCatalog

    /// The bundle version.
    public var version: UInt64 { bundle.version }

    public init(bundle: LoadedBundle, envelopeHash: [UInt8], source: String, installedAt: Int64, targetingKeyUnit: String) {
        self.bundle = bundle
        self.envelopeHash = envelopeHash
        self.source = source
        self.installedAt = installedAt
        self.catalog = BundleCatalog(bundle, targetingKeyUnit: targetingKeyUnit)
    }

    /// Whether `manifestHash` (a manifest's `blake2b`) names this very envelope.
    public func isEnvelope(_ manifestHash: [UInt8]) -> Bool { envelopeHash == manifestHash }
}
