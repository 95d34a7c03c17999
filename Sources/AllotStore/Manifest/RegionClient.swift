public import AllotCore
public import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Reads one region's store the way an edge server should: conditional GET of the manifest,
/// verification, then the bundle object, checked against the manifest.
///
/// ```swift
/// let client = RegionClient(store: store, verifier: ManifestVerifier(trustedKeys: keys), logger: logger)
/// switch try await client.fetchManifest(ifNoneMatch: lastETag) {
/// case .notModified: break                                   // nothing new
/// case .manifest(let manifest, let etag):
///     guard manifest.version > servingVersion else { break }  // never go backwards
///     let bundle = try await client.fetchBundle(manifest)     // size, hash, header, signature checked
///     // decompress bundle.bytes with BundleEnvelope.decompress, map, swap; remember etag
/// }
/// ```
public struct RegionClient: Sendable {
    public let store: any ObjectStore
    public let verifier: ManifestVerifier
    let logger: Logger

    public init(store: any ObjectStore, verifier: ManifestVerifier, logger: Logger) {
        self.store = store
        self.verifier = verifier
        self.logger = logger
    }

    /// The outcome of a manifest poll.
    public enum ManifestFetch: Sendable, Equatable {
        /// The manifest still has the tag given.
        case notModified
        /// A verified manifest and its tag (pass it as `ifNoneMatch` next time).
        case manifest(Manifest, etag: ETag)
    }

    /// Fetches and verifies the region's manifest. With `ifNoneMatch`, an unchanged manifest
    /// costs one small conditional request and answers `.notModified`. A manifest over
    /// ``Manifest/maxEncodedBytes`` is refused (`tooLarge`) without being downloaded.
    /// An expired manifest (at `now`, unix seconds; the system clock by default) is refused.
    public func fetchManifest(ifNoneMatch: ETag? = nil, now: Int64? = nil) async throws(FetchError) -> ManifestFetch {
        let result: ReadResult
        do {
            result = try await store.get(StoreLayout.manifestKey, ifNoneMatch: ifNoneMatch, maxBytes: Manifest.maxEncodedBytes)
        } catch  where error.code == .tooLarge {
            throw .manifest(ManifestError(.tooLarge, "the manifest is too large: \(error.message)"))
        } catch {
            throw .store(error)
        }
        switch result {
        case .notModified:
            return .notModified
        case .object(let object):
            do {
                let manifest = try verifier.verifyManifest(object.bytes, now: now ?? Int64(time(nil)))
                logger.debug("manifest verified", metadata: ["version": "\(manifest.version)", "object": "\(manifest.object)"])
                return .manifest(manifest, etag: object.etag)
            } catch {
                throw .manifest(error)
            }
        }
    }

    /// Fetches the bundle a verified manifest names and checks it (size, hash, header, signature,
    /// version and key id). The payload is not decompressed. An object larger than the manifest
    /// says is refused (`sizeMismatch`) without being downloaded.
    public func fetchBundle(_ manifest: Manifest) async throws(FetchError) -> FetchedBundle {
        let object: StoredObject
        do {
            object = try await store.get(manifest.object, maxBytes: manifest.size)
        } catch  where error.code == .tooLarge {
            throw .manifest(
                ManifestError(
                    .sizeMismatch,
                    "the object \(manifest.object) is larger than the \(manifest.size) bytes the manifest says: \(error.message)"))
        } catch {
            throw .store(error)
        }
        do {
            let header = try verifier.verifyBundle(object.bytes, against: manifest)
            return FetchedBundle(manifest: manifest, header: header, bytes: object.bytes)
        } catch {
            throw .manifest(error)
        }
    }
}

/// A bundle envelope fetched and checked against its manifest.
public struct FetchedBundle: Sendable {
    public let manifest: Manifest
    /// The parsed and signature-checked envelope header.
    public let header: BundleHeader
    /// The whole envelope file.
    public let bytes: [UInt8]
}

/// Why a region could not provide a verified manifest or bundle.
public enum FetchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The store failed (unreachable, 403, 404, ...).
    case store(StoreError)
    /// The manifest or the bundle was rejected.
    case manifest(ManifestError)

    /// A stable label for metrics: `store_<code>` or `manifest_<code>`.
    public var code: String {
        switch self {
        case .store(let error): return "store_\(error.code.rawValue)"
        case .manifest(let error): return "manifest_\(error.code.rawValue)"
        }
    }

    public var description: String {
        switch self {
        case .store(let error): return error.description
        case .manifest(let error): return error.description
        }
    }
}
