internal import AllotCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A folder on this machine as an ``ObjectStore``: the default for development and tests.
///
/// - An object is a file at `<root>/<key>`; its entity tag is the first 16 bytes of the BLAKE2b-256
///   of its content, in hex and quotes, so equal content has equal tags, as with S3's MD5 tags.
/// - Writes are atomic: the bytes go to a temporary file in `<root>/.allot-tmp/`, are fsynced, and
///   the file is renamed over the key (then the folder is fsynced). Readers never see a partial object.
/// - Preconditions (`If-None-Match: *`, `If-Match`) are checked and the rename done while holding
///   an exclusive `flock` on `<root>/.allot-lock`, so concurrent writers on this machine, in one
///   process or many, cannot interleave a check and a write. Readers take no lock.
/// - Names starting with `.allot` at the root are the store's own and never listed.
/// - Reads are bounded: an object is opened with `O_NOFOLLOW | O_NONBLOCK` and read only if it is
///   a regular file (`fstat`), and never past the reader's limit (``get(_:ifNoneMatch:maxBytes:)``,
///   else ``ObjectStoreLimits/unboundedReadBytes``). A symbolic link (to `/dev/zero`, say), a FIFO
///   or a device in the store is refused with `not_regular_file`, never followed, read or waited on.
public struct LocalStore: ObjectStore {
    public let location: StoreLocation
    /// The folder.
    public let root: String
    /// Microseconds to sleep between checking a precondition and renaming, holding the lock.
    /// Zero except in tests, which widen the window so a missing lock would show.
    var testingCommitDelay: UInt32 = 0

    public init(root: String) {
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        self.location = .local(path: root)
    }

    static func etag(of bytes: [UInt8]) -> ETag {
        ETag("\"" + Hex.encode(Blake2b.hash256(bytes).prefix(16)) + "\"")
    }

    func path(_ key: String) -> String { root + "/" + key }

    // MARK: ObjectStore

    public func get(_ key: String, ifNoneMatch: ETag?) async throws(StoreError) -> ReadResult {
        try ObjectKey.validate(key)
        try requireRoot(key: key)
        guard let bytes = try readIfPresent(key) else { throw StoreError(.notFound, "no such object", store: location, key: key) }
        let etag = Self.etag(of: bytes)
        if let ifNoneMatch, ifNoneMatch == etag || ifNoneMatch.value == "*" { return .notModified }
        return .object(StoredObject(key: key, bytes: bytes, etag: etag))
    }

    public func get(_ key: String, ifNoneMatch: ETag?, maxBytes: Int) async throws(StoreError) -> ReadResult {
        try ObjectKey.validate(key)
        try requireRoot(key: key)
        guard let bytes = try readIfPresent(key, maxBytes: max(0, maxBytes)) else {
            throw StoreError(.notFound, "no such object", store: location, key: key)
        }
        let etag = Self.etag(of: bytes)
        if let ifNoneMatch, ifNoneMatch == etag || ifNoneMatch.value == "*" { return .notModified }
        return .object(StoredObject(key: key, bytes: bytes, etag: etag))
    }

    /// The `tooLarge` error of a bounded read (S3's too).
    static func tooLarge(size: Int?, maxBytes: Int, store: StoreLocation, key: String) -> StoreError {
        StoreError(
            .tooLarge,
            "the object is \(size.map { "\($0) bytes" } ?? "of unknown size"), more than the \(maxBytes) accepted: not downloaded",
            store: store, key: key)
    }

    public func head(_ key: String) async throws(StoreError) -> ObjectInfo? {
        try ObjectKey.validate(key)
        try requireRoot(key: key)
        guard let bytes = try readIfPresent(key) else { return nil }
        return ObjectInfo(key: key, size: bytes.count, etag: Self.etag(of: bytes))
    }

