internal import CSodium

/// libsodium, initialised once. Every use of the library goes through this type.
enum Sodium {
    /// `sodium_init` is idempotent and thread-safe after the first call; a lazy static runs it once.
    private static let initialised: Bool = {
        sodium_init() >= 0
    }()

    static func ensureInitialised() {
        precondition(initialised, "libsodium failed to initialise")
    }

    static let publicKeyLength = Int(crypto_sign_PUBLICKEYBYTES)
    static let secretKeyLength = Int(crypto_sign_SECRETKEYBYTES)
    static let seedLength = Int(crypto_sign_SEEDBYTES)
    static let signatureLength = Int(crypto_sign_BYTES)

    /// A new Ed25519 key pair from the operating system's randomness.
    static func generateKeyPair() -> (publicKey: [UInt8], secretKey: [UInt8]) {
        ensureInitialised()
        var publicKey = [UInt8](repeating: 0, count: publicKeyLength)
        var secretKey = [UInt8](repeating: 0, count: secretKeyLength)
        let status = crypto_sign_keypair(&publicKey, &secretKey)
        precondition(status == 0, "crypto_sign_keypair failed")
        return (publicKey, secretKey)
    }

    /// The key pair of a 32-byte seed (deterministic; for test vectors and reproducible fixtures).
    static func keyPair(seed: [UInt8]) -> (publicKey: [UInt8], secretKey: [UInt8]) {
        ensureInitialised()
        precondition(seed.count == seedLength, "an Ed25519 seed is 32 bytes")
        var publicKey = [UInt8](repeating: 0, count: publicKeyLength)
        var secretKey = [UInt8](repeating: 0, count: secretKeyLength)
        let status = crypto_sign_seed_keypair(&publicKey, &secretKey, seed)
        precondition(status == 0, "crypto_sign_seed_keypair failed")
        return (publicKey, secretKey)
    }

    /// The public key embedded in an Ed25519 secret key.
    static func publicKey(fromSecretKey secretKey: [UInt8]) -> [UInt8] {
        ensureInitialised()
        var publicKey = [UInt8](repeating: 0, count: publicKeyLength)
        let status = crypto_sign_ed25519_sk_to_pk(&publicKey, secretKey)
        precondition(status == 0, "crypto_sign_ed25519_sk_to_pk failed")
        return publicKey
    }

    /// A detached Ed25519 signature (RFC 8032, pure, not the pre-hashed Ed25519ph) over `message`.
    static func sign(_ message: UnsafeRawBufferPointer, secretKey: [UInt8]) -> [UInt8] {
        ensureInitialised()
        var signature = [UInt8](repeating: 0, count: signatureLength)
        let status = secretKey.withUnsafeBufferPointer { key in
            crypto_sign_detached(
                &signature, nil, message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count), key.baseAddress!)
        }
        precondition(status == 0, "crypto_sign_detached failed")
        return signature
    }

    /// Whether `signature` is a valid Ed25519 signature (RFC 8032, pure) by `publicKey` over `message`.
    static func verify(signature: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer, publicKey: [UInt8]) -> Bool {
        ensureInitialised()
        guard signature.count == signatureLength, publicKey.count == publicKeyLength else { return false }
        return publicKey.withUnsafeBufferPointer { key in
            crypto_sign_verify_detached(
                signature.baseAddress!.assumingMemoryBound(to: UInt8.self), message.baseAddress?.assumingMemoryBound(to: UInt8.self),
                UInt64(message.count), key.baseAddress!) == 0
        }
    }

    /// BLAKE2b with a 32-byte output (`crypto_generichash`, no key).
    static func blake2b256(_ parts: [UnsafeRawBufferPointer]) -> [UInt8] {
        ensureInitialised()
        // The state type is opaque to Swift (it is over-aligned in C), so it lives in raw memory.
        let state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        defer { state.deallocate() }
        let opaque = OpaquePointer(state)
        crypto_generichash_init(opaque, nil, 0, 32)
        for part in parts where part.count > 0 {
            crypto_generichash_update(opaque, part.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(part.count))
        }
        var digest = [UInt8](repeating: 0, count: 32)
        crypto_generichash_final(opaque, &digest, 32)
        return digest
    }

    /// Overwrites `bytes` with zeros in a way the optimiser keeps.
    static func wipe(_ bytes: inout [UInt8]) {
        let count = bytes.count
        bytes.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, count) }
    }
}

/// BLAKE2b-256, the hash of bundle payloads and manifests.
public enum Blake2b {
    /// The 32-byte BLAKE2b digest of `bytes`.
    public static func hash256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        Sodium.blake2b256([bytes])
    }

    /// The 32-byte BLAKE2b digest of `bytes`.
    public static func hash256(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { Sodium.blake2b256([$0]) }
    }
}
