#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Cuts a stream of byte chunks into lines (without their `\n`), carrying a partial line from one
/// chunk to the next. A line longer than `maxLineBytes` is an error: a reader's memory is bounded
/// by its longest allowed line, whatever the input.
struct LineReader {
    let maxLineBytes: Int
    private var pending: [UInt8] = []
    /// Lines handed out so far (for error messages: the current line's number is `lines`).
    private(set) var lines = 0

    init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    struct TooLong: Error {
        var line: Int
    }

    mutating func feed(_ chunk: UnsafeRawBufferPointer, _ line: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        guard let base = chunk.baseAddress, chunk.count > 0 else { return }
        var start = 0
        let count = chunk.count
        if !pending.isEmpty {
            guard let newline = memchr(base, 10, count) else {
                pending.append(contentsOf: chunk)
                if pending.count > maxLineBytes { throw TooLong(line: lines + 1) }
                return
            }
            let end = base.distance(to: UnsafeRawPointer(newline))
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<end]))
            if pending.count > maxLineBytes { throw TooLong(line: lines + 1) }
            lines += 1
            try pending.withUnsafeBytes { try line($0, lines) }
            pending.removeAll(keepingCapacity: true)
            start = end + 1
        }
        while start < count {
            guard let newline = memchr(base + start, 10, count - start) else { break }
            let end = base.distance(to: UnsafeRawPointer(newline))
            if end - start > maxLineBytes { throw TooLong(line: lines + 1) }
            lines += 1
            try line(UnsafeRawBufferPointer(start: base + start, count: end - start), lines)
            start = end + 1
        }
        if start < count {
            if count - start > maxLineBytes { throw TooLong(line: lines + 1) }
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[start..<count]))
        }
    }

    /// The last line, if the input did not end with `\n`.
    mutating func finish(_ line: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        guard !pending.isEmpty else { return }
        lines += 1
        try pending.withUnsafeBytes { try line($0, lines) }
        pending.removeAll()
    }
}

/// Reads a file in fixed-size chunks (bounded memory whatever its size).
enum ChunkedFile {
    static let chunkBytes = 1 << 20

    /// Calls `chunk` with each piece of the file at `path`, in order.
    static func read(_ path: String, _ chunk: (UnsafeRawBufferPointer) throws -> Void) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            // A file that is not there is a wrong argument; one that cannot be read is the system's failure.
            if errno == ENOENT || errno == ENOTDIR { throw AnalysisError.invalid("cannot open '\(path)': \(reason)") }
            throw AnalysisError.unavailable("cannot open '\(path)': \(reason)")
        }
        defer { close(descriptor) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkBytes, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, chunkBytes)
            if count < 0 {
                if errno == EINTR { continue }
                throw AnalysisError.unavailable("cannot read '\(path)': \(String(cString: strerror(errno)))")
            }
            if count == 0 { return }
            try chunk(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }
}

/// Why an analysis could not be made: input that is wrong (`invalidInput`) or a file or store
/// that could not be read (`unavailable`).
public struct AnalysisError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case invalidInput, unavailable }
    public var kind: Kind
    public var message: String

    public var description: String { message }

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    static func invalid(_ message: String) -> AnalysisError { AnalysisError(kind: .invalidInput, message: message) }
    static func unavailable(_ message: String) -> AnalysisError { AnalysisError(kind: .unavailable, message: message) }
}
