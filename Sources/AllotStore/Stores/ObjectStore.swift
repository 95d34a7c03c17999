internal import AllotCore

/// An entity tag: the opaque version string a store gives an object. Compared and sent back
/// exactly as received (quotes included).
public struct ETag: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The tag as the store wrote it, e.g. `"5d41402abc4b2a76b9719d911017c592"` with its quotes.
    public let value: String

    public init(_ value: String) { self.value = value }

    public var description: String { value }

    public init(from decoder: any Decoder) throws {
        value = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// What a store knows about one object without reading it.
public struct ObjectInfo: Sendable, Equatable {
    /// The key, relative to the store's root (the store URL's prefix is not part of it).
    public let key: String
    /// Length in bytes.
    public let size: Int
    /// The entity tag.
    public let etag: ETag

    public init(key: String, size: Int, etag: ETag) {
        self.key = key
        self.size = size
        self.etag = etag
    }
}

/// An object read from a store.
public struct StoredObject: Sendable, Equatable {
    public let key: String
    public let bytes: [UInt8]
    public let etag: ETag

    public init(key: String, bytes: [UInt8], etag: ETag) {
        self.key = key
        self.bytes = bytes
        self.etag = etag
    }
}

/// The result of a conditional read.
public enum ReadResult: Sendable, Equatable {
    /// The object, because it changed (or no tag was given).
    case object(StoredObject)
    /// The object still has the tag given in `ifNoneMatch`.
    case notModified
}

/// A precondition on a write, checked by the store atomically with the write.
public enum WriteCondition: Sendable, Equatable, CustomStringConvertible {
    /// Write unconditionally.
    case none
    /// Create only: fail with `preconditionFailed` if the key exists (`If-None-Match: *`).
    case ifAbsent
    /// Replace only the version with this tag: fail with `preconditionFailed` if the object changed,
    /// and with `notFound` or `preconditionFailed` if it is gone (`If-Match: <etag>`).
    case ifMatch(ETag)

    public var description: String {
        switch self {
        case .none: return "unconditional"
        case .ifAbsent: return "If-None-Match: *"
        case .ifMatch(let etag): return "If-Match: \(etag)"
        }
    }
}

/// Read limits every store applies.
public enum ObjectStoreLimits {
    /// The most a read without its own limit accepts (``ObjectStore/get(_:ifNoneMatch:)``, and a
    /// local store's HEAD, listing and precondition checks): the largest bundle envelope allowed.
    public static let unboundedReadBytes = BundleLimits.default.maxCompressedBytes + BundleHeader.minimumEnvelopeLength
}

/// A region's object store: a local folder or an S3-compatible bucket (and prefix).
///
/// Keys are relative paths such as `manifest.json` or `bundles/<hash>.bundle` (see
/// ``ObjectKey``). Every failure is a ``StoreError`` with a stable code.
public protocol ObjectStore: Sendable {
    /// Where the store is, for messages and reports.
    var location: StoreLocation { get }

    /// Reads an object. With `ifNoneMatch`, returns `.notModified` if the object still has that
    /// tag. Throws `notFound` if there is no such object.
    func get(_ key: String, ifNoneMatch: ETag?) async throws(StoreError) -> ReadResult

    /// Reads an object of at most `maxBytes` bytes. A larger one throws `tooLarge` without being
    /// downloaded or held in memory (S3: a ranged GET of the first `maxBytes + 1` bytes), so
    /// whoever can write to a store cannot make a reader allocate what they like. For objects
    /// others write, such as manifests and bundles. With `ifNoneMatch`, returns `.notModified` if
    /// the object still has that tag. Throws `notFound` if there is no such object.
    func get(_ key: String, ifNoneMatch: ETag?, maxBytes: Int) async throws(StoreError) -> ReadResult

    /// Writes an object if `condition` holds, atomically: readers see the old bytes or the new,
    /// never a mixture. Returns the new entity tag. Throws `preconditionFailed` if it does not hold.
    func put(_ key: String, bytes: [UInt8], condition: WriteCondition) async throws(StoreError) -> ETag

    /// Size and tag of an object, or nil if there is none.
    func head(_ key: String) async throws(StoreError) -> ObjectInfo?

    /// Every object whose key starts with `prefix`, in byte order of their keys.
    func list(prefix: String) async throws(StoreError) -> [ObjectInfo]
}

extension ObjectStore {
    /// Reads an object unconditionally. Throws `notFound` if there is no such object.
    public func get(_ key: String) async throws(StoreError) -> StoredObject {
        switch try await get(key, ifNoneMatch: nil) {
        case .object(let object): return object
        case .notModified:
            throw StoreError(.badResponse, "the store answered 'not modified' to an unconditional read", store: location, key: key)
        }
    }

    /// Reads an object of at most `maxBytes` bytes unconditionally; a larger one throws `tooLarge`
    /// without being downloaded.
    public func get(_ key: String, maxBytes: Int) async throws(StoreError) -> StoredObject {
        switch try await get(key, ifNoneMatch: nil, maxBytes: maxBytes) {
        case .object(let object): return object
        case .notModified:
            throw StoreError(.badResponse, "the store answered 'not modified' to an unconditional read", store: location, key: key)
        }
    }

    /// Reads an object, or nil if there is none.
    public func getIfPresent(_ key: String) async throws(StoreError) -> StoredObject? {
        do {
            return try await get(key)
        } catch  where error.code == .notFound {
            return nil
        }
    }

    /// Reads an object of at most `maxBytes` bytes, or nil if there is none; a larger one throws
    /// `tooLarge` without being downloaded.
    public func getIfPresent(_ key: String, maxBytes: Int) async throws(StoreError) -> StoredObject? {
        do {
            return try await get(key, maxBytes: maxBytes)
        } catch  where error.code == .notFound {
            return nil
        }
    }
}

/// Rules for object keys, the same for every store so that a layout that works on a folder works
/// on S3: 1 to 1024 bytes of UTF-8, segments separated by `/`, no empty, `.` or `..` segment, no
/// leading or trailing `/`, no control characters, and not starting with `.allot` (reserved for
/// the local store's own files).
public enum ObjectKey {
    /// Throws `invalidKey` explaining what is wrong with `key`.
    public static func validate(_ key: String) throws(StoreError) {
        func invalid(_ why: String) -> StoreError { StoreError(.invalidKey, "invalid object key '\(key)': \(why)") }
        let bytes = Array(key.utf8)
        guard !bytes.isEmpty else { throw invalid("it is empty") }
        guard bytes.count <= 1024 else { throw invalid("it is longer than 1024 bytes") }
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7f }) else { throw invalid("it contains a control character") }
        guard !key.hasPrefix(".allot") else { throw invalid("keys starting with '.allot' are reserved") }
        for segment in key.split(separator: "/", omittingEmptySubsequences: false) {
            if segment.isEmpty { throw invalid("it has an empty path segment (leading, trailing or double '/')") }
            if segment == "." || segment == ".." { throw invalid("it has a '\(segment)' path segment") }
        }
    }
}
