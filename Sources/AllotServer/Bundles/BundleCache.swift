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
        let base = directory + "/" + Self.baseName(version: header.version, envelopeHash: envelopeHash)
        do {
            try CacheFiles.makeDirectories(directory)
            try FileIO.writeAtomically(envelope, to: base + ".bundle")
            try envelope.withUnsafeBytes { bytes in
                Result { () throws(CacheError) in try CacheFiles.writePayload(of: bytes, header: header, to: base + ".payload") }
            }.get()
            // writePayload decompressed through BundleEnvelope.decompress, which checked the hash.
            return try map(base: base, header: header, checkHash: false)
        } catch let error as SystemError {
            removeFiles(base)
            throw CacheError(system: error)
        } catch let error as CacheError {
            // Nothing refused stays in the cache (a restart would only refuse it again).
            removeFiles(base)
            throw error
        } catch {
            removeFiles(base)
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

    /// The newest cached bundle that verifies, or nil.
    ///
    /// The index is each envelope's verified header, never its file name: every `*.bundle` file is
    /// read (a regular file within the size limit, not followed if a link), its header parsed and
    /// its signature checked with the trusted keys, and it must be named after what it is
    /// (`v<header version>-<hash of its bytes>`). A file that fails any of this, such as a valid
    /// older envelope planted under the current name or under `v99-…`, is reported to `rejected`
    /// (reason `misnamed` for a good envelope under a wrong name) and deleted with its payload.
    /// Bundles older than `floor` are not served (nor deleted: a later floor may be lower only
    /// after a restart with another state). A payload that is missing or does not match is
    /// decompressed again from its verified envelope.
    public func loadNewest(atLeast floor: UInt64 = 0, rejected: (_ file: String, _ error: CacheError) -> Void) -> Entry? {
        guard let names = try? CacheFiles.list(directory) else { return nil }
        var candidates: [(header: BundleHeader, base: String, envelope: [UInt8], hash: [UInt8])] = []
        for name in names where name.hasSuffix(".bundle") {
            let base = String(name.dropLast(".bundle".count))
            let path = directory + "/" + base
            do throws(CacheError) {
                let (header, envelope, hash) = try readEnvelope(path + ".bundle")
                guard base == Self.baseName(version: header.version, envelopeHash: hash) else {
                    throw CacheError(
                        reason: .misnamed,
                        message:
                            "the file holds version \(header.version) (\(Self.baseName(version: header.version, envelopeHash: hash))), not what its name says: planted or misplaced"
                    )
                }
                candidates.append((header, base, envelope, hash))
            } catch {
                rejected(name, error)
                CacheFiles.remove(path + ".bundle")
                CacheFiles.remove(path + ".payload")
            }
        }
        candidates.sort { $0.header.version > $1.header.version }
        for candidate in candidates where candidate.header.version >= floor {
            let path = directory + "/" + candidate.base
            do {
                return try load(
                    base: path, header: candidate.header, envelope: candidate.envelope, hash: candidate.hash,
                    fileName: candidate.base + ".bundle")
            } catch {
                rejected(candidate.base + ".bundle", error)
                CacheFiles.remove(path + ".bundle")
                CacheFiles.remove(path + ".payload")
            }
        }
        return nil
    }

    /// Reads and verifies a cached envelope: a regular file within the size limit, a valid header,
    /// a signature by a trusted key. Returns the header, the bytes and their BLAKE2b-256.
    private func readEnvelope(_ path: String) throws(CacheError) -> (BundleHeader, [UInt8], [UInt8]) {
        let envelope: [UInt8]
        do {
            envelope = try FileIO.readRegularFile(path: path, maxBytes: limits.maxCompressedBytes + BundleHeader.minimumEnvelopeLength)
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
        return (header, envelope, Blake2b.hash256(envelope))
    }

    private func load(base: String, header: BundleHeader, envelope: [UInt8], hash: [UInt8], fileName: String) throws(CacheError) -> Entry {
        if let bundle = try? map(base: base, header: header) {
            return Entry(bundle: bundle, envelopeHash: hash, fileName: fileName)
        }
        // The payload is missing or damaged: the envelope verified, so decompress it again.
        try envelope.withUnsafeBytes { bytes in
            Result { () throws(CacheError) in try CacheFiles.writePayload(of: bytes, header: header, to: base + ".payload") }
        }.get()
        return Entry(bundle: try map(base: base, header: header), envelopeHash: hash, fileName: fileName)
    }

    private func removeFiles(_ base: String) {
        CacheFiles.remove(base + ".bundle")
        CacheFiles.remove(base + ".payload")
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
