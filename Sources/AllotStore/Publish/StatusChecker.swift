public import AllotCore
public import Logging

/// What `allot status` reports for one region.
public struct RegionStatus: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable {
        /// A readable manifest (verified if trusted keys were given) pointing at a present object.
        case published
        /// Reachable, but no manifest yet.
        case empty
        /// A manifest that does not decode or verify, or whose object is missing or the wrong size.
        case invalid
        /// The store could not be read.
        case unreachable
    }

    public let store: String
    public var state: State
    public var version: UInt64?
    public var object: String?
    public var size: Int?
    /// The bundle's created-at, unix seconds.
    public var createdAt: Int64?
    /// When the bundle was published and the manifest signed and expires (format 2), unix seconds.
    public var publishedAt: Int64?
    public var signedAt: Int64?
    public var expires: Int64?
    /// Seconds from `createdAt` to the time of the check.
    public var ageSeconds: Int64?
    public var keyID: String?
    /// `verified`, or `not checked` when no trusted key was given.
    public var signature: String?
    /// Whether the object the manifest names exists with the declared size and BLAKE2b-256 (and,
    /// with trusted keys, is a bundle they sign, of the manifest's version).
    public var objectPresent: Bool?
    /// What went wrong, for `invalid` and `unreachable`.
    public var error: String?

    public var reachable: Bool { state != .unreachable }

    public init(store: String, state: State) {
        self.store = store
        self.state = state
    }
}

/// The regions side by side.
public struct StatusReport: Sendable, Codable, Equatable {
    public let regions: [RegionStatus]
    /// The regions that could be read (published or empty) are all published at the same version
    /// and object, or all empty. Unreachable and invalid regions are reported by ``exitCode``.
    public let agree: Bool
    /// The newest version any region has.
    public let newestVersion: UInt64?

    /// 0: all reachable, valid and in agreement. 3: regions disagree. 4: a region is unreachable
    /// or invalid (takes precedence).
    public var exitCode: Int32 {
        if regions.contains(where: { $0.state == .unreachable || $0.state == .invalid }) { return 4 }
        return agree ? 0 : 3
    }

    init(regions: [RegionStatus]) {
        self.regions = regions
        let readable = regions.filter { $0.state == .published || $0.state == .empty }
        let distinct = Set(readable.map { "\($0.state) \($0.version ?? 0) \($0.object ?? "")" })
        self.agree = distinct.count <= 1
        self.newestVersion = readable.compactMap { $0.version }.max()
    }

