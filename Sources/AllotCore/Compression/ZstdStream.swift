internal import CZstd

/// Streaming zstd compression into one frame: input arrives in pieces, output leaves through a
/// sink in pieces of at most `ZSTD_CStreamOutSize()` bytes, and memory stays fixed (the context and
/// one output buffer) however long the frame grows. Used for the exposure log's segments, where one
/// frame is written for minutes while the process runs.
///
/// Not `Sendable`: one thread uses a compressor at a time.
public final class ZstdCompressor {
    /// What to do with the input and the data zstd holds back.
    public enum Directive: Sendable {
        /// Compress; zstd may keep some of it buffered (up to one block).
        case `continue`
        /// Compress and emit everything given so far, ending the current block: the frame stays
        /// open, and a reader of the bytes written so far decodes all of this input.
        case flush
        /// Compress, emit everything and close the frame (with its checksum when asked for).
        case end
    }

    private let context: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer

    /// A compressor at `level` (1 is fast; negative levels are faster still); `checksum` adds
    /// the frame's content checksum (XXH64 of the content, checked by every reader).
    public init(level: Int32, checksum: Bool) throws(ZstdError) {
        guard let context = ZSTD_createCCtx() else { throw .failed("ZSTD_createCCtx returned nil") }
        for (parameter, value) in [(ZSTD_c_compressionLevel, level), (ZSTD_c_checksumFlag, checksum ? 1 : 0)] {
            let status = ZSTD_CCtx_setParameter(context, parameter, value)
            guard ZSTD_isError(status) == 0 else {
                ZSTD_freeCCtx(context)
                throw .failed(String(cString: ZSTD_getErrorName(status)))
            }
        }
        self.context = context
        output = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeCCtx(context)
        output.deallocate()
    }

    /// The most bytes compressing `count` input bytes can produce (zstd's bound).
    public static func bound(_ count: Int) -> Int { ZSTD_compressBound(count) }

    /// Compresses `input` and hands every piece of output to `sink`, in order. The pieces are
    /// valid only during the call. A sink returning false stops the work: the frame is then
    /// unusable and the compressor must be `reset()`; so does a thrown error.
    public func compress(_ input: UnsafeRawBufferPointer, _ directive: Directive, sink: (UnsafeRawBufferPointer) -> Bool) throws(ZstdError)
    {
        let mode: ZSTD_EndDirective =
            switch directive {
            case .continue: ZSTD_e_continue
            case .flush: ZSTD_e_flush
            case .end: ZSTD_e_end
            }
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while true {
            var destination = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let remaining = ZSTD_compressStream2(context, &destination, &source, mode)
            guard ZSTD_isError(remaining) == 0 else { throw .failed(String(cString: ZSTD_getErrorName(remaining))) }
            if destination.pos > 0, !sink(UnsafeRawBufferPointer(start: output.baseAddress, count: destination.pos)) {
                throw .sinkFailed
            }
            // `continue` is done once the input is consumed; `flush` and `end` once zstd has
            // nothing left to emit.
            let done = directive == .continue ? source.pos == source.size : remaining == 0
            if done { return }
        }
    }

    /// Forgets the frame in progress; the next `compress` starts a new frame.
    public func reset() {
        ZSTD_CCtx_reset(context, ZSTD_reset_session_only)
    }
}

/// Streaming zstd decompression of one frame that may be cut short: input arrives in pieces,
/// output leaves through a sink, and a frame whose end never came (a writer that was killed)
/// gives back everything up to its last complete block.
public final class ZstdDecompressor {
    private let context: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer
    /// Whether the frame's last block (and checksum, if any) has been read and checked.
    public private(set) var frameComplete = false

    public init() throws(ZstdError) {
        guard let context = ZSTD_createDCtx() else { throw .failed("ZSTD_createDCtx returned nil") }
        // A window larger than 128 MiB is refused: bounds the memory a hostile frame can demand.
        ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, 27)
        self.context = context
        output = .allocate(byteCount: ZSTD_DStreamOutSize(), alignment: 16)
    }

    deinit {
        ZSTD_freeDCtx(context)
        output.deallocate()
    }

    /// Decompresses `input` (the next bytes of the frame) and hands the content to `sink` in
    /// order. Throws on corrupt data or a checksum mismatch, and `trailingData` for bytes after
    /// the end of the frame. A sink returning false stops with `sinkFailed`.
    public func decompress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) -> Bool) throws(ZstdError) {
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while source.pos < source.size || !frameComplete {
            if frameComplete { throw .trailingData }
            var destination = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
            let hint = ZSTD_decompressStream(context, &destination, &source)
            guard ZSTD_isError(hint) == 0 else { throw .failed(String(cString: ZSTD_getErrorName(hint))) }
            if destination.pos > 0, !sink(UnsafeRawBufferPointer(start: output.baseAddress, count: destination.pos)) {
                throw .sinkFailed
            }
            if hint == 0 { frameComplete = true }
            // No progress possible without more input.
            if destination.pos < destination.size && source.pos == source.size && !frameComplete { return }
        }
    }
}
