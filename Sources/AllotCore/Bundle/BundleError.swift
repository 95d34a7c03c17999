/// Why a bundle was rejected. Loading never traps on bytes it did not write: every failure is one
/// of these, with a stable `code` for metrics and logs and a message a person can act on.
public struct BundleError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Stable machine-readable reasons, used as metric labels. A struct around a private enum,
    /// so that a later version can add a reason without breaking a caller's exhaustive `switch`
    /// (compare with the static members, or read `rawValue`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, CaseIterable {
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

        private let value: Value

        /// The label, such as `bad_signature`.
        public var rawValue: String { value.rawValue }
        public var description: String { value.rawValue }

        /// Every reason this version knows.
        public static var allCases: [Code] { Value.allCases.map(Code.init(value:)) }

        /// Shorter than its header, or than the frame its header announces.
        public static let truncated = Code(value: .truncated)
        /// Not an Allot bundle.
        public static let badMagic = Code(value: .badMagic)
        /// An envelope or payload format this version does not read.
        public static let unsupportedFormat = Code(value: .unsupportedFormat)
        /// Over a size limit (``BundleLimits``).
        public static let tooLarge = Code(value: .tooLarge)
        /// Signed by a key that is not trusted.
        public static let untrustedKey = Code(value: .untrustedKey)
        /// The signature does not verify.
        public static let badSignature = Code(value: .badSignature)
        /// The zstd frame does not decompress.
        public static let decompressionFailed = Code(value: .decompressionFailed)
        /// The payload's hash is not the one signed.
        public static let hashMismatch = Code(value: .hashMismatch)
        /// The payload's sections or records are not well formed.
        public static let malformedPayload = Code(value: .malformedPayload)
        /// The file could not be read.
        public static let io = Code(value: .io)
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
