public import AllotCore
import Foundation

/// The small signed document in each region that names the current bundle.
///
/// Two formats are read. `allot-manifest/2` (what `allot publish` writes) adds signed freshness:
/// `published_at` (when this bundle was first published), `signed_at` (when this manifest was
/// signed: a heartbeat `allot publish --refresh` re-signs with a new one) and `expires` (after
/// which servers refuse it), all unix seconds, signed as `published-at`, `signed-at` and `expires`
/// lines after `created-at`. `allot-manifest/1`, below, has no expiry; it is still read so that
/// servers can be upgraded before the publisher (see docs/storage.md, "Freshness").
///
/// JSON on the wire for format 1 (written by ``encoded()``, fields in this order, two-space indent, LF):
/// ```json
/// {
///   "format": "allot-manifest/1",
///   "version": 42,
///   "object": "bundles/<64 hex>.bundle",
///   "size": 18234,
///   "blake2b": "<64 hex: BLAKE2b-256 of the whole envelope file>",
///   "created_at": 1764374400,
///   "key_id": "<16 hex>",
///   "signature": "<base64 of the 64-byte Ed25519 signature>"
/// }
/// ```
/// The signature covers ``signedBytes``, a canonical text independent of JSON formatting:
/// ```
/// allot-manifest/1\n
/// version <decimal>\n
/// object <key>\n
/// size <decimal>\n
/// blake2b <64 lowercase hex>\n
/// created-at <decimal, '-' if negative>\n
/// key-id <16 lowercase hex>\n
/// ```
/// so a store (or anyone who can write to it) cannot point servers at another object, size,
/// version or hash without the signing key.
public struct Manifest: Sendable, Equatable, Hashable {
    /// The format with freshness, which `allot publish` writes.
    public static let format = "allot-manifest/2"
    /// The first format, without freshness: still read.
    public static let formatV1 = "allot-manifest/1"
    /// Manifests larger than this are rejected before parsing.
    public static let maxEncodedBytes = 64 * 1024

    /// The bundle version (from the bundle header).
    public let version: UInt64
    /// The key of the bundle object in the same store, e.g. `bundles/<hash>.bundle`.
    public let object: String
    /// The envelope file's length in bytes.
    public let size: Int
    /// BLAKE2b-256 of the whole envelope file.
    public let blake2b: [UInt8]
    /// The bundle's created-at (unix seconds, from its header).
    public let createdAt: Int64
    /// The id of the key that signed this manifest (and the bundle).
    public let keyID: KeyID
    /// Ed25519 signature over ``signedBytes``.
    public let signature: [UInt8]
    /// The signed freshness of a format-2 manifest; nil for format 1.
    public let freshness: Freshness?

    /// When a manifest was published and signed, and until when it may be believed (unix seconds).
    public struct Freshness: Sendable, Equatable, Hashable {
        /// When the bundle was first published (kept by a refresh): the bundle's age counts from here.
        public let publishedAt: Int64
        /// When this manifest was signed (a refresh signs anew): staleness counts from here.
        public let signedAt: Int64
        /// After this, servers refuse the manifest.
        public let expires: Int64

        public init(publishedAt: Int64, signedAt: Int64, expires: Int64) {
            self.publishedAt = publishedAt
            self.signedAt = signedAt
            self.expires = expires
        }
    }

    /// The format this manifest is in.
    public var formatName: String { freshness == nil ? Self.formatV1 : Self.format }

    /// Whether the manifest has expired at `now` (unix seconds). A format-1 manifest never does.
    public func isExpired(at now: Int64) -> Bool {
        guard let freshness else { return false }
        return now >= freshness.expires
    }

    /// A manifest signed with `key`: format 2 with `freshness`, format 1 without.
    public static func sign(
        version: UInt64, object: String, size: Int, blake2b: [UInt8], createdAt: Int64, freshness: Freshness? = nil, key: SigningKey
    ) -> Manifest {
        let bytes = canonicalBytes(
            version: version, object: object, size: size, blake2b: blake2b, createdAt: createdAt, freshness: freshness, keyID: key.id)
        return Manifest(
            version: version, object: object, size: size, blake2b: blake2b, createdAt: createdAt, keyID: key.id, signature: key.sign(bytes),
            freshness: freshness)
    }

    /// The same manifest signed again with `key` and new freshness (a heartbeat refresh).
    public func resigned(freshness: Freshness, key: SigningKey) -> Manifest {
        Self.sign(version: version, object: object, size: size, blake2b: blake2b, createdAt: createdAt, freshness: freshness, key: key)
    }

