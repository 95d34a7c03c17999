public import AllotCore

/// Why a manifest, or the bundle it points at, was rejected. Like ``StoreError`` and
/// `BundleError`, a stable code for metrics and a message a person can act on.
public struct ManifestError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable, Codable {
        /// Not JSON, a field missing or of the wrong type, a malformed hash, key id or signature.
        case malformed = "malformed"
        /// The `format` field names a format this build does not read.
        case unsupportedFormat = "unsupported_format"
        /// The manifest, or the object it declares, is larger than the limits allow.
        case tooLarge = "too_large"
        /// Signed by a key that is not trusted.
        case untrustedKey = "untrusted_key"
        /// The signature does not verify: the manifest was altered or signed by another key.
        case badSignature = "bad_signature"
        /// The manifest's signed `expires` has passed: it may be a frozen or replayed region.
        case expired = "expired"
        /// The object's size differs from the manifest's.
        case sizeMismatch = "size_mismatch"
        /// The object's BLAKE2b-256 differs from the manifest's.
        case hashMismatch = "hash_mismatch"
        /// The object is not a valid, trusted bundle envelope (see `bundleError`).
        case bundleRejected = "bundle_rejected"
        /// The bundle's header disagrees with the manifest (version or key id).
        case bundleMismatch = "bundle_mismatch"
    }

    public let code: Code
    public let message: String
    /// The bundle's own error, for `bundleRejected`.
    public let bundleError: BundleError?

    public init(_ code: Code, _ message: String, bundleError: BundleError? = nil) {
        self.code = code
        self.message = message
        self.bundleError = bundleError
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
