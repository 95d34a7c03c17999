public import AllotCore
public import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Publishes a bundle to every region's store (see `docs/storage.md`, "Publish protocol").
///
/// 1. Check the bundle (header, signature by the signing key) and sign its manifest.
/// 2. In every region at once: read the manifest (refuse early if it is newer or conflicting),
///    then make sure the content-addressed object is there: upload it with `If-None-Match: *`
///    and confirm with HEAD, or, if it exists, check its size and BLAKE2b-256.
/// 3. In every region whose object is confirmed: read the manifest with its ETag, decide, and
///    write it conditionally (`If-None-Match: *` to create, `If-Match: <etag>` to replace). A
///    failed precondition means another publisher moved it: read again and decide again.
///
/// A manifest never moves backwards, never to the same version with other content, and never
/// points at an object that was not confirmed in that region. Every region ends old or new.
public struct Publisher: Sendable {
    public struct Options: Sendable, Equatable {
        /// Move no manifest unless the object is confirmed in every region (and no region refuses).
        public var requireAllRegions: Bool
        /// Reads and conditional writes of one manifest before giving up on a region that keeps changing.
        public var maxManifestAttempts: Int
        /// Seconds from signing until the manifest expires (servers refuse it after): the longest a
        /// region can be frozen without servers noticing. Refresh before it runs out.
        public var expiresIn: Int64

        /// Three days: a daily heartbeat (`allot publish --refresh`) may fail twice before servers refuse.
        public static let defaultExpiresIn: Int64 = 3 * 86_400

        public init(requireAllRegions: Bool = false, maxManifestAttempts: Int = 5, expiresIn: Int64 = Options.defaultExpiresIn) {
            self.requireAllRegions = requireAllRegions
            self.maxManifestAttempts = max(1, maxManifestAttempts)
            self.expiresIn = max(1, expiresIn)
        }
    }

    public let stores: [any ObjectStore]
    let key: SigningKey
    /// Keys whose manifests are believed for ordering: the ones given and the signing key.
    let trustedKeys: [PublicKey]
    let options: Options
    let logger: Logger

    /// - Parameter trustedKeys: the keys the servers trust (rotation); the signing key's public half
    ///   is always added. A region's manifest that does not verify with one of them is never used
    ///   for ordering: it is repaired (replaced with `If-Match`) and logged as an error.
    public init(stores: [any ObjectStore], key: SigningKey, trustedKeys: [PublicKey] = [], options: Options = Options(), logger: Logger) {
        self.stores = stores
        self.key = key
        self.trustedKeys = trustedKeys.contains { $0.id == key.id } ? trustedKeys : trustedKeys + [key.publicKey]
        self.options = options
        self.logger = logger
    }

    /// Publishes an envelope. Throws only if the bundle itself cannot be published (malformed,
    /// or not signed by this key), before any store is touched; region failures are in the report.
    /// `now` (unix seconds; nil: the system clock) is the manifest's `published_at` and `signed_at`; it expires
    /// `options.expiresIn` later.
    public func publish(envelope: [UInt8], now: Int64? = nil) async throws(ManifestError) -> PublishReport {
        let now = now ?? Int64(time(nil))
        let freshness = Manifest.Freshness(publishedAt: now, signedAt: now, expires: now + options.expiresIn)
        let manifest = try Manifest.describing(envelope: envelope, key: key, freshness: freshness)
        let encoded = manifest.encoded()
        logger.info(
            "publishing", metadata: ["version": "\(manifest.version)", "object": "\(manifest.object)", "regions": "\(stores.count)"])

        // Phase 1: the object everywhere.
        var results = await forEachStore { _, store in
            await prepare(store, manifest: manifest, envelope: envelope)
        }

        // Phase 2: the manifests.
        let blocked = results.filter { $0.manifest != .notAttempted || $0.object == .failed }
        if options.requireAllRegions, let first = blocked.first {
            let reason = "all-or-nothing: \(first.store) is not ready (\(first.reason ?? first.manifest.rawValue))"
            for index in results.indices where results[index].manifest == .notAttempted && results[index].object != .failed {
                results[index].reason = reason
            }
            return PublishReport(
                version: manifest.version, object: manifest.object, size: manifest.size, blake2b: Hex.encode(manifest.blake2b),
                regions: results)
        }
        let ready = results
        results = await forEachStore { index, store in
            guard ready[index].manifest == .notAttempted, ready[index].object != .failed else { return ready[index] }
            var result = ready[index]
            await moveManifest(store, to: manifest, encoded: encoded, result: &result)
            return result
        }
        for result in results {
            logger.info(
                "region \(result.succeeded ? "current" : "not current")",
                metadata: ["store": "\(result.store)", "object": "\(result.object.rawValue)", "manifest": "\(result.manifest.rawValue)"])
        }
        return PublishReport(
            version: manifest.version, object: manifest.object, size: manifest.size, blake2b: Hex.encode(manifest.blake2b), regions: results
        )
    }

