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

/// The few file operations the core library needs, through one place with typed errors.
public enum FileIO {
    /// The whole content of a file.
    public static func read(path: String) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(call: "open", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError(call: "fstat", path: path, errno: errno) }
        return try readToEnd(fd, expectedSize: Int(info.st_size), maxBytes: Int.max - 1, path: path)
    }

    /// Reads `fd` to its end: at most `maxBytes`, else `EFBIG` (the read stops one byte past the
    /// limit). `expectedSize` (from `fstat`) sizes the buffer; a file that grew is still read whole
    /// up to the limit, and one that shrank returns what is there.
    public static func readToEnd(_ fd: Int32, expectedSize: Int, maxBytes: Int, path: String) throws(SystemError) -> [UInt8] {
        var capacity = min(max(expectedSize, 0), maxBytes) + 1
        var result = [UInt8](repeating: 0, count: capacity)
        var filled = 0
        while true {
            if filled == capacity {
                guard capacity <= maxBytes else { throw SystemError(call: "read", path: path, errno: EFBIG) }
                capacity = min(max(capacity * 2, 1 << 16), maxBytes + 1)
                result.append(contentsOf: repeatElement(0, count: capacity - result.count))
            }
            let count = result.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress! + filled, capacity - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemError(call: "read", path: path, errno: errno)
            }
            if count == 0 { break }
            filled += count
        }
        guard filled <= maxBytes else { throw SystemError(call: "read", path: path, errno: EFBIG) }
        result.removeLast(result.count - filled)
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
        return try readToEnd(fd, expectedSize: Int(info.st_size), maxBytes: maxBytes, path: path)
    }

    /// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, rename, fsync of
    /// the directory. Readers see the old content or the new, never a partial file.
    public static func writeAtomically(_ bytes: UnsafeRawBufferPointer, to path: String, mode: UInt32 = 0o644) throws(SystemError) {
        let temporary = "\(path).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try writeNewFile(bytes, to: temporary, mode: mode)
        do throws(SystemError) {
            try move(temporary, to: path)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Creates the file `path` (it must not exist), writes all of `bytes`, sets `mode` (whatever
    /// the umask) and fsyncs it. On failure the file is removed.
    public static func writeNewFile(_ bytes: UnsafeRawBufferPointer, to path: String, mode: UInt32 = 0o644) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw SystemError(call: "open", path: path, errno: errno) }
        do throws(SystemError) {
            try writeAll(fd, bytes, path: path)
            guard fchmod(fd, mode_t(mode)) == 0 else { throw SystemError(call: "fchmod", path: path, errno: errno) }
            try sync(fd, path: path)
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        close(fd)
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and interruptions.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(SystemError) {
        var written = 0
        while written < bytes.count {
            let count = write(fd, bytes.baseAddress! + written, bytes.count - written)
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemError(call: "write", path: path, errno: errno)
            }
            written += count
        }
    }

    /// fsyncs `fd`.
    public static func sync(_ fd: Int32, path: String) throws(SystemError) {
        guard fsync(fd) == 0 else { throw SystemError(call: "fsync", path: path, errno: errno) }
    }

    /// Renames `from` to `to` (replacing it) and fsyncs the folders of both, so the move survives
    /// a crash.
    public static func move(_ from: String, to: String) throws(SystemError) {
        guard rename(from, to) == 0 else { throw SystemError(call: "rename", path: to, errno: errno) }
        syncDirectory(of: to)
        if directory(of: from) != directory(of: to) { syncDirectory(of: from) }
    }

    /// Writes `bytes` to `path` atomically (see the raw-buffer overload).
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: UInt32 = 0o644) throws(SystemError) {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(SystemError) in try writeAtomically(buffer, to: path, mode: mode) }
        }.get()
    }

    /// fsyncs the directory holding `path`, so a rename into it survives a crash. Best effort.
    public static func syncDirectory(of path: String) {
        let fd = open(directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// The folder holding `path` (`.` for a bare name).
    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
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
