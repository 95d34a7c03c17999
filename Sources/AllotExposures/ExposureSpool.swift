import AllotCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The spool directory: segments being written, closed segments waiting to be shipped, and files
/// set aside, with a running total of their bytes against the limit.
///
/// ```
/// <spool>/.lock                    held (flock) by the one process that uses the spool
/// <spool>/open/<path>              segments being written (their frame is not finished)
/// <spool>/exposures/<path>         closed segments, complete frames, waiting for the uploader
/// <spool>/rejected/…               files that are not segments, or segments the store refuses
///                                  (kept for a person, the newest up to a tenth of the limit)
/// ```
///
/// `<path>` is `SegmentName.relativePath`, so `exposures/` has the store's layout: DuckDB reads it
/// as it reads the store.
public final class ExposureSpool: Sendable {
    /// A file in one of the spool's trees.
    struct Entry {
        /// The segment it is, or nil when its path is not one a segment has.
        let name: SegmentName?
        let path: String
        let relativePath: String
        let size: Int
        /// When it was last modified (ms since the epoch): for a closed segment, when it was closed.
        let modified: Int64
    }

    public let root: String
    public let limit: Int
    private let lockDescriptor: Int32
    private let total = Atomic<Int>(0)

    var openRoot: String { root + "/open" }
    public var readyRoot: String { root + "/exposures" }
    var rejectedRoot: String { root + "/rejected" }

    /// Takes the spool at `root` (creating it), refusing when another process holds it; counts
    /// the bytes already there and removes temporary files an interrupted process left.
    init(root: String, limit: Int) throws(ExposureError) {
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        self.limit = limit
        do {
            for folder in [root, root + "/open", root + "/exposures", root + "/rejected"] { try FileIO.makeDirectories(folder) }
            // Records carry unit ids: only the server's user may list or read the spool.
            guard chmod(root, 0o700) == 0 else { throw SystemError(call: "chmod", path: root, errno: errno) }
            guard let descriptor = try SpoolFiles.lock(root + "/.lock") else {
                throw ExposureError(.spoolLocked, "\(root): another process uses this exposure spool (it holds \(root)/.lock)")
            }
            lockDescriptor = descriptor
        } catch let error as ExposureError {
            throw error
        } catch {
            throw ExposureError(.io, "exposure spool \(root): \(error)")
        }
        var bytes = 0
        for tree in [openRoot, readyRoot] {
            for entry in entries(under: tree) {
                if entry.relativePath.split(separator: "/").last?.hasPrefix(".tmp-") == true {
                    SpoolFiles.remove(entry.path)
                } else {
                    bytes += entry.size
                }
            }
        }
        total.store(bytes, ordering: .relaxed)
    }

    deinit {
        SpoolFiles.close(lockDescriptor)
    }

    /// Bytes in the spool's segments (open and closed).
    public var bytes: Int { total.load(ordering: .relaxed) }

    func add(_ count: Int) { total.wrappingAdd(count, ordering: .relaxed) }

    func subtract(_ count: Int) { total.wrappingSubtract(count, ordering: .relaxed) }

    /// Closed segments (and anything else) under `exposures/`, oldest segment first, files that
    /// are not segments last.
    func readyEntries() -> [Entry] {
        entries(under: readyRoot).sorted { a, b in
            switch (a.name, b.name) {
            case (let x?, let y?): return x < y
            case (nil, .some): return false
            case (.some, nil): return true
            case (nil, nil): return a.relativePath < b.relativePath
            }
        }
    }

    /// Files under `open/`: segments a previous process was writing when it stopped.
    func openEntries() -> [Entry] { entries(under: openRoot) }

    /// Where a segment is written while open, and where it waits once closed.
    func openPath(_ name: SegmentName) -> String { openRoot + "/" + name.relativePath }
    func readyPath(_ name: SegmentName) -> String { readyRoot + "/" + name.relativePath }

    /// Moves a file that is not a segment (or not a valid one, or one the store refuses) out of
    /// the way, into `rejected/`, where it no longer counts against the limit. `rejected/` is
    /// kept for a person but bounded: past `rejectedLimit` bytes its oldest files are deleted.
    /// Returns how many were deleted for this one.
    @discardableResult
    func reject(_ entry: Entry) -> Int {
        let flat = entry.relativePath.replacingSlashes()
        do {
            try FileIO.move(entry.path, to: rejectedRoot + "/" + flat)
        } catch {
            SpoolFiles.remove(entry.path)
        }
        subtract(entry.size)
        return trimRejected()
    }

    /// The most `rejected/` keeps: a tenth of the spool's limit.
    var rejectedLimit: Int { limit / 10 }

    /// Deletes the oldest files of `rejected/` until it holds at most `rejectedLimit` bytes (the
    /// newest file is kept even when it alone is larger: it is the one a person looks for).
    /// Returns how many it deleted.
    private func trimRejected() -> Int {
        var files = entries(under: rejectedRoot).sorted { ($0.modified, $0.relativePath) < ($1.modified, $1.relativePath) }
        var bytes = files.reduce(0) { $0 + $1.size }
        var deleted = 0
        while bytes > rejectedLimit, files.count > 1 {
            let oldest = files.removeFirst()
            SpoolFiles.remove(oldest.path)
            bytes -= oldest.size
            deleted += 1
        }
        return deleted
    }

    /// Every regular file up to four folders below `tree` (the depth of a segment's path).
    private func entries(under tree: String) -> [Entry] {
        var found: [Entry] = []
        func walk(_ folder: String, _ relative: String, depth: Int) {
            guard let names = try? FileIO.directoryEntries(folder) else { return }
            for name in names {
                let path = folder + "/" + name
                let relativePath = relative.isEmpty ? name : relative + "/" + name
                if let file = SpoolFiles.regularFile(path) {
                    found.append(
                        Entry(
                            name: SegmentName(relativePath: relativePath), path: path, relativePath: relativePath, size: file.size,
                            modified: file.modified))
                } else if depth < 3, SpoolFiles.isDirectory(path) {
                    walk(path, relativePath, depth: depth + 1)
                }
            }
        }
        walk(tree, "", depth: 0)
        return found
    }
}

extension String {
    fileprivate func replacingSlashes() -> String {
        String(map { $0 == "/" ? "," : $0 })
    }
}