    /// The heartbeat (`allot publish --refresh`): in every region, re-signs the current manifest
    /// (verified with the trusted keys) with `signed_at = now` and a new expiry, keeping its
    /// bundle and `published_at`, written with `If-Match`. A region with no manifest, or one that
    /// does not verify, fails (a refresh never repairs: that needs a bundle). The report's version
    /// and object are the newest region's.
    public func refresh(now: Int64? = nil) async -> PublishReport {
        let now = now ?? Int64(time(nil))
        var refreshed: [Manifest?] = Array(repeating: nil, count: stores.count)
        let results = await withTaskGroup(of: (Int, RegionPublishResult, Manifest?).self) { group in
            for (index, store) in stores.enumerated() {
                group.addTask {
                    var result = RegionPublishResult(store: store.location.description, object: .alreadyPresent, manifest: .notAttempted)
                    let written = await refreshManifest(store, now: now, result: &result)
                    return (index, result, written)
                }
            }
            var results = [RegionPublishResult?](repeating: nil, count: stores.count)
            for await (index, result, written) in group {
                results[index] = result
                refreshed[index] = written
            }
            return results.map { $0! }
        }
        let newest = refreshed.compactMap { $0 }.max { $0.version < $1.version }
        for result in results {
            logger.info(
                "region \(result.succeeded ? "refreshed" : "NOT refreshed")",
                metadata: ["store": "\(result.store)", "manifest": "\(result.manifest.rawValue)", "reason": "\(result.reason ?? "")"])
        }
        return PublishReport(
            version: newest?.version ?? 0, object: newest?.object ?? "-", size: newest?.size ?? 0,
            blake2b: newest.map { Hex.encode($0.blake2b) } ?? "-", regions: results)
    }

    private func refreshManifest(_ store: any ObjectStore, now: Int64, result: inout RegionPublishResult) async -> Manifest? {
        for attempt in 1...options.maxManifestAttempts {
            let current: CurrentManifest
            switch await readManifest(store) {
            case .failure(let failure):
                result.manifest = .failed
                result.reason = failure.reason
                result.errorCode = failure.code
                return nil
            case .success(.none):
                result.manifest = .failed
                result.reason = "the region has no manifest to refresh: publish a bundle"
                result.errorCode = "not_found"
                return nil
            case .success(.unverifiable(_, let reason)):
                result.manifest = .failed
                result.reason = "the region's manifest does not verify (\(reason)): publish a bundle to repair it"
                result.errorCode = "unverifiable"
                return nil
            case .success(.verified(let value)):
                current = value
            }
            result.previousVersion = current.manifest.version
            let freshness = Manifest.Freshness(
                publishedAt: current.manifest.freshness?.publishedAt ?? now, signedAt: now, expires: now + options.expiresIn)
            let manifest = current.manifest.resigned(freshness: freshness, key: key)
            do {
                _ = try await store.put(StoreLayout.manifestKey, bytes: manifest.encoded(), condition: .ifMatch(current.etag))
                result.manifest = .refreshed
                return manifest
            } catch  where error.code == .preconditionFailed || error.code == .notFound {
                logger.notice(
                    "manifest changed while refreshing; reading it again",
                    metadata: ["store": "\(store.location)", "attempt": "\(attempt)"])
                continue
            } catch {
                result.manifestWriteFailed(error)
                return nil
            }
        }
        result.manifestContended(attempts: options.maxManifestAttempts)
        return nil
    }

    /// Runs `body` for every store concurrently; results in store order.
    private func forEachStore(_ body: @escaping @Sendable (Int, any ObjectStore) async -> RegionPublishResult) async
        -> [RegionPublishResult]
    {
        await withTaskGroup(of: (Int, RegionPublishResult).self) { group in
            for (index, store) in stores.enumerated() {
                group.addTask { (index, await body(index, store)) }
            }
            var results = [RegionPublishResult?](repeating: nil, count: stores.count)
            for await (index, result) in group { results[index] = result }
            return results.map { $0! }
        }
    }