    public func put(_ key: String, bytes: [UInt8], condition: WriteCondition) async throws(StoreError) -> ETag {
        try ObjectKey.validate(key)
        let target = path(key)
        let temporaryFolder = root + "/.allot-tmp"
        try storeIO(key: key) { () throws(SystemError) in
            try FileIO.makeDirectories(temporaryFolder)
            if let slash = key.lastIndex(of: "/") { try FileIO.makeDirectories(root + "/" + key[..<slash]) }
        }

        // Write and fsync outside the lock; only the check and the rename happen under it.
        let temporary = "\(temporaryFolder)/\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try storeIO(key: key) { () throws(SystemError) in
            try bytes.withUnsafeBytes { buffer in
                Result { () throws(SystemError) in try FileIO.writeNewFile(buffer, to: temporary) }
            }.get()
        }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }

        let lock = try acquireLock(key: key)
        defer { close(lock) }
        switch condition {
        case .none:
            break
        case .ifAbsent:
            if try readIfPresent(key) != nil {
                throw StoreError(
                    .preconditionFailed, "the object already exists (If-None-Match: *)", store: location, key: key, httpStatus: 412)
            }
        case .ifMatch(let expected):
            guard let current = try readIfPresent(key) else {
                throw StoreError(
                    .notFound, "the object to replace is gone (If-Match: \(expected))", store: location, key: key, httpStatus: 404)
            }
            let actual = Self.etag(of: current)
            guard actual == expected else {
                throw StoreError(
                    .preconditionFailed, "the object changed: its tag is \(actual), not \(expected)", store: location, key: key,
                    httpStatus: 412)
            }
        }
        if testingCommitDelay > 0 { usleep(testingCommitDelay) }
        try storeIO(key: key) { () throws(SystemError) in try FileIO.move(temporary, to: target) }
        renamed = true
        return Self.etag(of: bytes)
    }

    public func list(prefix: String) async throws(StoreError) -> [ObjectInfo] {
        try requireRoot(key: nil)
        var results: [ObjectInfo] = []
        try walk(relative: "", into: &results, prefix: prefix)
        return results.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
    }

    // MARK: Files

    private func ioError(_ call: String, _ path: String, key: String?) -> StoreError {
        let error = SystemError(call: call, path: path, errno: errno)
        return StoreError(.io, error.description, store: location, key: key)
    }

    /// Reads go to an existing folder only: a missing root is an error, not an empty store.
    private func requireRoot(key: String?) throws(StoreError) {
        var info = stat()
        guard stat(root, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw StoreError(.unreachable, "the store folder \(root) does not exist or is not a folder", store: location, key: key)
        }
    }

    /// The object's bytes, nil if there is none (or it is a folder). At most `maxBytes` are read:
    /// a larger file throws `tooLarge` (its size is checked before reading, and the read stops one
    /// byte past the limit in case it grows). Only regular files are read, never through a link.
    private func readIfPresent(_ key: String, maxBytes: Int = ObjectStoreLimits.unboundedReadBytes) throws(StoreError) -> [UInt8]? {
        let file = path(key)
        let fd = open(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            switch errno {
            case ENOENT, ENOTDIR: return nil
            case ELOOP:
                throw StoreError(
                    .notRegularFile, "the object is a symbolic link: refused, store files are never followed", store: location, key: key)
            default: throw ioError("open", file, key: key)
            }
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ioError("fstat", file, key: key) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return nil
        default:
            let kind = info.st_mode & S_IFMT == S_IFIFO ? "a FIFO" : info.st_mode & S_IFMT == S_IFSOCK ? "a socket" : "a device"
            throw StoreError(
                .notRegularFile, "the object is \(kind), not a regular file: refused without reading", store: location, key: key)
        }
        guard Int(info.st_size) <= maxBytes else {
            throw Self.tooLarge(size: Int(info.st_size), maxBytes: maxBytes, store: location, key: key)
        }
        do {
            return try FileIO.readToEnd(fd, expectedSize: Int(info.st_size), maxBytes: maxBytes, path: file)
        } catch  where error.errno == EFBIG {
            throw Self.tooLarge(size: nil, maxBytes: maxBytes, store: location, key: key)
        } catch {
            throw StoreError(.io, error.description, store: location, key: key)
        }
    }

    /// Runs file operations, reporting a failure as the store's `io` error for `key`.
    private func storeIO(key: String, _ body: () throws(SystemError) -> Void) throws(StoreError) {
        do {
            try body()
        } catch {
            throw StoreError(.io, error.description, store: location, key: key)
        }
    }

    /// An exclusive lock on `<root>/.allot-lock`, released by closing the descriptor.
    private func acquireLock(key: String) throws(StoreError) -> Int32 {
        let lockPath = root + "/.allot-lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ioError("open", lockPath, key: key) }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let error = ioError("flock", lockPath, key: key)
            close(fd)
            throw error
        }
        return fd
    }

    private func walk(relative: String, into results: inout [ObjectInfo], prefix: String) throws(StoreError) {
        let folder = relative.isEmpty ? root : root + "/" + relative
        let entries: [String]
        do {
            entries = try FileIO.directoryEntries(folder)
        } catch {
            if error.isNotFound { return }
            throw StoreError(.io, error.description, store: location, key: nil)
        }
        let names = relative.isEmpty ? entries.filter { !$0.hasPrefix(".allot") } : entries
        for name in names {
            let key = relative.isEmpty ? name : relative + "/" + name
            // Skip whole subtrees that cannot hold a key with the prefix.
            guard key.hasPrefix(prefix) || prefix.hasPrefix(key + "/") else { continue }
            var info = stat()
            guard lstat(root + "/" + key, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try walk(relative: key, into: &results, prefix: prefix)
            case S_IFREG where key.hasPrefix(prefix):
                if let bytes = try readIfPresent(key) {
                    results.append(ObjectInfo(key: key, size: bytes.count, etag: Self.etag(of: bytes)))
                }
            default:
                continue
            }
        }
    }
}
