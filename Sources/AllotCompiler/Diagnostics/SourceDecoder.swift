import AllotCore
import Foundation

/// Turns a file's bytes into text for the compiler. Experiment files must be UTF-8; a file that is
/// not gets an error at the first byte that is not (line, column and byte offset) and is still
/// decoded as well as possible, so the rest of the project compiles and every other error is
/// reported too.
enum SourceDecoder {
    struct Decoded {
        var text: String
        var diagnostic: Diagnostic?
    }

    /// The most an experiment file or the lock may hold: far more than any real project (ids in
    /// the millions belong in an `idsFile`), small enough that a path to something endless is refused.
    static let maxFileBytes = 64 << 20

    /// A file's bytes, read up to `maxFileBytes`; a file that is larger, or cannot be read, is a
    /// diagnostic.
    static func read(_ path: String) -> Result<[UInt8], Diagnostic> {
        let location = SourceLocation(file: path, line: 1, column: 1)
        guard let handle = FileHandle(forReadingAtPath: path) else { return .failure(Diagnostic(at: location, "cannot read this file")) }
        defer { try? handle.close() }
        do {
            let data = try handle.read(upToCount: maxFileBytes + 1) ?? Data()
            guard data.count <= maxFileBytes else {
                return .failure(
                    Diagnostic(
                        at: location, "this file is larger than \(maxFileBytes >> 20) MiB",
                        hint: "put long lists of ids in a segment's idsFile (one id per line)"))
            }
            return .success([UInt8](data))
        } catch {
            return .failure(Diagnostic(at: location, "cannot read this file: \(error)"))
        }
    }

    static func decode(_ bytes: [UInt8], path: String) -> Decoded {
        if let endianness = utf16Endianness(bytes) {
            let encoding: String.Encoding = endianness == "little" ? .utf16LittleEndian : .utf16BigEndian
            let text = String(data: Data(bytes), encoding: encoding) ?? String(decoding: bytes, as: UTF8.self)
            return Decoded(
                text: text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text,
                diagnostic: Diagnostic(
                    at: SourceLocation(file: path, line: 1, column: 1), "this file is UTF-16 (\(endianness)-endian), not UTF-8",
                    hint: "save it as UTF-8, e.g. `iconv -f UTF-16 -t UTF-8 \(path)`"))
        }
        // A UTF-8 byte order mark is allowed (YAML permits it) and not part of the text.
        let start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        guard let offset = firstInvalidUTF8(bytes, from: start) else {
            return Decoded(text: String(decoding: bytes[start...], as: UTF8.self), diagnostic: nil)
        }
        let prefix = bytes[start..<offset]
        let line = 1 + prefix.count { $0 == UInt8(ascii: "\n") }
        let lineStart = prefix.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? start
        let column = 1 + String(decoding: bytes[lineStart..<offset], as: UTF8.self).unicodeScalars.count
        var invalid = 0
        var rest = offset
        while rest < bytes.count, let next = firstInvalidUTF8(bytes, from: rest) {
            invalid += 1
            rest = next + 1
        }
        let byte = String(bytes[offset], radix: 16, uppercase: true)
        let more = invalid > 1 ? " (and \(invalid - 1) more invalid byte\(invalid == 2 ? "" : "s") after it)" : ""
        return Decoded(
            text: String(decoding: bytes[start...], as: UTF8.self),
            diagnostic: Diagnostic(
                at: SourceLocation(file: path, line: line, column: column),
                "byte 0x\(byte.count == 1 ? "0" + byte : byte) at offset \(offset) is not UTF-8\(more)",
                hint: "experiment files are UTF-8; if this one was saved as Latin-1 or Windows-1252, convert it "
                    + "(`iconv -f WINDOWS-1252 -t UTF-8 \(path)`)"))
    }

    /// "little" or "big" for a file with a UTF-16 byte order mark, or whose first bytes are ASCII
    /// text interleaved with zero bytes (UTF-16 without a mark); nil otherwise.
    static func utf16Endianness(_ bytes: [UInt8]) -> String? {
        if bytes.count >= 2 {
            if bytes[0] == 0xFF, bytes[1] == 0xFE { return "little" }
            if bytes[0] == 0xFE, bytes[1] == 0xFF { return "big" }
        }
        let sample = bytes.prefix(64)
        guard sample.count >= 4 else { return nil }
        let even = stride(from: 0, to: sample.count - 1, by: 2).map { sample[sample.startIndex + $0] }
        let odd = stride(from: 1, to: sample.count, by: 2).map { sample[sample.startIndex + $0] }
        if odd.allSatisfy({ $0 == 0 }), even.allSatisfy({ $0 != 0 }) { return "little" }
        if even.allSatisfy({ $0 == 0 }), odd.allSatisfy({ $0 != 0 }) { return "big" }
        return nil
    }

    /// The offset of the first byte that does not belong to a well-formed UTF-8 sequence
    /// (Unicode 15, table 3-7), starting at `start`; nil when the rest is valid.
    static func firstInvalidUTF8(_ bytes: [UInt8], from start: Int = 0) -> Int? {
        bytes.withUnsafeBytes { UTF8Sequence.firstInvalid($0, from: start) }
    }
}
