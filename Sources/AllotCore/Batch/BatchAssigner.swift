#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Answers newline-delimited JSON requests (`{"units":{…},"attributes":{…}}`, one per line), the
/// work of `allot assign --batch`: one answer line per request, in order; a line that cannot be
/// evaluated gets `{"error":{"code":"…","message":"…","line":N}}` instead; lines holding only
/// spaces, tabs and carriage returns are skipped (they count for line numbers but get no output).
/// A carriage return before the newline is ignored.
///
/// Works on a range of whole lines at a time, so a batch can be cut into ranges at newlines and
/// the ranges answered on several threads (`BatchPipeline`); the bytes written for a range
/// depend only on its text and the number of its first line, never on how the input was cut.
/// Reuses its evaluation input, outcomes and output buffer: no allocation per request.
public struct BatchAssigner: Sendable {
    /// What one call answered.
    public struct Counts: Sendable, Equatable {
        /// Lines consumed, blank ones included (an unterminated last line only if it is not blank).
        public var lines: Int
        /// Lines answered with an error.
        public var failures: Int

        public init(lines: Int = 0, failures: Int = 0) {
            self.lines = lines
            self.failures = failures
        }

        public static func + (a: Counts, b: Counts) -> Counts {
            Counts(lines: a.lines + b.lines, failures: a.failures + b.failures)
        }
    }

    public let bundle: LoadedBundle
    /// The evaluation time, in Unix seconds.
    public let now: Int64
    private var request: EvaluationInput
    private var outcomes: [Outcome] = []

    public init(bundle: LoadedBundle, now: Int64) {
        self.bundle = bundle
        self.now = now
        self.request = EvaluationInput(for: bundle)
        outcomes.reserveCapacity(bundle.payload.layerCount)
    }

    /// Appends the answers for the lines of `text` to `output`. `text` holds whole lines, each
    /// ending with a newline, except that the input's last line may come without one: a final
    /// unterminated line is answered (unless blank) as the input's last. `firstLine` is the
    /// 1-based number of `text`'s first line, for error answers.
    public mutating func assign(_ text: UnsafeRawBufferPointer, firstLine: Int, into output: inout [UInt8]) -> Counts {
        var counts = Counts()
        var start = 0
        let end = text.count
        while start < end {
            let newline = Self.firstNewline(in: text, from: start) ?? end
            var stop = newline
            if stop > start, text[stop - 1] == UInt8(ascii: "\r") { stop -= 1 }
            let line = UnsafeRawBufferPointer(rebasing: text[start..<stop])
            if !Self.isBlank(line) {
                counts.lines += 1
                if !answer(line, lineNumber: firstLine + counts.lines - 1, into: &output) { counts.failures += 1 }
            } else if newline < end {
                counts.lines += 1
            }
            start = newline + 1
        }
        return counts
    }

    /// Writes one line's answer (or error) and its newline; false for an error.
    private mutating func answer(_ line: UnsafeRawBufferPointer, lineNumber: Int, into output: inout [UInt8]) -> Bool {
        defer { output.append(UInt8(ascii: "\n")) }
        do {
            try request.setJSON(line, bundle: bundle)
        } catch {
            output.append(contentsOf: "{\"error\":{\"code\":\"".utf8)
            output.append(contentsOf: error.code.rawValue.utf8)
            output.append(contentsOf: "\",\"message\":".utf8)
            output.append(contentsOf: JSONString.quoted(error.message).utf8)
            output.append(contentsOf: ",\"line\":".utf8)
            output.append(contentsOf: String(lineNumber).utf8)
            output.append(contentsOf: "}}".utf8)
            return false
        }
        bundle.evaluate(request, now: now, into: &outcomes)
        bundle.writeAnswer(outcomes, input: request, into: &output)
        return true
    }

    static func isBlank(_ line: UnsafeRawBufferPointer) -> Bool {
        for byte in line where byte != 32 && byte != 9 && byte != 13 { return false }
        return true
    }

    static func firstNewline(in text: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < text.count, let base = text.baseAddress else { return nil }
        guard let found = memchr(base + start, 0x0A, text.count - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// The number of newlines in `text`.
    public static func newlineCount(_ text: UnsafeRawBufferPointer) -> Int {
        var count = 0
        var start = 0
        while let newline = firstNewline(in: text, from: start) {
            count += 1
            start = newline + 1
        }
        return count
    }
}
