#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

#if canImport(Glibc)
    private let systemRead = Glibc.read
#elseif canImport(Darwin)
    private let systemRead = Darwin.read
#endif

/// A failed system call: which call, on which path, and `errno` as text.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public let call: String
    public let path: String
    public let errno: Int32

    public init(call: String, path: String, errno: Int32) {
        self.call = call
        self.path = path
        self.errno = errno
    }

    public var description: String {
        "\(call) \(path): \(String(cString: strerror(errno)))"
    }

    /// Whether the file does not exist.
    public var isNotFound: Bool { errno == ENOENT }
}

/// The few file operations the core library needs, through one place with typed errors.
public enum FileIO {
    /// The whole content of a file.
    public static func read(path: String) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(call: "open", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError(call: "fstat", path: path, errno: errno) }
        var result = [UInt8]()
        result.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemError(call: "read", path: path, errno: errno)
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
        }
        return result
    }

    /// The content of a regular file of at most `maxBytes` bytes, opened without following a
    /// symbolic link (`ELOOP`) and without blocking on a FIFO. Anything but a regular file fails
    /// with `EINVAL` (call `fstat`), a larger file with `EFBIG` (checked before reading, and the
    /// read stops one byte past the limit in case it grows).
    public static func readRegularFile(path: String, maxBytes: Int) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(call: "open", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError(call: "fstat", path: path, errno: errno) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw SystemError(call: "fstat (not a regular file)", path: path, errno: EINVAL) }
        guard Int(info.st_size) <= maxBytes else { throw SystemError(call: "fstat", path: path, errno: EFBIG) }
        let capacity = Int(info.st_size) + 1
        var result = [UInt8](repeating: 0, count: capacity)
        var filled = 0
        while filled < capacity {
            let count = result.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress! + filled, capacity - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemError(call: "read", path: path, errno: errno)
            }
            if count == 0 { break }
            filled += count
        }
        guard filled <= maxBytes, filled < capacity else { throw SystemError(call: "read", path: path, errno: EFBIG) }
        result.removeLast(capacity - filled)
        return result
    }

    /// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, rename, fsync of
    /// the directory. Readers see the old content or the new, never a partial file.
    public static func writeAtomically(_ bytes: UnsafeRawBufferPointer, to path: String, mode: UInt32 = 0o644) throws(SystemError) {
        let mode = mode_t(mode)
        let temporary = "\(path).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError(call: "open", path: temporary, errno: errno) }
        var written = 0
        while written < bytes.count {
            let count = write(fd, bytes.baseAddress! + written, bytes.count - written)
            if count < 0 {
                if errno == EINTR { continue }
                let saved = errno
                close(fd)
                unlink(temporary)
                throw SystemError(call: "write", path: temporary, errno: saved)
            }
            written += count
        }
        if fchmod(fd, mode) != 0 || fsync(fd) != 0 {
            let saved = errno
            close(fd)
            unlink(temporary)
            throw SystemError(call: "fsync", path: temporary, errno: saved)
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let saved = errno
            unlink(temporary)
            throw SystemError(call: "rename", path: path, errno: saved)
        }
        syncDirectory(of: path)
    }

    /// Writes `bytes` to `path` atomically (see the raw-buffer overload).
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: UInt32 = 0o644) throws(SystemError) {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(SystemError) in try writeAtomically(buffer, to: path, mode: mode) }
        }.get()
    }

    /// fsyncs the directory holding `path`, so a rename into it survives a crash. Best effort.
    public static func syncDirectory(of path: String) {
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// Creates `path` and its parents (like `mkdir -p`).
    public static func makeDirectories(_ path: String) throws(SystemError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw SystemError(call: "mkdir", path: current, errno: errno)
            }
        }
    }

    /// Whether a file exists at `path`.
    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// The names of the entries of `directory`, in the order the system lists them (not `.`
    /// and `..`).
    public static func directoryEntries(_ directory: String) throws(SystemError) -> [String] {
        guard let stream = opendir(directory) else { throw SystemError(call: "opendir", path: directory, errno: errno) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
