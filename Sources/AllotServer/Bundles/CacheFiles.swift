import AllotCore

#if canImport(Glibc)
    import Glibc
#endif

/// The file operations of the bundle cache, in one place, with typed errors.
enum CacheFiles {
    /// Creates `path` and its parents (like `mkdir -p`).
    static func makeDirectories(_ path: String) throws(SystemError) {
        try FileIO.makeDirectories(path)
    }

    /// The names of the entries of `directory` (not `.` and `..`).
    static func list(_ directory: String) throws(SystemError) -> [String] {
        try FileIO.directoryEntries(directory)
    }

    /// Removes a file; a missing file is not an error.
    static func remove(_ path: String) {
        unlink(path)
    }

    /// Decompresses a verified envelope into the file at `path`, atomically: a temporary file
    /// beside it is sized (blocks reserved, so a full disk is an error here rather than a
    /// `SIGBUS` later), mapped writable, filled by `BundleEnvelope.decompress` (which checks the
    /// payload hash), synced and renamed over `path`.
    static func writePayload(of envelope: UnsafeRawBufferPointer, header: BundleHeader, to path: String) throws(CacheError) {
        let temporary = "\(path).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CacheError(system: SystemError(call: "open", path: temporary, errno: errno)) }
        var renamed = false
        defer {
            if !renamed { unlink(temporary) }
        }
        var closed = false
        defer { if !closed { close(fd) } }
        let length = header.payloadLength
        if length > 0 {
            let reserved = posix_fallocate(fd, 0, off_t(length))
            guard reserved == 0 else { throw CacheError(system: SystemError(call: "posix_fallocate", path: temporary, errno: reserved)) }
            guard let address = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), address != MAP_FAILED else {
                throw CacheError(system: SystemError(call: "mmap", path: temporary, errno: errno))
            }
            defer { munmap(address, length) }
            do {
                try BundleEnvelope.decompress(envelope, header: header, into: UnsafeMutableRawBufferPointer(start: address, count: length))
            } catch {
                throw CacheError(bundle: error)
            }
            guard msync(address, length, MS_SYNC) == 0 else {
                throw CacheError(system: SystemError(call: "msync", path: temporary, errno: errno))
            }
        }
        do {
            try FileIO.sync(fd, path: temporary)
            close(fd)
            closed = true
            try FileIO.move(temporary, to: path)
        } catch {
            throw CacheError(system: error)
        }
        renamed = true
    }

}

/// Why the cache could not store or load a bundle: a stable `reason` for metrics and a message.
public struct CacheError: Error, CustomStringConvertible, Sendable {
    /// `io` for file system failures, `misnamed`, else the `BundleError` code (`hash_mismatch`,
    /// `bad_signature`...).
    public let reason: RefusalReason
    public let message: String

    init(system: SystemError) {
        reason = RefusalReason(.io)
        message = system.description
    }

    init(reason: RefusalReason, message: String) {
        self.reason = reason
        self.message = message
    }

    init(bundle: BundleError) {
        reason = RefusalReason(bundle.code)
        message = bundle.message
    }

    public var description: String { "\(reason): \(message)" }
}
