/// The signed container a bundle travels in: a fixed header, one zstd frame, a signature.
///
/// ```
/// offset size field
///      0    8 magic "ALLOTBDL"
///      8    2 envelope format version (1)
///     10    2 header length (88)
///     12    4 flags (0)
///     16    8 bundle version (u64, monotonic)
///     24    8 created-at (i64, unix seconds)
///     32    8 key id (first 8 bytes of BLAKE2b-256 of the signer's public key)
///     40    8 compressed frame length C
///     48    8 payload length (decompressed)
///     56   32 BLAKE2b-256 of the payload
///     88    C the zstd frame
///   88+C   64 Ed25519 signature (RFC 8032, pure) over bytes 0 ..< 88+C
/// ```
/// The signature covers the header and the frame exactly as shipped, so nothing untrusted is ever
/// decompressed, and it covers one contiguous byte range, so any standard Ed25519 verifier can
/// check it. See `docs/bundle-format.md`.
public struct BundleHeader: Sendable, Equatable {
    public static let magic: [UInt8] = Array("ALLOTBDL".utf8)
    public static let formatVersion: UInt16 = 1
    /// Bytes before the zstd frame.
    public static let length = 88
    /// Bytes of the trailing signature.
    public static let signatureLength = 64
    /// The smallest possible envelope (an empty frame).
    public static let minimumEnvelopeLength = length + signatureLength

    /// The bundle version, monotonic across publishes.
    public let version: UInt64
    /// When the bundle's inputs were made (unix seconds): a flag or the commit time, never the wall clock.
    public let createdAt: Int64
    /// The id of the key that signed the bundle.
    public let keyID: KeyID
    /// Length of the zstd frame.
    public let compressedLength: Int
    /// Length of the decompressed payload.
    public let payloadLength: Int
    /// BLAKE2b-256 of the decompressed payload.
    public let payloadHash: [UInt8]
    /// The Ed25519 signature.
    public let signature: [UInt8]

    /// The whole envelope's length: header, frame and signature.
    public var envelopeLength: Int { Self.length + compressedLength + Self.signatureLength }

    /// Where the zstd frame lies in the envelope.
    public var frameRange: Range<Int> { Self.length..<(Self.length + compressedLength) }

    /// The bytes the signature covers.
    public var signedRange: Range<Int> { 0..<(Self.length + compressedLength) }

    /// Reads and sanity-checks the header of an envelope without trusting it: magic, version,
    /// lengths against `limits` and against the bytes present. Nothing is verified or decompressed.
    public static func parse(_ bytes: UnsafeRawBufferPointer, limits: BundleLimits = .default) throws(BundleError) -> BundleHeader {
        guard bytes.count >= 16 else { throw BundleError(.truncated, "\(bytes.count) bytes is shorter than a bundle header") }
        guard bytes.prefix(8).elementsEqual(magic) else {
            throw BundleError(.badMagic, "not an Allot bundle (the file does not start with ALLOTBDL)")
        }
        let format = bytes.le16(8)
        guard format == formatVersion else {
            throw BundleError(.unsupportedFormat, "bundle envelope format \(format) is not supported (this build reads \(formatVersion))")
        }
        let headerLength = Int(bytes.le16(10))
        guard headerLength == length else {
            throw BundleError(.unsupportedFormat, "bundle header length \(headerLength), expected \(length)")
        }
        guard bytes.count >= length else {
            throw BundleError(.truncated, "bundle is \(bytes.count) bytes, shorter than its \(length)-byte header")
        }
        guard bytes.le32(12) == 0 else { throw BundleError(.unsupportedFormat, "unknown bundle flags \(bytes.le32(12))") }
        let compressed = bytes.le64(40)
        let payload = bytes.le64(48)
        guard compressed <= UInt64(limits.maxCompressedBytes) else {
            throw BundleError(.tooLarge, "compressed frame of \(compressed) bytes exceeds the limit of \(limits.maxCompressedBytes)")
        }
        guard payload <= UInt64(limits.maxPayloadBytes) else {
            throw BundleError(.tooLarge, "payload of \(payload) bytes exceeds the limit of \(limits.maxPayloadBytes)")
        }
        let expected = UInt64(length + signatureLength) + compressed
        guard UInt64(bytes.count) == expected else {
            let code: BundleError.Code = UInt64(bytes.count) < expected ? .truncated : .malformedPayload
            throw BundleError(
                code, "header declares a \(compressed)-byte frame, so the bundle should be \(expected) bytes, but it is \(bytes.count)")
        }
        let signatureStart = length + Int(compressed)
        return BundleHeader(
            version: bytes.le64(16),
            createdAt: Int64(bitPattern: bytes.le64(24)),
            keyID: KeyID(bytes: Array(bytes[32..<40]))!,
            compressedLength: Int(compressed),
            payloadLength: Int(payload),
            payloadHash: Array(bytes[56..<88]),
            signature: Array(bytes[signatureStart..<(signatureStart + signatureLength)])
        )
    }

