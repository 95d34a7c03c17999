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

    /// The public key embedded in an Ed25519 secret key.
    static func publicKey(fromSecretKey secretKey: [UInt8]) -> [UInt8] {
        ensureInitialised()
        var publicKey = [UInt8](repeating: 0, count: publicKeyLength)
        let status = crypto_sign_ed25519_sk_to_pk(&publicKey, secretKey)
        precondition(status == 0, "crypto_sign_ed25519_sk_to_pk failed")
        return publicKey
    }

    /// A detached Ed25519 signature over the concatenation of `parts`.
    static func sign(_ parts: [UnsafeRawBufferPointer], secretKey: [UInt8]) -> [UInt8] {
        ensureInitialised()
        var state = crypto_sign_state()
        crypto_sign_init(&state)
        for part in parts where part.count > 0 {
            crypto_sign_update(&state, part.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(part.count))
        }
        var signature = [UInt8](repeating: 0, count: signatureLength)
        var secretKey = secretKey
        let status = crypto_sign_final_create(&state, &signature, nil, &secretKey)
        precondition(status == 0, "crypto_sign_final_create failed")
        return signature
    }

    /// Whether `signature` is a valid Ed25519 signature by `publicKey` over the concatenation of `parts`.
    static func verify(signature: UnsafeRawBufferPointer, parts: [UnsafeRawBufferPointer], publicKey: [UInt8]) -> Bool {
        ensureInitialised()
        guard signature.count == signatureLength, publicKey.count == publicKeyLength else { return false }
        var state = crypto_sign_state()
        crypto_sign_init(&state)
        for part in parts where part.count > 0 {
            crypto_sign_update(&state, part.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(part.count))
        }
        var signatureCopy = [UInt8](signature)
        var publicKey = publicKey
        return crypto_sign_final_verify(&state, &signatureCopy, &publicKey) == 0
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
