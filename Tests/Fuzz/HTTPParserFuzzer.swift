// libFuzzer target for the HTTP engine's request-head parser and chunked decoder. Built by
// scripts/fuzz-http-parser with `swiftc -sanitize=fuzzer,address` together with the parsing sources
// of AllotHTTP (so internal API is visible). Every buffer handed to the parser is an allocation of
// exactly the input's size, so AddressSanitizer reports any read past the bytes received.
//
// The first input byte picks what the rest is, and where it is split in two reads:
//   even: a request head (request line and fields): the end of the head is searched as the engine
//         does, in two steps (resuming where the first stopped), and must agree with a search in
//         one step; a complete head is parsed, and a parsed head's views must lie inside it.
//   odd:  a chunked body: decoded in one call, and in two calls (the split), which must agree,
//         and both must agree with a plain reference decoder written from RFC 9112 §7.1.
// Any crash, trap, sanitizer report or disagreement is a bug.

private let maxFields = 32
private let maxBody = 4096
private let maxTrailers = 1024

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let split = bytes.isEmpty ? 0 : Int(data[0] >> 1) % (bytes.count + 1)
    if data[0] & 1 == 0 {
        fuzzHead(bytes, split: split)
    } else {
        fuzzChunked(bytes, split: split)
    }
    return 0
}

/// Runs `body` over an exact-size copy of `bytes`.
private func withExactCopy<R>(_ bytes: [UInt8], _ body: (UnsafeMutablePointer<UInt8>) -> R) -> R {
    let copy = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
    defer { copy.deallocate() }
    for (index, byte) in bytes.enumerated() { copy[index] = byte }
    return body(copy)
}

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

// MARK: - Heads

private func fuzzHead(_ input: [UInt8], split: Int) {
    // The engine skips empty lines before a request line; the head starts at a non-CR/LF byte.
    guard let first = input.first, first != 0x0D, first != 0x0A else { return }
    let oneStep = withExactCopy(input) { RequestHeadParser.findHeadEnd($0, from: 0, count: input.count) }
    // Two reads: the first `split` bytes, then all; the engine resumes 3 bytes before the end.
    var twoSteps = RequestHeadParser.HeadEnd.incomplete
    if split > 0 {
        twoSteps = withExactCopy(Array(input[0..<split])) { RequestHeadParser.findHeadEnd($0, from: 0, count: split) }
    }
    if twoSteps == .incomplete {
        twoSteps = withExactCopy(input) { RequestHeadParser.findHeadEnd($0, from: max(0, split - 3), count: input.count) }
    }
    check(oneStep == twoSteps, "head end found in one step \(oneStep) but in two steps \(twoSteps), split at \(split)")

    guard case .complete(let length) = oneStep else { return }
    check(length >= 4 && length <= input.count, "head length \(length) outside 4...\(input.count)")
    let head = Array(input[0..<length])
    withExactCopy(head) { p in
        let fields = UnsafeMutablePointer<HeaderField>.allocate(capacity: maxFields)
        defer { fields.deallocate() }
        switch RequestHeadParser.parse(p, length: length, fields: fields, maxFields: maxFields) {
        case .failure:
            return
        case .success(let parsed):
            checkViews(parsed, length: length, fields: fields)
            let request = HTTPRequest(head: p, parsed: parsed, fields: fields, body: UnsafeRawBufferPointer(start: p, count: 0))
            for index in 0..<request.headerCount {
                let (name, value) = request.header(at: index)
                check(name.count > 0, "empty field name")
                for byte in value { check(RequestHeadParser.isFieldContent(byte), "field value byte \(byte) is not field content") }
            }
            if let host = request.header("host") {
                check(
                    RequestHeadParser.isValidHost(host.baseAddress!.assumingMemoryBound(to: UInt8.self), host.count),
                    "invalid Host accepted")
            }
            check(parsed.version == .http10 || request.header("host") != nil, "HTTP/1.1 without Host accepted")
            check(!(parsed.chunked && parsed.contentLength >= 0), "both framings accepted")
            _ = request.pathString
            _ = HTTPQuery.items(request.query)
        }
    }
}

private func checkViews(_ parsed: RequestHead, length: Int, fields: UnsafeMutablePointer<HeaderField>) {
    func inside(_ start: Int, _ count: Int, _ what: String) {
        check(start >= 0 && count >= 0 && start + count <= length, "\(what) \(start)+\(count) outside the head of \(length)")
    }
    inside(0, parsed.methodLength, "method")
    inside(parsed.targetStart, parsed.targetLength, "target")
    if parsed.pathStart >= 0 { inside(parsed.pathStart, parsed.pathLength, "path") }
    if parsed.queryStart >= 0 { inside(parsed.queryStart, parsed.queryLength, "query") }
    check(parsed.headerCount <= maxFields, "\(parsed.headerCount) fields recorded in a table of \(maxFields)")
    for index in 0..<parsed.headerCount {
        let field = fields[index]
        inside(Int(field.nameStart), Int(field.nameLength), "field name")
        inside(Int(field.valueStart), Int(field.valueLength), "field value")
    }
    check(parsed.contentLength >= -1, "negative content length \(parsed.contentLength)")
}