    /// Human-readable lines.
    public var text: String {
        let width = regions.map(\.store.count).max() ?? 0
        var lines: [String] = []
        for region in regions {
            var line = "  " + region.store + String(repeating: " ", count: width - region.store.count) + "  "
            switch region.state {
            case .published:
                line += "version \(region.version!)"
                if let age = region.ageSeconds { line += ", age \(Self.formatAge(age))" }
                if let expires = region.expires { line += ", expires \(RFC3339.format(expires))" }
                line += ", \(region.object!)"
                if region.signature != "verified" { line += " (signature \(region.signature ?? "not checked"))" }
                if let newest = newestVersion, region.version! < newest { line += "  BEHIND (newest \(newest))" }
            case .empty:
                line += "no manifest published"
            case .invalid:
                line += "INVALID: \(region.error ?? "")"
            case .unreachable:
                line += "UNREACHABLE: \(region.error ?? "")"
            }
            lines.append(line)
        }
        switch exitCode {
        case 0:
            lines.append(
                regions.allSatisfy { $0.state == .empty }
                    ? "no region has a manifest" : regions.count == 1 ? "the region is current" : "all \(regions.count) regions agree")
        case 3: lines.append("regions DISAGREE")
        default: lines.append("some regions are unreachable or invalid" + (agree ? "" : "; regions DISAGREE"))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func formatAge(_ seconds: Int64) -> String {
        if seconds < 0 { return "in the future (\(-seconds) s)" }
        if seconds < 120 { return "\(seconds) s" }
        if seconds < 7200 { return "\(seconds / 60) min" }
        if seconds < 172_800 { return "\(seconds / 3600) h" }
        return "\(seconds / 86400) d"
    }
}

/// Reads every region's manifest (and checks its object) for `allot status`.
public struct StatusChecker: Sendable {
    public let stores: [any ObjectStore]
    /// When empty, signatures are not checked (the report says so).
    public let trustedKeys: [PublicKey]
    /// A region whose manifest names an older version is invalid (replayed or rolled back).
    public let minVersion: UInt64
    let logger: Logger

    public init(stores: [any ObjectStore], trustedKeys: [PublicKey], minVersion: UInt64 = 0, logger: Logger) {
        self.stores = stores
        self.trustedKeys = trustedKeys
        self.minVersion = minVersion
        self.logger = logger
    }

    /// Checks every region concurrently. `now` is unix seconds, for ages.
    public func check(now: Int64) async -> StatusReport {
        let statuses = await withTaskGroup(of: (Int, RegionStatus).self) { group in
            for (index, store) in stores.enumerated() {
                group.addTask { (index, await check(store, now: now)) }
            }
            var results = [RegionStatus?](repeating: nil, count: stores.count)
            for await (index, status) in group { results[index] = status }
            return results.map { $0! }
        }
        return StatusReport(regions: statuses)
    }

    func check(_ store: any ObjectStore, now: Int64) async -> RegionStatus {
        var status = RegionStatus(store: store.location.description, state: .published)
        let object: StoredObject?
        do {
            object = try await store.getIfPresent(StoreLayout.manifestKey, maxBytes: Manifest.maxEncodedBytes)
        } catch {
            // A manifest over the limit is what the store holds, not a failure to reach it.
            status.state = error.code == .tooLarge || error.code == .notRegularFile ? .invalid : .unreachable
            status.error = error.detail
            return status
        }
        guard let object else {
            status.state = .empty
            return status
        }
        let manifest: Manifest
        do {
            manifest = try Manifest.decode(object.bytes)
        } catch {
            status.state = .invalid
            status.error = "manifest: \(error)"
            return status
        }
        status.version = manifest.version
        status.object = manifest.object
        status.size = manifest.size
        status.createdAt = manifest.createdAt
        status.ageSeconds = now - manifest.createdAt
        status.keyID = manifest.keyID.description
        status.publishedAt = manifest.freshness?.publishedAt
        status.signedAt = manifest.freshness?.signedAt
        status.expires = manifest.freshness?.expires
        if trustedKeys.isEmpty {
            status.signature = "not checked"
        } else {
            do {
                try manifest.verifySignature(trustedKeys: trustedKeys)
                status.signature = "verified"
            } catch {
                status.signature = error.code.rawValue
                status.state = .invalid
                status.error = "manifest: \(error)"
                return status
            }
        }
        if let expires = manifest.freshness?.expires, manifest.isExpired(at: now) {
            status.state = .invalid
            status.error = "EXPIRED at \(RFC3339.format(expires)): servers refuse it (publish, or run `allot publish --refresh`)"
            return status
        }
        if manifest.version < minVersion {
            status.state = .invalid
            status.error = "the manifest names version \(manifest.version), older than --min-version \(minVersion): replayed or rolled back"
            return status
        }
        // The object itself, read up to the declared size (one byte more is refused unread), and
        // checked: size, BLAKE2b-256, and with trusted keys the envelope's signature and version.
        let bytes: [UInt8]
        do {
            guard let object = try await store.getIfPresent(manifest.object, maxBytes: manifest.size) else {
                status.objectPresent = false
                status.state = .invalid
                status.error = "the manifest points at \(manifest.object), which is missing"
                return status
            }
            bytes = object.bytes
        } catch  where error.code == .tooLarge {
            status.objectPresent = false
            status.state = .invalid
            status.error = "\(manifest.object) is larger than the \(manifest.size) bytes the manifest says"
            return status
        } catch {
            status.state = .unreachable
            status.error = "manifest read, but the object check failed: \(error.detail)"
            return status
        }
        do {
            if trustedKeys.isEmpty {
                guard bytes.count == manifest.size else {
                    throw ManifestError(.sizeMismatch, "\(manifest.object) is \(bytes.count) bytes, the manifest says \(manifest.size)")
                }
                guard Blake2b.hash256(bytes) == manifest.blake2b else {
                    throw ManifestError(.hashMismatch, "\(manifest.object) does not have the BLAKE2b-256 the manifest states")
                }
            } else {
                _ = try ManifestVerifier(trustedKeys: trustedKeys).verifyBundle(bytes, against: manifest)
            }
            status.objectPresent = true
        } catch {
            status.objectPresent = false
            status.state = .invalid
            status.error = "\(error)"
        }
        return status
    }
}
