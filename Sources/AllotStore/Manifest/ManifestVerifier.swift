public import AllotCore

/// Checks manifests and the bundles they point at, with no I/O. The edge server's poller uses it
/// (through ``RegionClient``) in this order: manifest bytes → ``verifyManifest(_:)`` → fetch
/// `manifest.object` → ``verifyBundle(_:against:)`` → decompress and map.
public struct ManifestVerifier: Sendable {
    /// Keys whose manifests and bundles are accepted (several, for rotation).
    public let trustedKeys: [PublicKey]
    /// Size limits for the bundle a manifest may declare.
    public let limits: BundleLimits

    public init(trustedKeys: [PublicKey], limits: BundleLimits = .default) {
        self.trustedKeys = trustedKeys
        self.limits = limits
    }

    /// Decodes a manifest, checks its format, its signature against the trusted keys and that the
    /// object it declares is within the limits. Returns the manifest, now trusted.
    /// A format-2 manifest whose signed `expires` is not after `now` (unix seconds; nil: no check)
    /// is refused as `expired`.
    public func verifyManifest(_ bytes: [UInt8], now: Int64? = nil) throws(ManifestError) -> Manifest {
        let manifest = try Manifest.decode(bytes)
        try manifest.verifySignature(trustedKeys: trustedKeys)
        if let now, let freshness = manifest.freshness, manifest.isExpired(at: now) {
            throw ManifestError(
                .expired,
                "the manifest expired at \(RFC3339.format(freshness.expires)) (signed \(RFC3339.format(freshness.signedAt))): the region is frozen or replayed, or its publisher stopped refreshing it"
            )
        }
        let largest = limits.maxCompressedBytes + BundleHeader.minimumEnvelopeLength
        guard manifest.size <= largest else {
            throw ManifestError(.tooLarge, "the manifest declares a \(manifest.size)-byte bundle, more than the \(largest) allowed")
        }
        guard manifest.size >= BundleHeader.minimumEnvelopeLength else {
            throw ManifestError(.malformed, "the manifest declares a \(manifest.size)-byte bundle, shorter than a bundle header")
        }
        return manifest
    }

    /// Checks a fetched object against a verified manifest: size, BLAKE2b-256, then the envelope
    /// header and its signature (trusted keys), and that the header's version and key id are the
    /// manifest's. Returns the header; the payload is not decompressed here.
    public func verifyBundle(_ bytes: [UInt8], against manifest: Manifest) throws(ManifestError) -> BundleHeader {
        guard bytes.count == manifest.size else {
            throw ManifestError(.sizeMismatch, "the object \(manifest.object) is \(bytes.count) bytes, the manifest says \(manifest.size)")
        }
        guard Blake2b.hash256(bytes) == manifest.blake2b else {
            throw ManifestError(.hashMismatch, "the object \(manifest.object) does not have the BLAKE2b-256 the manifest states")
        }
        let header: BundleHeader
        do {
            header = try BundleEnvelope.verifiedHeader(bytes, trustedKeys: trustedKeys, limits: limits)
        } catch {
            throw ManifestError(.bundleRejected, "the object \(manifest.object) is not a valid bundle: \(error)", bundleError: error)
        }
        guard header.version == manifest.version else {
            throw ManifestError(.bundleMismatch, "the bundle's version is \(header.version), the manifest says \(manifest.version)")
        }
        guard header.keyID == manifest.keyID else {
            throw ManifestError(.bundleMismatch, "the bundle is signed by key \(header.keyID), the manifest by \(manifest.keyID)")
        }
        return header
    }
}
