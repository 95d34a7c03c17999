import AllotCore

#if canImport(Glibc)
    import Glibc
#endif

/// The file operations of the exposure spool, in one place, with typed errors.
enum SpoolFiles {
    /// A new file for appending; fails if it exists.
    static func create(_ path: String) throws(SystemError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError(call: "open", path: path, errno: errno) }
        return fd
    }

    /// Opens a file for reading.
    static func openForReading(_ path: String) throws(SystemError) -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw SystemError(call: "open", path: path, errno: errno) }
        return fd
    }

    /// Reads up to `buffer.count` bytes; 0 at the end of the file.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws(SystemError) -> Int {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno != EINTR { throw SystemError(call: "read", path: path, errno: errno) }
        }
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Removes a file and syncs its folder; a missing file is not an error.
    static func remove(_ path: String) {
        if unlink(path) == 0 { FileIO.syncDirectory(of: path) }
    }

    /// Removes the folders holding `path` up to (not including) `root`, as long as they are empty.
    static func removeEmptyFolders(of path: String, below root: String) {
        var folder = path
        while let slash = folder.lastIndex(of: "/") {
            folder = String(folder[..<slash])
            guard folder.count > root.count, folder.hasPrefix(root + "/"), rmdir(folder) == 0 else { return }
        }
    }

    /// Size and modification time (ms since the epoch) of a regular file, without following a
    /// symbolic link; nil for anything else or a missing file.
    static func regularFile(_ path: String) -> (size: Int, modified: Int64)? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return (Int(info.st_size), Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000)
    }

    /// Whether `path` is a directory (not a link to one).
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// Takes an exclusive lock on `path` (created if needed) for as long as the returned
    /// descriptor is open; nil when another process holds it.
    static func lock(_ path: String) throws(SystemError) -> Int32? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError(call: "open", path: path, errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let saved = errno
            _ = Glibc.close(fd)
            if saved == EWOULDBLOCK { return nil }
            throw SystemError(call: "flock", path: path, errno: saved)
        }
        return fd
    }
}
