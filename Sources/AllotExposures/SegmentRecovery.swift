import AllotCore

#if canImport(Glibc)
    import Glibc
#endif

/// Recovers the complete records of a segment whose frame was never finished (the process was
/// killed, or its disk failed, while it was open).
///
/// The writer flushes the frame at every cycle, so the file decodes to whole zstd blocks up to
/// the last flush. Recovery decodes as far as the file allows (to its end, or to the first corrupt
/// byte), keeps every complete line that looks like a record (`{…}` then a newline), drops the
/// line cut short, and writes what it kept as one complete frame with its checksum, atomically, at
/// the destination. Memory stays bounded: the file is streamed, and only an unfinished line
/// (at most `maxLine` bytes) is held.
enum SegmentRecovery {
    struct Outcome {
        /// Records kept.
        var records = 0
        /// Bytes of the frame written (0 when nothing was kept and nothing written).
        var bytes = 0
        /// Why decoding stopped before the end of the file, if it did.
        var stoppedEarly: String?
    }

    /// No record is longer than this; a longer "line" means the bytes are not records.
    static let maxLine = 1 << 20

    static func recover(source: String, destination: String, level: Int32) throws(SegmentFailure) -> Outcome {
        let input: Int32
        do {
            input = try SpoolFiles.openForReading(source)
        } catch {
            throw .system(error)
        }
        defer { SpoolFiles.close(input) }
        let folder = String(destination[..<destination.lastIndex(of: "/")!])
        let temporary = folder + "/.tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let output: Int32
        let decompressor: ZstdDecompressor
        let compressor: ZstdCompressor
        do {
            try FileIO.makeDirectories(folder)
            output = try SpoolFiles.create(temporary)
            decompressor = try ZstdDecompressor()
            compressor = try ZstdCompressor(level: level, checksum: true)
        } catch let error as SystemError {
            throw .system(error)
        } catch let error as ZstdError {
            throw .zstd(error)
        } catch {
            throw .system(SystemError(call: "recover", path: source, errno: EIO))
        }
        var moved = false
        defer {
            SpoolFiles.close(output)
            if !moved { SpoolFiles.remove(temporary) }
        }

        var outcome = Outcome()
        var pending: [UInt8] = []
        var corrupt = false

        /// Compresses `bytes` (whole records) into the output file.
        func emit(_ bytes: UnsafeRawBufferPointer, _ directive: ZstdCompressor.Directive) throws(SegmentFailure) {
            outcome.bytes += try compressor.compress(bytes, directive, toFile: output, path: temporary)
        }

        /// Moves the complete, well-formed lines at the start of `pending` to the output.
        func drainLines() throws(SegmentFailure) {
            var end = 0
            while !corrupt, let newline = pending[end...].firstIndex(of: 0x0A) {
                let looksLikeRecord = newline - end >= 2 && pending[end] == UInt8(ascii: "{") && pending[newline - 1] == UInt8(ascii: "}")
                guard looksLikeRecord else {
                    corrupt = true
                    break
                }
                outcome.records += 1
                end = newline + 1
            }
            if end > 0 {
                let failure: SegmentFailure? = pending.withUnsafeBytes { bytes -> SegmentFailure? in
                    do throws(SegmentFailure) {
                        try emit(UnsafeRawBufferPointer(rebasing: bytes[0..<end]), .continue)
                        return nil
                    } catch {
                        return error
                    }
                }
                if let failure { throw failure }
            }
            pending.removeSubrange(0..<end)
            if pending.count > maxLine { corrupt = true }
        }

        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { chunk.deallocate() }
        reading: while !corrupt {
            let count: Int
            do {
                count = try SpoolFiles.read(input, into: chunk, path: source)
            } catch {
                throw .system(error)
            }
            if count == 0 { break }
            var sinkFailure: SegmentFailure?
            do throws(ZstdError) {
                try decompressor.decompress(UnsafeRawBufferPointer(rebasing: chunk[0..<count])) { piece in
                    pending.append(contentsOf: piece)
                    do throws(SegmentFailure) {
                        try drainLines()
                    } catch {
                        sinkFailure = error
                        return false
                    }
                    return !corrupt
                }
            } catch {
                if let sinkFailure { throw sinkFailure }
                if !corrupt { outcome.stoppedEarly = error.description }
                break reading
            }
            if decompressor.frameComplete { break }
        }
        if corrupt && outcome.stoppedEarly == nil { outcome.stoppedEarly = "bytes that are not records" }
        guard outcome.records > 0 else { return Outcome(records: 0, bytes: 0, stoppedEarly: outcome.stoppedEarly) }
        try emit(UnsafeRawBufferPointer(start: nil, count: 0), .end)
        do {
            try FileIO.sync(output, path: temporary)
            try FileIO.move(temporary, to: destination)
        } catch {
            throw .system(error)
        }
        moved = true
        return outcome
    }
}
