import AllotCore

/// Why a segment file could not be written or read.
enum SegmentFailure: Error, CustomStringConvertible {
    case system(SystemError)
    case zstd(ZstdError)

    var description: String {
        switch self {
        case .system(let error): error.description
        case .zstd(let error): error.description
        }
    }
}

/// A segment being written: one file under the spool's `open/`, holding one zstd frame (with the
/// content checksum) that grows as records are compressed into it, and flushed at every writer
/// cycle so that the file always decodes to whole blocks. `finish` ends the frame, syncs the file
/// and moves it under `exposures/`, where the uploader finds it.
///
/// Used by the writer thread only.
final class OpenSegment {
    let name: SegmentName
    let openPath: String
    let readyPath: String
    private let fd: Int32
    let compressor: ZstdCompressor
    /// Records waiting to be compressed, and how many events they are.
    var staging: StagingBuffer
    var stagedEvents = 0
    /// Compressed bytes in the file.
    private(set) var fileBytes = 0
    /// Events compressed into the frame.
    private(set) var events = 0
    /// Input given to zstd since the last flush (zstd may hold up to a block of it).
    private var unflushedInput = 0
    /// When it was opened (monotonic milliseconds).
    let openedAt: Int64

    /// Creates the file for `name` (and its folders) in `spool`.
    init(name: SegmentName, spool: ExposureSpool, compressor: ZstdCompressor, now: Int64, stagingCapacity: Int) throws(SystemError) {
        self.name = name
        openPath = spool.openPath(name)
        readyPath = spool.readyPath(name)
        try FileIO.makeDirectories(String(openPath[..<openPath.lastIndex(of: "/")!]))
        fd = try SpoolFiles.create(openPath)
        self.compressor = compressor
        compressor.reset()
        openedAt = now
        staging = StagingBuffer(capacity: stagingCapacity)
    }

    /// The most bytes the file can hold once the staged records and whatever zstd holds are
    /// written and the frame is ended.
    var boundAfterStaged: Int {
        fileBytes + ZstdCompressor.bound(unflushedInput + staging.count) + 64
    }

    /// Compresses the staged records into the frame and writes what zstd emits. `flush` also
    /// writes what zstd held back, so the file decodes to every record given so far.
    func writeStaged(flush: Bool, spool: ExposureSpool) throws(SegmentFailure) {
        guard staging.count > 0 || (flush && unflushedInput > 0) else { return }
        try compress(flush ? .flush : .continue, spool: spool)
        events += stagedEvents
        unflushedInput = flush ? 0 : unflushedInput + staging.count
        staging.removeAll()
        stagedEvents = 0
    }

    /// Ends the frame (with the staged records), syncs the file, closes it and moves it under
    /// `exposures/`. On failure the file stays in `open/` (closed), for recovery.
    func finish(spool: ExposureSpool) throws(SegmentFailure) {
        defer { SpoolFiles.close(fd) }
        try compress(.end, spool: spool)
        events += stagedEvents
        staging.removeAll()
        stagedEvents = 0
        unflushedInput = 0
        do {
            try FileIO.sync(fd, path: openPath)
            let folder = String(readyPath[..<readyPath.lastIndex(of: "/")!])
            try FileIO.makeDirectories(folder)
            do {
                try FileIO.move(openPath, to: readyPath)
            } catch  where error.isNotFound {
                // The uploader removed the (empty) folder in between: make it again.
                try FileIO.makeDirectories(folder)
                try FileIO.move(openPath, to: readyPath)
            }
        } catch {
            throw .system(error)
        }
        SpoolFiles.removeEmptyFolders(of: openPath, below: spool.openRoot)
    }

    /// Closes the file without ending the frame (after a failure): it stays in `open/`.
    func abandon() {
        SpoolFiles.close(fd)
    }

    private func compress(_ directive: ZstdCompressor.Directive, spool: ExposureSpool) throws(SegmentFailure) {
        let written = try compressor.compress(staging.bytes, directive, toFile: fd, path: openPath)
        fileBytes += written
        spool.add(written)
    }
}

extension ZstdCompressor {
    /// Compresses `input` and writes all the output to the file `fd`; returns the bytes written.
    func compress(_ input: UnsafeRawBufferPointer, _ directive: Directive, toFile fd: Int32, path: String) throws(SegmentFailure) -> Int {
        var written = 0
        var failure: SystemError?
        do throws(ZstdError) {
            try compress(input, directive) { output in
                do throws(SystemError) {
                    try FileIO.writeAll(fd, output, path: path)
                } catch {
                    failure = error
                    return false
                }
                written += output.count
                return true
            }
        } catch {
            if let failure { throw .system(failure) }
            throw .zstd(error)
        }
        return written
    }
}