    // MARK: Phase 1

    private func prepare(_ store: any ObjectStore, manifest: Manifest, envelope: [UInt8]) async -> RegionPublishResult {
        var result = RegionPublishResult(store: store.location.description, object: .notAttempted, manifest: .notAttempted)
        // Refuse early, before uploading, if the region is ahead or conflicting.
        switch await readManifest(store) {
        case .failure(let failure):
            result.manifest = .failed
            result.reason = failure.reason
            result.errorCode = failure.code
            return result
        case .success(let existing):
            if case .verified(let current) = existing {
                result.previousVersion = current.manifest.version
                if case .refuse(let reason) = judge(current.manifest, against: manifest) {
                    result.manifest = .refused
                    result.reason = reason
                    return result
                }
            }
        }
        do {
            result.object = try await ensureObject(store, manifest: manifest, envelope: envelope)
        } catch {
            result.object = .failed
            result.reason = "the bundle object could not be stored: \(error.reason)"
            result.errorCode = error.code
        }
        return result
    }

    private func ensureObject(_ store: any ObjectStore, manifest: Manifest, envelope: [UInt8]) async throws(PublishFailure)
        -> RegionPublishResult.ObjectOutcome
    {
        do {
            if try await store.head(manifest.object) == nil {
                do {
                    _ = try await store.put(manifest.object, bytes: envelope, condition: .ifAbsent)
                    // Confirm: the object must now be there with the right size.
                    guard let info = try await store.head(manifest.object) else {
                        throw PublishFailure("the upload succeeded but the object is not there when checked", code: "not_confirmed")
                    }
                    guard info.size == manifest.size else {
                        throw PublishFailure("the uploaded object is \(info.size) bytes, expected \(manifest.size)", code: "not_confirmed")
                    }
                    logger.debug("object uploaded", metadata: ["store": "\(store.location)"])
                    return .uploaded
                } catch let error as StoreError where error.code == .preconditionFailed {
                    // Someone uploaded it in between: check what they put there.
                    logger.debug("object appeared concurrently", metadata: ["store": "\(store.location)"])
                }
            }
            guard let existing = try await readExisting(store, manifest: manifest) else {
                throw PublishFailure(
                    "\(manifest.object) already exists and is larger than the \(manifest.size) bytes expected: the object is damaged; delete it and publish again",
                    code: "object_mismatch")
            }
            guard existing.bytes.count == manifest.size else {
                throw PublishFailure(
                    "\(manifest.object) already exists with \(existing.bytes.count) bytes instead of \(manifest.size): the object is damaged; delete it and publish again",
                    code: "object_mismatch")
            }
            guard Blake2b.hash256(existing.bytes) == manifest.blake2b else {
                throw PublishFailure(
                    "\(manifest.object) already exists with other content (its BLAKE2b-256 differs): the object is damaged; delete it and publish again",
                    code: "object_mismatch")
            }
            return .alreadyPresent
        } catch let failure as PublishFailure {
            throw failure
        } catch let error as StoreError {
            throw PublishFailure(error.detail, code: error.code.rawValue)
        } catch {
            throw PublishFailure("\(error)", code: "unknown")
        }
    }

    /// The existing object, read up to the size the manifest states; nil if it is larger.
    private func readExisting(_ store: any ObjectStore, manifest: Manifest) async throws(StoreError) -> StoredObject? {
        do {
            return try await store.get(manifest.object, maxBytes: manifest.size)
        } catch  where error.code == .tooLarge {
            return nil
        }
    }

    // MARK: Phase 2

