/// Why a bundle was rejected. Loading never traps on bytes it did not write: every failure is one
/// of these, with a stable `code` for metrics and logs and a message a person can act on.
public struct BundleError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Stable machine-readable reasons, used as metric labels.
    public enum Code: String, Sendable, CaseIterable {
        case truncated = "truncated"
        case badMagic = "bad_magic"
        case unsupportedFormat = "unsupported_format"
        case tooLarge = "too_large"
        case untrustedKey = "untrusted_key"
        case badSignature = "bad_signature"
        case decompressionFailed = "decompression_failed"
        case hashMismatch = "hash_mismatch"
        case malformedPayload = "malformed_payload"
        case io = "io"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// Upper bounds enforced before anything is allocated or decompressed.
public struct BundleLimits: Sendable, Equatable {
    /// The largest compressed frame accepted.
    public var maxCompressedBytes: Int
    /// The largest decompressed payload accepted.
    public var maxPayloadBytes: Int

    public init(maxCompressedBytes: Int = 512 << 20, maxPayloadBytes: Int = 2 << 30) {
        self.maxCompressedBytes = maxCompressedBytes
        self.maxPayloadBytes = min(maxPayloadBytes, Int(UInt32.max))
    }

    public static let `default` = BundleLimits()
}