    /// Checks the signature with the trusted key the header names. Returns that key.
    @discardableResult
    public func verifySignature(of bytes: UnsafeRawBufferPointer, trustedKeys: [PublicKey]) throws(BundleError) -> PublicKey {
        guard let key = trustedKeys.first(where: { $0.id == keyID }) else {
            let trusted = trustedKeys.map(\.id.description).joined(separator: ", ")
            throw BundleError(
                .untrustedKey, "signed by key \(keyID), which is not trusted (trusted: \(trusted.isEmpty ? "none" : trusted))")
        }
        let valid = signature.withUnsafeBytes { signature in
            key.isValidSignature(signature, over: UnsafeRawBufferPointer(rebasing: bytes[signedRange]))
        }
        guard valid else {
            throw BundleError(.badSignature, "signature does not match key \(keyID): the bundle was altered or signed by another key")
        }
        return key
    }
}

/// Sealing and opening envelopes.
public enum BundleEnvelope {
    /// The zstd level for a payload: 19 up to 32 MiB, 9 above (level 19 on hundreds of megabytes
    /// costs minutes of CI time for a few percent of size). A function of the payload alone, so
    /// output stays deterministic.
    public static func compressionLevel(forPayloadLength length: Int) -> Int32 {
        length <= 32 << 20 ? 19 : 9
    }

    /// Compresses and signs `payload` into an envelope. Deterministic: the same payload, version,
    /// created-at and key give the same bytes.
    public static func seal(payload: [UInt8], version: UInt64, createdAt: Int64, key: SigningKey) throws(ZstdError) -> [UInt8] {
        let level = compressionLevel(forPayloadLength: payload.count)
        let frame = try payload.withUnsafeBytes { bytes in Result { () throws(ZstdError) in try Zstd.compress(bytes, level: level) } }.get()
        var header = [UInt8]()
        header.reserveCapacity(BundleHeader.length + frame.count + BundleHeader.signatureLength)
        header += BundleHeader.magic
        header.appendLE(BundleHeader.formatVersion)
        header.appendLE(UInt16(BundleHeader.length))
        header.appendLE(UInt32(0))
        header.appendLE(version)
        header.appendLE(UInt64(bitPattern: createdAt))
        header += key.id.bytes
        header.appendLE(UInt64(frame.count))
        header.appendLE(UInt64(payload.count))
        header += Blake2b.hash256(payload)
        header += frame
        let signature = header.withUnsafeBytes { key.sign($0) }
        header += signature
        return header
    }

    /// The header of an envelope, parsed within `limits` and signed by one of `trustedKeys`;
    /// nothing is decompressed. What a cache or a store checks before keeping an envelope.
    public static func verifiedHeader(_ bytes: UnsafeRawBufferPointer, trustedKeys: [PublicKey], limits: BundleLimits = .default)
        throws(BundleError) -> BundleHeader
    {
        let header = try BundleHeader.parse(bytes, limits: limits)
        try header.verifySignature(of: bytes, trustedKeys: trustedKeys)
        return header
    }

    /// `verifiedHeader` of an envelope held in an array.
    public static func verifiedHeader(_ bytes: [UInt8], trustedKeys: [PublicKey], limits: BundleLimits = .default)
        throws(BundleError) -> BundleHeader
    {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(BundleError) in try verifiedHeader(buffer, trustedKeys: trustedKeys, limits: limits) }
        }.get()
    }

    /// Verifies an envelope (header, signature, sizes) and decompresses its payload into memory,
    /// checking the hash. The order guarantees nothing untrusted is decompressed.
    public static func open(_ bytes: UnsafeRawBufferPointer, trustedKeys: [PublicKey], limits: BundleLimits = .default)
        throws(BundleError) -> (header: BundleHeader, payload: [UInt8])
    {
        let header = try verifiedHeader(bytes, trustedKeys: trustedKeys, limits: limits)
        var payload = [UInt8](repeating: 0, count: header.payloadLength)
        try payload.withUnsafeMutableBytes { destination in
            Result { () throws(BundleError) in try decompress(bytes, header: header, into: destination) }
        }.get()
        return (header, payload)
    }

    /// Decompresses a verified envelope's frame into `destination` (exactly `payloadLength` bytes)
    /// and checks the payload hash. Call only after `verifySignature`.
    public static func decompress(_ bytes: UnsafeRawBufferPointer, header: BundleHeader, into destination: UnsafeMutableRawBufferPointer)
        throws(BundleError)
    {
        let frame = UnsafeRawBufferPointer(rebasing: bytes[header.frameRange])
        guard let declared = Zstd.declaredContentSize(frame), declared == UInt64(header.payloadLength) else {
            throw BundleError(.decompressionFailed, "the zstd frame does not declare the payload length the header states")
        }
        do {
            try Zstd.decompress(frame, into: destination)
        } catch {
            throw BundleError(.decompressionFailed, error.description)
        }
        guard Blake2b.hash256(UnsafeRawBufferPointer(destination)) == header.payloadHash else {
            throw BundleError(.hashMismatch, "the payload's BLAKE2b-256 does not match the header")
        }
    }
}

extension Array where Element == UInt8 {
    /// Appends the little-endian bytes of an integer.
    @inlinable
    public mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
