#if canImport(Glibc)
    import Glibc
#endif

/// Decodes a `Transfer-Encoding: chunked` body in place, incrementally.
///
/// Chunk data is moved down over the chunk framing, so after `decode` the first `decoded` bytes
/// at the body start are the body so far. The state is relative to the body start, which stays
/// put while more bytes arrive.
struct ChunkedDecoder {
    enum Phase: UInt8 {
        case size, data, dataEnd, trailers
    }

    enum Outcome {
        /// More bytes are needed. The raw bytes were compacted: the body region now holds
        /// `available` bytes (decoded body, then undecoded input).
        case needMore(available: Int)
        /// The body is complete: `decoded` body bytes, `consumed` raw bytes (framing included)
        /// after the body start.
        case done(decoded: Int, consumed: Int)
        case failure(ProtocolError)
    }

    /// The longest chunk-size line accepted, extensions included.
    static let maxLineLength = 4096

    var phase: Phase = .size
    /// Next raw byte to read, from the body start.
    var readIndex = 0
    /// Decoded body length so far.
    var decoded = 0
    /// Bytes left in the current chunk's data.
    var remaining = 0
    /// Trailer bytes seen so far.
    var trailerBytes = 0

    /// Decodes what `p[0..<available]` holds. `maxBody` bounds the decoded size, `maxTrailers`
    /// the trailer section.
    mutating func decode(_ p: UnsafeMutablePointer<UInt8>, available: Int, maxBody: Int, maxTrailers: Int) -> Outcome {
        while true {
            switch phase {
            case .size:
                guard let lf = findLineFeed(p, from: readIndex, to: available) else {
                    if available - readIndex > Self.maxLineLength { return .failure(.badChunk) }
                    return compact(p, available)
                }
                guard lf - readIndex <= Self.maxLineLength, lf > readIndex, p[lf - 1] == 0x0D else { return .failure(.badChunk) }
                var i = readIndex
                var size = 0
                while i < lf - 1, let digit = HTTPQuery.hexValue(p[i]) {
                    guard i - readIndex < 15 else { return .failure(.badChunk) }
                    size = size << 4 | Int(digit)
                    i += 1
                }
                guard i > readIndex else { return .failure(.badChunk) }
                // Optional whitespace, then optional extensions (`;name=value`), which are ignored.
                while i < lf - 1, p[i] == 0x20 || p[i] == 0x09 { i += 1 }
                if i < lf - 1 {
                    guard p[i] == UInt8(ascii: ";") else { return .failure(.badChunk) }
                    while i < lf - 1 {
                        guard p[i] >= 0x20 && p[i] != 0x7F || p[i] == 0x09 else { return .failure(.badChunk) }
                        i += 1
                    }
                }
                guard size <= maxBody - decoded else { return .failure(.bodyTooLarge) }
                readIndex = lf + 1
                if size == 0 {
                    phase = .trailers
                } else {
                    remaining = size
                    phase = .data
                }
            case .data:
                let take = Swift.min(remaining, available - readIndex)
                if take > 0 {
                    if readIndex != decoded { memmove(p + decoded, p + readIndex, take) }
                    decoded += take
                    readIndex += take
                    remaining -= take
                }
                guard remaining == 0 else { return compact(p, available) }
                phase = .dataEnd
            case .dataEnd:
                guard available - readIndex >= 2 else { return compact(p, available) }
                guard p[readIndex] == 0x0D, p[readIndex + 1] == 0x0A else { return .failure(.badChunk) }
                readIndex += 2
                phase = .size
            case .trailers:
                guard let lf = findLineFeed(p, from: readIndex, to: available) else {
                    if trailerBytes + available - readIndex > maxTrailers { return .failure(.headersTooLarge) }
                    return compact(p, available)
                }
                guard lf > readIndex, p[lf - 1] == 0x0D else { return .failure(.badChunk) }
                let lineLength = lf + 1 - readIndex
                trailerBytes += lineLength
                guard trailerBytes <= maxTrailers else { return .failure(.headersTooLarge) }
                readIndex = lf + 1
                if lineLength == 2 { return .done(decoded: decoded, consumed: readIndex) }
                // Trailer fields are accepted and ignored; each must still be a well-formed field line.
                guard RequestHeadParser.isFieldLine(p + readIndex - lineLength, length: lineLength - 2) else { return .failure(.badChunk) }
            }
        }
    }

    /// Moves the undecoded input down to follow the decoded body, so buffered bytes stay bounded
    /// by the body limit plus one chunk line.
    private mutating func compact(_ p: UnsafeMutablePointer<UInt8>, _ available: Int) -> Outcome {
        let pending = available - readIndex
        if readIndex != decoded {
            if pending > 0 { memmove(p + decoded, p + readIndex, pending) }
            readIndex = decoded
        }
        return .needMore(available: decoded + pending)
    }

    private func findLineFeed(_ p: UnsafeMutablePointer<UInt8>, from: Int, to: Int) -> Int? {
        guard from < to, let found = memchr(p + from, 0x0A, to - from) else { return nil }
        return UnsafeMutablePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - p
    }
}