    /// The signed manifest for a bundle envelope, pointing at its content address. The envelope
    /// must be well formed, signed by `key`, and verify.
    public static func describing(
        envelope bytes: [UInt8], key: SigningKey, freshness: Freshness? = nil, limits: BundleLimits = .default
    ) throws(ManifestError) -> Manifest {
        let header: BundleHeader
        do {
            header = try bytes.withUnsafeBytes { buffer in
                Result { () throws(BundleError) in try BundleHeader.parse(buffer, limits: limits) }
            }.get()
        } catch {
            throw ManifestError(.bundleRejected, "the bundle is not valid: \(error)", bundleError: error)
        }
        guard header.keyID == key.id else {
            throw ManifestError(
                .bundleMismatch,
                "the bundle is signed by key \(header.keyID) but the signing key given is \(key.id): publish with the key that compiled the bundle"
            )
        }
        do {
            _ = try bytes.withUnsafeBytes { buffer in
                Result { () throws(BundleError) in try header.verifySignature(of: buffer, trustedKeys: [key.publicKey]) }
            }.get()
        } catch {
            throw ManifestError(.bundleRejected, "the bundle is not valid: \(error)", bundleError: error)
        }
        let digest = Blake2b.hash256(bytes)
        return sign(
            version: header.version, object: StoreLayout.bundleKey(blake2b: digest), size: bytes.count, blake2b: digest,
            createdAt: header.createdAt, freshness: freshness, key: key)
    }

    init(
        version: UInt64, object: String, size: Int, blake2b: [UInt8], createdAt: Int64, keyID: KeyID, signature: [UInt8],
        freshness: Freshness? = nil
    ) {
        self.version = version
        self.object = object
        self.size = size
        self.blake2b = blake2b
        self.createdAt = createdAt
        self.keyID = keyID
        self.signature = signature
        self.freshness = freshness
    }

    /// The exact bytes the signature covers (see the type's documentation).
    public var signedBytes: [UInt8] {
        Self.canonicalBytes(
            version: version, object: object, size: size, blake2b: blake2b, createdAt: createdAt, freshness: freshness, keyID: keyID)
    }

    static func canonicalBytes(
        version: UInt64, object: String, size: Int, blake2b: [UInt8], createdAt: Int64, freshness: Freshness?, keyID: KeyID
    ) -> [UInt8] {
        var text =
            "\(freshness == nil ? formatV1 : format)\n" + "version \(version)\n" + "object \(object)\n" + "size \(size)\n"
            + "blake2b \(Hex.encode(blake2b))\n" + "created-at \(createdAt)\n"
        if let freshness {
            text += "published-at \(freshness.publishedAt)\n" + "signed-at \(freshness.signedAt)\n" + "expires \(freshness.expires)\n"
        }
        text += "key-id \(keyID)\n"
        return Array(text.utf8)
    }

    /// Whether two manifests point at the same bundle (version, object, size and hash), whoever signed them.
    public func describesSameBundle(as other: Manifest) -> Bool {
        version == other.version && object == other.object && size == other.size && blake2b == other.blake2b
    }

    /// The JSON document, deterministic for a given manifest.
    public func encoded() -> [UInt8] {
        var text = """
            {
              "format": \(JSONString.quoted(formatName)),
              "version": \(version),
              "object": \(JSONString.quoted(object)),
              "size": \(size),
              "blake2b": "\(Hex.encode(blake2b))",
              "created_at": \(createdAt),

            """
        if let freshness {
            text += """
                  "published_at": \(freshness.publishedAt),
                  "signed_at": \(freshness.signedAt),
                  "expires": \(freshness.expires),

                """
        }
        text += """
              "key_id": "\(keyID)",
              "signature": "\(Base64.encode(signature))"
            }

            """
        return Array(text.utf8)
    }

