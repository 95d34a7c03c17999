internal import CSodium

/// SHA-256 and HMAC-SHA-256, for the store's AWS Signature Version 4. Both come from libsodium
/// (`crypto_hash_sha256`, `crypto_auth_hmacsha256`) beside the rest of Allot's cryptography, so
/// libsodium has one owner. Visible to the package only, not to apps that embed AllotCore.
/// Checked against NIST and RFC 4231 known answers in the tests.
package enum SHA256 {
    /// The length of a digest in bytes.
    package static let digestLength = 32

    /// The SHA-256 digest of `bytes`.
    package static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        Sodium.ensureInitialised()
        var digest = [UInt8](repeating: 0, count: digestLength)
        var state = crypto_hash_sha256_state()
        crypto_hash_sha256_init(&state)
        if bytes.count > 0 {
            crypto_hash_sha256_update(&state, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
        }
        crypto_hash_sha256_final(&state, &digest)
        return digest
    }

    /// The SHA-256 digest of `bytes`.
    package static func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// The SHA-256 digest of the UTF-8 bytes of `text`.
    package static func hash(_ text: String) -> [UInt8] {
        hash(Array(text.utf8))
    }

    /// The HMAC-SHA-256 of `message` under `key` (any key length, as RFC 2104 allows).
    package static func hmac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Sodium.ensureInitialised()
        var mac = [UInt8](repeating: 0, count: digestLength)
        var state = crypto_auth_hmacsha256_state()
        crypto_auth_hmacsha256_init(&state, key, key.count)
        if !message.isEmpty {
            crypto_auth_hmacsha256_update(&state, message, UInt64(message.count))
        }
        crypto_auth_hmacsha256_final(&state, &mac)
        return mac
    }

    /// The HMAC-SHA-256 of the UTF-8 bytes of `message` under `key`.
    package static func hmac(key: [UInt8], message: String) -> [UInt8] {
        hmac(key: key, message: Array(message.utf8))
    }
}
