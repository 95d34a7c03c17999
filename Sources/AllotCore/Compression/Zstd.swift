internal import CZstd

/// zstd compression through libzstd. One frame per bundle, with its content size recorded so a
/// reader can bound the allocation before decompressing.
public enum Zstd {
    /// The compression level bundles are written with.
    public static let defaultLevel: Int32 = 19

    /// One zstd frame holding `bytes`, with the content size in the frame header.
    public static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32 = defaultLevel) throws(ZstdError) -> [UInt8] {
        let bound = ZSTD_compressBound(bytes.count)
        var output = [UInt8](repeating: 0, count: bound)
        guard let context = ZSTD_createCCtx() else { throw .failed("ZSTD_createCCtx returned nil") }
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 0)
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_compress2(context, out.baseAddress, out.count, bytes.baseAddress, bytes.count)
        }
        guard ZSTD_isError(written) == 0 else { throw .failed(String(cString: ZSTD_getErrorName(written))) }
        output.removeSubrange(written...)
        return output
    }

    /// The decompressed size a frame declares in its header, or nil when it declares none or is not a frame.
    public static func declaredContentSize(_ frame: UnsafeRawBufferPointer) -> UInt64? {
        let size = ZSTD_getFrameContentSize(frame.baseAddress, frame.count)
        if size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR { return nil }
        return size
    }

    /// Whether `bytes` are exactly one complete zstd frame: nothing missing, nothing after it.
    public static func isSingleFrame(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let size = ZSTD_findFrameCompressedSize(bytes.baseAddress, bytes.count)
        return ZSTD_isError(size) == 0 && size == bytes.count
    }

    /// Decompresses exactly one frame into `destination`, which must be exactly the expected size.
    /// Fails if the frame is malformed, holds more or fewer bytes, or is followed by other data.
    public static func decompress(_ frame: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(ZstdError) {
        let frameSize = ZSTD_findFrameCompressedSize(frame.baseAddress, frame.count)
        guard ZSTD_isError(frameSize) == 0 else { throw .failed(String(cString: ZSTD_getErrorName(frameSize))) }
        guard frameSize == frame.count else { throw .trailingData }
        let written = ZSTD_decompress(destination.baseAddress, destination.count, frame.baseAddress, frame.count)
        guard ZSTD_isError(written) == 0 else { throw .failed(String(cString: ZSTD_getErrorName(written))) }
        guard written == destination.count else { throw .sizeMismatch(expected: destination.count, actual: written) }
    }
}

/// Why zstd failed.
public enum ZstdError: Error, Equatable, CustomStringConvertible {
    case failed(String)
    case trailingData
    case sizeMismatch(expected: Int, actual: Int)
    /// A streaming sink refused the output (`ZstdCompressor`, `ZstdDecompressor`).
    case sinkFailed

    public var description: String {
        switch self {
        case .failed(let reason): return "zstd: \(reason)"
        case .trailingData: return "zstd: data after the frame"
        case .sizeMismatch(let expected, let actual): return "zstd: frame holds \(actual) bytes, expected \(expected)"
        case .sinkFailed: return "zstd: the output could not be written"
        }
    }
}