    private func moveManifest(_ store: any ObjectStore, to manifest: Manifest, encoded: [UInt8], result: inout RegionPublishResult) async {
        for attempt in 1...options.maxManifestAttempts {
            let current: CurrentManifest?
            var repairing: (etag: ETag, reason: String)?
            switch await readManifest(store) {
            case .failure(let failure):
                result.manifest = .failed
                result.reason = failure.reason
                result.errorCode = failure.code
                return
            case .success(.none):
                current = nil
            case .success(.verified(let value)):
                current = value
            case .success(.unverifiable(let etag, let reason)):
                current = nil
                repairing = (etag, reason)
            }
            let condition: WriteCondition
            if let repairing {
                result.previousVersion = nil
                condition = .ifMatch(repairing.etag)
            } else if let current {
                result.previousVersion = current.manifest.version
                switch judge(current.manifest, against: manifest) {
                case .refuse(let reason):
                    result.manifest = .refused
                    result.reason = reason
                    return
                case .current:
                    result.manifest = .alreadyCurrent
                    return
                case .move:
                    condition = .ifMatch(current.etag)
                }
            } else {
                result.previousVersion = nil
                condition = .ifAbsent
            }
            do {
                _ = try await store.put(StoreLayout.manifestKey, bytes: encoded, condition: condition)
                if let repairing {
                    result.manifest = .repaired
                    result.reason = "replaced an unverifiable manifest: \(repairing.reason)"
                    logger.error(
                        "REPAIRED a region holding an unverifiable manifest: it was never used for ordering and is now replaced",
                        metadata: ["store": "\(store.location)", "reason": "\(repairing.reason)", "version": "\(manifest.version)"])
                } else {
                    result.manifest = current == nil ? .created : .moved
                    result.reason = nil
                }
                return
            } catch  where error.code == .preconditionFailed || (error.code == .notFound && (current != nil || repairing != nil)) {
                logger.notice(
                    "manifest changed while publishing; reading it again",
                    metadata: ["store": "\(store.location)", "attempt": "\(attempt)"])
                continue
            } catch {
                result.manifestWriteFailed(error)
                return
            }
        }
        result.manifestContended(attempts: options.maxManifestAttempts)
    }

    // MARK: Shared

    struct CurrentManifest {
        let manifest: Manifest
        let etag: ETag
    }

    /// What a region holds at `manifest.json`.
    enum ExistingManifest {
        /// Nothing.
        case none
        /// A manifest signed by a trusted key: its version orders this publish.
        case verified(CurrentManifest)
        /// Something that does not verify (garbage, forged, tampered, an untrusted key): never
        /// used for ordering; replaced under `If-Match: etag`.
        case unverifiable(ETag, String)
    }

    /// The region's manifest, or why it cannot be read at all (the store failed, or the manifest
    /// is of a newer format this build must not overwrite).
    private func readManifest(_ store: any ObjectStore) async -> Result<ExistingManifest, PublishFailure> {
        let object: StoredObject?
        do {
            object = try await store.getIfPresent(StoreLayout.manifestKey, maxBytes: Manifest.maxEncodedBytes)
        } catch {
            return .failure(PublishFailure("cannot read the manifest: \(error.detail)", code: error.code.rawValue))
        }
        guard let object else { return .success(.none) }
        let current: Manifest
        do {
            current = try Manifest.decode(object.bytes)
            try current.verifySignature(trustedKeys: trustedKeys)
        } catch  where error.code == .unsupportedFormat {
            return .failure(
                PublishFailure(
                    "the existing manifest is of a format this build does not write (\(error)); refusing to overwrite it: upgrade allot",
                    code: "manifest_\(error.code.rawValue)"))
        } catch {
            logger.error(
                "the region's manifest does not verify with a trusted key: not used for ordering, it will be replaced",
                metadata: ["store": "\(store.location)", "error": "\(error)"])
            return .success(.unverifiable(object.etag, "\(error)"))
        }
        return .success(.verified(CurrentManifest(manifest: current, etag: object.etag)))
    }

    enum Judgement: Equatable {
        case move
        case current
        case refuse(String)
    }

    /// Whether a region at `current` may move to `new`.
    func judge(_ current: Manifest, against new: Manifest) -> Judgement {
        if current.version > new.version {
            return .refuse("the region is at version \(current.version), newer than \(new.version); a manifest never moves backwards")
        }
        if current.version == new.version {
            if current.describesSameBundle(as: new) { return .current }
            return .refuse(
                "the region is already at version \(new.version) with a different bundle (\(current.object)); a published version is never replaced: compile with a higher version"
            )
        }
        return .move
    }
}

/// A region-level failure while publishing.
struct PublishFailure: Error, CustomStringConvertible {
    let reason: String
    let code: String

    init(_ reason: String, code: String) {
        self.reason = reason
        self.code = code
    }

    var description: String { reason }
}