    /// Parses a manifest without trusting it: size, JSON shape, format, field syntax. Check the
    /// signature with ``verifySignature(trustedKeys:)`` (or use ``ManifestVerifier``).
    public static func decode(_ bytes: [UInt8]) throws(ManifestError) -> Manifest {
        guard bytes.count <= maxEncodedBytes else {
            throw ManifestError(.tooLarge, "the manifest is \(bytes.count) bytes, more than the \(maxEncodedBytes) allowed")
        }
        let data = Data(bytes)
        let decoder = JSONDecoder()
        let formatOnly: FormatField
        do {
            formatOnly = try decoder.decode(FormatField.self, from: data)
        } catch {
            throw ManifestError(.malformed, "the manifest is not a JSON object with a \"format\" string (\(Self.describe(error)))")
        }
        guard formatOnly.format == format || formatOnly.format == formatV1 else {
            throw ManifestError(
                .unsupportedFormat,
                "manifest format '\(formatOnly.format)' is not supported (this build reads '\(format)' and '\(formatV1)'); upgrade allot")
        }
        let fields: Fields
        do {
            fields = try decoder.decode(Fields.self, from: data)
        } catch {
            // The document parsed once already, so a root-level "not valid JSON" here means a
            // number out of range for its field (Foundation reports it that way).
            var reason = Self.describe(error)
            if case DecodingError.dataCorrupted(let context) = error, context.codingPath.isEmpty {
                reason = "a field has an invalid value, such as a negative or too large version, size or created_at"
            }
            throw ManifestError(.malformed, "the manifest's fields are malformed (\(reason))")
        }
        do {
            try ObjectKey.validate(fields.object)
        } catch {
            throw ManifestError(.malformed, "the manifest's object key is invalid: \(error.message)")
        }
        guard fields.size >= 0 else { throw ManifestError(.malformed, "the manifest's size is negative") }
        guard fields.blake2b.utf8.count == 64, fields.blake2b == fields.blake2b.lowercased(), let digest = Hex.decode(fields.blake2b) else {
            throw ManifestError(.malformed, "the manifest's blake2b is not 64 lowercase hex digits")
        }
        guard fields.keyID == fields.keyID.lowercased(), let keyID = KeyID(hex: fields.keyID) else {
            throw ManifestError(.malformed, "the manifest's key_id is not 16 lowercase hex digits")
        }
        guard let signature = Base64.decode(fields.signature), signature.count == 64 else {
            throw ManifestError(.malformed, "the manifest's signature is not the base64 of 64 bytes")
        }
        var freshness: Freshness?
        if formatOnly.format == format {
            guard let publishedAt = fields.publishedAt, let signedAt = fields.signedAt, let expires = fields.expires else {
                throw ManifestError(.malformed, "a \(format) manifest needs published_at, signed_at and expires")
            }
            freshness = Freshness(publishedAt: publishedAt, signedAt: signedAt, expires: expires)
        } else if fields.publishedAt != nil || fields.signedAt != nil || fields.expires != nil {
            throw ManifestError(.malformed, "a \(formatV1) manifest has no published_at, signed_at or expires (they would not be signed)")
        }
        return Manifest(
            version: fields.version, object: fields.object, size: fields.size, blake2b: digest, createdAt: fields.createdAt, keyID: keyID,
            signature: signature, freshness: freshness)
    }

    /// Checks the signature with the trusted key the manifest names. Returns that key.
    @discardableResult
    public func verifySignature(trustedKeys: [PublicKey]) throws(ManifestError) -> PublicKey {
        guard let key = trustedKeys.first(where: { $0.id == keyID }) else {
            let trusted = trustedKeys.map(\.id.description).joined(separator: ", ")
            throw ManifestError(
                .untrustedKey,
                "the manifest is signed by key \(keyID), which is not trusted (trusted: \(trusted.isEmpty ? "none" : trusted))")
        }
        let valid = signature.withUnsafeBytes { signature in
            signedBytes.withUnsafeBytes { key.isValidSignature(signature, over: $0) }
        }
        guard valid else {
            throw ManifestError(
                .badSignature, "the manifest's signature does not match key \(keyID): it was altered or signed by another key")
        }
        return key
    }

    private struct FormatField: Decodable {
        let format: String
    }

    private struct Fields: Decodable {
        let version: UInt64
        let object: String
        let size: Int
        let blake2b: String
        let createdAt: Int64
        let keyID: String
        let signature: String
        let publishedAt: Int64?
        let signedAt: Int64?
        let expires: Int64?

        enum CodingKeys: String, CodingKey {
            case version, object, size, blake2b, signature, expires
            case createdAt = "created_at"
            case keyID = "key_id"
            case publishedAt = "published_at"
            case signedAt = "signed_at"
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing field \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type for \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\""
        case DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "not valid JSON: \(context.debugDescription)" : "bad value for \"\(path)\": \(context.debugDescription)"
        default: return "\(error)"
        }
    }
}
