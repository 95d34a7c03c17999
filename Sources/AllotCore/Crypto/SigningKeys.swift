/// The identity of a signing key: the first 8 bytes of BLAKE2b-256 of its Ed25519 public key.
/// Written as 16 lowercase hex digits. Bundles and manifests name the key that signed them.
public struct KeyID: Hashable, Sendable, CustomStringConvertible {
    /// The eight identifying bytes.
    public let bytes: [UInt8]

    /// The key id of an Ed25519 public key.
    public init(publicKey: [UInt8]) {
        self.bytes = Array(Blake2b.hash256(publicKey).prefix(8))
    }

    /// A key id from its eight bytes; nil when there are not exactly eight.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 8 else { return nil }
        self.bytes = bytes
    }

    /// A key id from its 16 hex digits; nil when malformed.
    public init?(hex: String) {
        guard hex.utf8.count == 16, let bytes = Hex.decode(hex) else { return nil }
        self.bytes = bytes
    }

    public var description: String { Hex.encode(bytes) }
}

/// An Ed25519 public key that servers trust to sign bundles and manifests.
///
/// File format (`signing.pub`): one line, `allot-ed25519-public:` followed by the base64 of the
/// 32-byte key. Several trusted keys allow rotation.
public struct PublicKey: Hashable, Sendable {
    /// The 32 raw key bytes.
    public let bytes: [UInt8]
    /// The key's id.
    public let id: KeyID

    static let prefix = "allot-ed25519-public:"

    /// A public key from its 32 raw bytes.
    public init(bytes: [UInt8]) throws(KeyError) {
        guard bytes.count == Sodium.publicKeyLength else { throw .wrongLength(kind: "public", count: bytes.count) }
        self.bytes = bytes
        self.id = KeyID(publicKey: bytes)
    }

    /// A public key from the text of a `.pub` file.
    public init(text: String) throws(KeyError) {
        let line = text.trimmingASCIIWhitespace()
        guard line.hasPrefix(Self.prefix) else {
            if line.hasPrefix(SigningKey.prefix) { throw .secretKeyGivenForPublic }
            throw .notAKeyFile(expected: Self.prefix)
        }
        guard let bytes = Base64.decode(line.dropFirst(Self.prefix.count)) else { throw .badEncoding }
        try self.init(bytes: bytes)
    }

    /// The text of a `.pub` file for this key.
    public var fileText: String { Self.prefix + Base64.encode(bytes) + "\n" }

    /// Whether `signature` is this key's Ed25519 signature (RFC 8032) over `message`.
    public func isValidSignature(_ signature: UnsafeRawBufferPointer, over message: UnsafeRawBufferPointer) -> Bool {
        Sodium.verify(signature: signature, message: message, publicKey: bytes)
    }
}

/// An Ed25519 secret key that signs bundles and manifests.
///
/// File format (`signing.key`, mode 0600): one line, `allot-ed25519-secret:` followed by the
/// base64 of libsodium's 64-byte secret key. CI may pass the same text in `ALLOT_SIGNING_KEY`.
public struct SigningKey: Sendable {
    /// libsodium's 64-byte secret key (seed followed by the public key).
    let secretBytes: [UInt8]
    /// The matching public key.
    public let publicKey: PublicKey

    static let prefix = "allot-ed25519-secret:"

    /// The environment variable that may hold a secret key's file text, for CI.
    public static let environmentVariable = "ALLOT_SIGNING_KEY"

    /// A new random key.
    public static func generate() -> SigningKey {
        let pair = Sodium.generateKeyPair()
        return try! SigningKey(secretBytes: pair.secretKey)
    }

    /// The key of a 32-byte seed: deterministic, for test vectors and reproducible fixtures only.
    public init(seed: [UInt8]) throws(KeyError) {
        guard seed.count == Sodium.seedLength else { throw .wrongLength(kind: "seed", count: seed.count) }
        try self.init(secretBytes: Sodium.keyPair(seed: seed).secretKey)
    }

    init(secretBytes: [UInt8]) throws(KeyError) {
        guard secretBytes.count == Sodium.secretKeyLength else { throw .wrongLength(kind: "secret", count: secretBytes.count) }
        let derived = Sodium.publicKey(fromSecretKey: secretBytes)
        guard Array(secretBytes.suffix(Sodium.publicKeyLength)) == derived else { throw .inconsistentSecretKey }
        self.secretBytes = secretBytes
        self.publicKey = try PublicKey(bytes: derived)
    }

    /// A secret key from the text of a `.key` file (or of `ALLOT_SIGNING_KEY`).
    public init(text: String) throws(KeyError) {
        let line = text.trimmingASCIIWhitespace()
        guard line.hasPrefix(Self.prefix) else {
            if line.hasPrefix(PublicKey.prefix) { throw .publicKeyGivenForSecret }
            throw .notAKeyFile(expected: Self.prefix)
        }
        guard let bytes = Base64.decode(line.dropFirst(Self.prefix.count)) else { throw .badEncoding }
        try self.init(secretBytes: bytes)
    }

    /// The text of a `.key` file for this key.
    public var fileText: String { Self.prefix + Base64.encode(secretBytes) + "\n" }

    /// The key's id.
    public var id: KeyID { publicKey.id }

    /// A detached Ed25519 signature (RFC 8032, deterministic) over `message`.
    public func sign(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        Sodium.sign(message, secretKey: secretBytes)
    }

    /// A detached Ed25519 signature (RFC 8032, deterministic) over `bytes`.
    public func sign(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { sign($0) }
    }
}

/// Why a key could not be read.
public enum KeyError: Error, Equatable, CustomStringConvertible {
    case notAKeyFile(expected: String)
    case badEncoding
    case wrongLength(kind: String, count: Int)
    case inconsistentSecretKey
    case secretKeyGivenForPublic
    case publicKeyGivenForSecret

    public var description: String {
        switch self {
        case .notAKeyFile(let expected):
            return "not an Allot key file: expected one line starting with '\(expected)' (make one with `allot keygen`)"
        case .badEncoding:
            return "the key is not valid base64"
        case .wrongLength(let kind, let count):
            return "a \(kind) key has the wrong length (\(count) bytes)"
        case .inconsistentSecretKey:
            return "the secret key's embedded public key does not match its seed; the file is damaged"
        case .secretKeyGivenForPublic:
            return "this is a secret key; servers and verifiers need the public key (the .pub file)"
        case .publicKeyGivenForSecret:
            return "this is a public key; signing needs the secret key (the .key file)"
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing ASCII spaces, tabs, carriage returns and newlines.
    func trimmingASCIIWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
