import AllotCore

/// What `publish` did, per region. Encodable as the `--json` output.
public struct PublishReport: Sendable, Codable, Equatable {
    /// The bundle version published.
    public let version: UInt64
    /// Its content-addressed key.
    public let object: String
    /// The envelope's size in bytes.
    public let size: Int
    /// BLAKE2b-256 of the envelope, hex.
    public let blake2b: String
    /// One entry per store, in the order given.
    public let regions: [RegionPublishResult]

    /// Every region now points at this bundle.
    public var succeeded: Bool { regions.allSatisfy(\.succeeded) }

    /// The exit status for scripts: 0 every region current, 2 some region failed (rerunning may
    /// help), 3 none failed but some refused (a newer or conflicting version is there).
    public var exitCode: Int32 {
        if succeeded { return 0 }
        if regions.contains(where: { $0.manifest == .failed || $0.object == .failed || ($0.manifest == .notAttempted) }) { return 2 }
        return 3
    }

    /// Human-readable lines, one per region, then a summary.
    public var text: String {
        var lines = ["bundle version \(version) → \(object) (\(size) bytes)"]
        let width = regions.map(\.store.count).max() ?? 0
        for region in regions {
            lines.append(
                "  " + region.store + String(repeating: " ", count: width - region.store.count) + "  " + region.summary(publishing: version)
            )
        }
        let ok = regions.filter(\.succeeded).count
        lines.append(
            succeeded
                ? "published to \(ok) of \(Plural.count(regions.count, "region"))"
                : "NOT published everywhere: \(ok) of \(Plural.count(regions.count, "region")) current")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// What happened in one region.
public struct RegionPublishResult: Sendable, Codable, Equatable {
    public enum ObjectOutcome: String, Sendable, Codable {
        /// This publish uploaded the bundle object (and confirmed it).
        case uploaded
        /// An identical object was already there (size and hash checked).
        case alreadyPresent = "already_present"
        /// Not tried (the region was refused or unreadable first).
        case notAttempted = "not_attempted"
        case failed
    }

    public enum ManifestOutcome: String, Sendable, Codable {
        /// The region had no manifest; one was created (`If-None-Match: *`).
        case created
        /// The manifest moved from an older version (`If-Match`).
        case moved
        /// The region held a manifest that does not verify with a trusted key (garbage, forged,
        /// tampered): it was never used for ordering and was replaced (`If-Match`).
        case repaired
        /// `--refresh`: the current manifest was re-signed with a new expiry (`If-Match`).
        case refreshed
        /// The manifest already named this bundle: nothing to do.
        case alreadyCurrent = "already_current"
        /// The region has a newer version, or the same version with another bundle: untouched.
        case refused
        /// Not tried, because the object is not confirmed there (or, with all-or-nothing, elsewhere).
        case notAttempted = "not_attempted"
        case failed
    }

    /// The store URL.
    public let store: String
    public var object: ObjectOutcome
    public var manifest: ManifestOutcome
    /// The version the manifest named before, if any.
    public var previousVersion: UInt64?
    /// Why it failed, was refused or not attempted.
    public var reason: String?
    /// The stable code of the error behind `reason`, if any (`StoreError` or `ManifestError` codes).
    public var errorCode: String?

    public init(
        store: String, object: ObjectOutcome, manifest: ManifestOutcome, previousVersion: UInt64? = nil, reason: String? = nil,
        errorCode: String? = nil
    ) {
        self.store = store
        self.object = object
        self.manifest = manifest
        self.previousVersion = previousVersion
        self.reason = reason
        self.errorCode = errorCode
    }

    /// The manifest write failed with `error`.
    mutating func manifestWriteFailed(_ error: StoreError) {
        manifest = .failed
        reason = "the manifest could not be written: \(error.detail)"
        errorCode = error.code.rawValue
    }

    /// Every manifest write lost its `If-Match` race, `attempts` times.
    mutating func manifestContended(attempts: Int) {
        manifest = .failed
        reason = "the manifest kept changing under concurrent publishers (\(attempts) attempts); run again"
        errorCode = "contention"
    }

    /// The region points at the published bundle.
    public var succeeded: Bool {
        manifest == .created || manifest == .moved || manifest == .alreadyCurrent || manifest == .repaired || manifest == .refreshed
    }

    /// One line: `uploaded, manifest moved 4 → 5`, `already current`, `FAILED: ...`.
    public func summary(publishing version: UInt64) -> String {
        let objectText: String
        switch object {
        case .uploaded: objectText = "uploaded"
        case .alreadyPresent: objectText = "object already present"
        case .notAttempted: objectText = "object not uploaded"
        case .failed: objectText = "upload FAILED"
        }
        switch manifest {
        case .created: return "\(objectText), manifest created at \(version)"
        case .moved: return "\(objectText), manifest moved \(previousVersion.map(String.init) ?? "?") → \(version)"
        case .alreadyCurrent: return "\(objectText), manifest already at \(version)"
        case .refreshed: return "manifest at \(previousVersion.map(String.init) ?? "?") re-signed with a new expiry"
        case .repaired: return "\(objectText), manifest REPAIRED at \(version) (\(reason ?? "it did not verify"))"
        case .refused: return "REFUSED: \(reason ?? "")"
        case .notAttempted: return "\(objectText), manifest NOT moved: \(reason ?? "")"
        case .failed: return "FAILED: \(reason ?? "")"
        }
    }
}