// MARK: - Chunked bodies

private enum Decoded: Equatable {
    /// The body, and how many bytes of the input follow it (the next pipelined request).
    case done(body: [UInt8], rest: Int)
    case needMore
    case failed
}

/// The engine's decoder over `input`, given in one piece (`split` 0) or in two.
private func engineDecode(_ input: [UInt8], split: Int) -> Decoded {
    var decoder = ChunkedDecoder()
    var held: [UInt8] = []
    for piece in split > 0 && split < input.count ? [input[0..<split], input[split...]] : [input[...]] {
        let region = held + piece
        let outcome = withExactCopy(region) { p -> (ChunkedDecoder.Outcome, [UInt8]) in
            let outcome = decoder.decode(p, available: region.count, maxBody: maxBody, maxTrailers: maxTrailers)
            if case .needMore(let available) = outcome {
                check(available <= region.count, "needMore(\(available)) beyond the \(region.count) bytes given")
                return (outcome, Array(UnsafeBufferPointer(start: p, count: available)))
            }
            if case .done(let decoded, _) = outcome {
                return (outcome, Array(UnsafeBufferPointer(start: p, count: decoded)))
            }
            return (outcome, [])
        }
        switch outcome.0 {
        case .needMore:
            held = outcome.1
        case .done(let decoded, let consumed):
            check(decoded <= maxBody, "decoded \(decoded) bytes over the limit \(maxBody)")
            check(consumed <= region.count, "consumed \(consumed) of \(region.count) bytes")
            // `consumed` counts from the (compacted) body start; what follows it is the input's rest.
            return .done(body: outcome.1, rest: region.count - consumed + (input.count - piece.endIndex))
        case .failure:
            return .failed
        }
    }
    return .needMore
}

/// A plain decoder of `chunked` (RFC 9112 §7.1) with the engine's limits: chunk-size lines of at
/// most 4096 bytes with at most 15 hex digits, optional whitespace and extensions, trailer field
/// lines, `maxBody` decoded bytes and `maxTrailers` trailer bytes.
private func referenceDecode(_ input: [UInt8]) -> Decoded {
    var i = 0
    var body: [UInt8] = []
    func line(from start: Int) -> Int? {  // index of the LF ending the line at `start`
        var j = start
        while j < input.count, input[j] != 0x0A { j += 1 }
        return j < input.count ? j : nil
    }
    while true {
        guard let lf = line(from: i) else { return input.count - i > ChunkedDecoder.maxLineLength ? .failed : .needMore }
        guard lf - i <= ChunkedDecoder.maxLineLength, lf > i, input[lf - 1] == 0x0D else { return .failed }
        let text = input[i..<(lf - 1)]
        var k = text.startIndex
        var size = 0
        while k < text.endIndex, let digit = HTTPQuery.hexValue(text[k]) {
            guard k - text.startIndex < 15 else { return .failed }
            size = size << 4 | Int(digit)
            k += 1
        }
        guard k > text.startIndex else { return .failed }
        while k < text.endIndex, text[k] == 0x20 || text[k] == 0x09 { k += 1 }
        if k < text.endIndex {
            guard text[k] == UInt8(ascii: ";") else { return .failed }
            for byte in text[k...] { guard RequestHeadParser.isFieldContent(byte) else { return .failed } }
        }
        guard size <= maxBody - body.count else { return .failed }
        i = lf + 1
        if size == 0 { break }
        guard input.count - i >= size else { return .needMore }
        body += input[i..<(i + size)]
        i += size
        guard input.count - i >= 2 else { return .needMore }
        guard input[i] == 0x0D, input[i + 1] == 0x0A else { return .failed }
        i += 2
    }
    var trailerBytes = 0
    while true {
        guard let lf = line(from: i) else { return trailerBytes + input.count - i > maxTrailers ? .failed : .needMore }
        guard lf > i, input[lf - 1] == 0x0D else { return .failed }
        trailerBytes += lf + 1 - i
        guard trailerBytes <= maxTrailers else { return .failed }
        if lf + 1 - i == 2 { return .done(body: body, rest: input.count - (lf + 1)) }
        let fieldLine = Array(input[i..<(lf - 1)])
        let valid = fieldLine.withUnsafeBufferPointer { RequestHeadParser.isFieldLine($0.baseAddress!, length: $0.count) }
        guard valid else { return .failed }
        i = lf + 1
    }
}

private func fuzzChunked(_ input: [UInt8], split: Int) {
    let whole = engineDecode(input, split: 0)
    let pieces = engineDecode(input, split: split)
    check(whole == pieces, "chunked decoding in one read \(whole) but split at \(split) \(pieces)")
    let reference = referenceDecode(input)
    check(whole == reference, "engine decoded \(whole), the reference \(reference)")
}
