public import AllotCore

/// The server's cache directory, which lets a restarted server answer at once, before (or without)
/// reaching any store.
///
/// For the bundle being served it holds the verified envelope, `v<version>-<hash>.bundle` (`<hash>`:
/// the first 8 bytes of the envelope's BLAKE2b-256 in hex), and its decompressed payload,
/// `v<version>-<hash>.payload`, which is the file the server maps. Both are written to a temporary
/// file, fsynced and renamed, so a crash leaves the old pair or the new, never a torn file. Nothing
/// read back is trusted: at start the envelope is verified again (header, size limits, signature
/// with the trusted keys) and the payload is checked against the hash the signed header states, or
/// decompressed again from the envelope.
///
/// One cache directory per server process.
public struct BundleCache: Sendable {
    public let directory: String
    let trustedKeys: [PublicKey]
    let limits: BundleLimits

    public init(directory: String, trustedKeys: [PublicKey], limits: BundleLimits = .default) {
        var directory = directory
        while directory.count > 1 && directory.hasSuffix("/") { directory.removeLast() }
        self.directory = directory
        self.trustedKeys = trustedKeys
        self.limits = limits
    }

    /// The file name, without extension, for a bundle.
    static func baseName(version: UInt64, envelopeHash: [UInt8]) -> String {
        "v\(version)-\(Hex.encode(envelopeHash.prefix(8)))"
    }

    /// Stores a verified envelope (its signature checked by the caller), decompresses its payload
    /// into the cache and maps it. Returns the mapped bundle.
    public func install(envelope: [UInt8], header: BundleHeader, envelopeHash: [UInt8]) throws(CacheError) -> LoadedBundle {
        do {
            try CacheFiles.makeDirectories(directory)
            let base = directory + "/" + Self.baseName(version: header.version, envelopeHash: envelopeHash)
            try FileIO.writeAtomically(envelope, to: base + ".bundle")
            try envelope.withUnsafeBytes { bytes in
                Result { () throws(CacheError) in try CacheFiles.writePayload(of: bytes, header: header, to: base + ".payload") }
            }.get()
            // writePayload decompressed through BundleEnvelope.decompress, which checked the hash.
            return try map(base: base, header: header, checkHash: false)
        } catch let error as SystemError {
            throw CacheError(system: error)
        } catch let error as CacheError {
            throw error
        } catch {
            throw CacheError(system: SystemError(call: "cache", path: directory, errno: 0))
        }
    }

    private func map(base: String, header: BundleHeader, checkHash: Bool = true) throws(CacheError) -> LoadedBundle {
        do {
            return try LoadedBundle.map(payloadAt: base + ".payload", header: header, checkHash: checkHash)
        } catch {
            throw CacheError(bundle: error)
        }
    }

    /// A bundle found in the cache and verified again.
    public struct Entry: Sendable {
        public let bundle: LoadedBundle
        public let envelopeHash: [UInt8]
        public let fileName: String
    }

    /// The newest cached bundle that verifies, or nil. Candidates that do not verify are reported
    /// to `rejected` and deleted; a payload that is missing or does not match is decompressed
    /// again from its (verified) envelope.
    public func loadNewest(rejected: (_ file: String, _ error: CacheError) -> Void) -> Entry? {
        guard let names = try? CacheFiles.list(directory) else { return nil }
        var candidates: [(version: UInt64, base: String)] = []
        for name in names where name.hasSuffix(".bundle") && name.hasPrefix("v") {
            let base = String(name.dropLast(".bundle".count))
            guard let dash = base.firstIndex(of: "-"), let version = UInt64(base[base.index(after: base.startIndex)..<dash]) else {
                continue
            }
            candidates.append((version, base))
        }
        candidates.sort { $0.version > $1.version }
        for candidate in candidates {
            let path = directory + "/" + candidate.base
            do {
                return try verify(base: path, fileName: candidate.base + ".bundle")
            } catch {
                rejected(candidate.base + ".bundle", error)
                CacheFiles.remove(path + ".bundle")
                CacheFiles.remove(path + ".payload")
            }
        }
        return nil
    }

    private func verify(base: String, fileName: String) throws(CacheError) -> Entry {
        let envelope: [UInt8]
        do {
            envelope = try FileIO.read(path: base + ".bundle")
        } catch {
            throw CacheError(system: error)
        }
        let header: BundleHeader
        do {
            header = try envelope.withUnsafeBytes { bytes in
                Result { () throws(BundleError) in
                    let header = try BundleHeader.parse(bytes, limits: limits)
                    try header.verifySignature(of: bytes, trustedKeys: trustedKeys)
                    return header
                }
            }.get()
        } catch {
            throw CacheError(bundle: error)
        }
        let hash = Blake2b.hash256(envelope)
        if let bundle = try? map(base: base, header: header) {
            return Entry(bundle: bundle, envelopeHash: hash, fileName: fileName)
        }
        // The payload is missing or damaged: the envelope verified, so decompress it again.
        try envelope.withUnsafeBytes { bytes in
            Result { () throws(CacheError) in try CacheFiles.writePayload(of: bytes, header: header, to: base + ".payload") }
        }.get()
        return Entry(bundle: try map(base: base, header: header), envelopeHash: hash, fileName: fileName)
    }

    /// Deletes every file of the cache except the pair of the bundle `keep` (and leftovers of
    /// interrupted writes). Mappings of deleted payloads stay valid until they are unmapped.
    public func removeAll(exceptVersion version: UInt64, envelopeHash: [UInt8]) {
        let keep = Self.baseName(version: version, envelopeHash: envelopeHash)
        guard let names = try? CacheFiles.list(directory) else { return }
        for name in names where name != keep + ".bundle" && name != keep + ".payload" {
            guard name.hasPrefix("v"), name.contains(".bundle") || name.contains(".payload") else { continue }
            CacheFiles.remove(directory + "/" + name)
        }
    }
}
