extension LoadedBundle {
    /// Appends the JSON answer for `outcomes` to `output`, copying pre-encoded bytes:
    ///
    /// `{"version":N,"assignments":{"<experiment>":{"variant":"<v>"|null,"layer":"<l>","reason":"<r>"},…},"params":{…}}`
    ///
    /// `params` holds every parameter of the bundle: the enrolled variant's value where a layer's
    /// outcome is `split` or `override`, the default otherwise. Names are restricted to characters
    /// that need no escaping, so the writer copies them verbatim.
    ///
    /// Grows `output` once by a bound on the answer's length (`answerBound`), copies into it through
    /// a pointer, then gives back what was not used (see `writeAnswer(_:to:)`).
    public func writeAnswer(_ outcomes: [Outcome], into output: inout [UInt8]) {
        let start = output.count
        let bound = answerBound(outcomes.count)
        growWithZeroes(&output, by: bound)
        let written = output.withUnsafeMutableBytes { buffer in
            let at = buffer.baseAddress! + start
            return writeAnswer(outcomes, at: at) - at
        }
        precondition(written <= bound, "the answer is longer than its bound")
        output.removeLast(bound &- written)
    }

    /// A length no answer with `count` outcomes exceeds: every entry as long as the longest head
    /// with the longest reason, every layer's params fragment its longest. Writing into that much
    /// room (`writeAnswer(_:to:)`) needs no measuring pass.
    @inline(__always)
    public func answerBound(_ count: Int) -> Int {
        let plan = answerPlan
        let fixed =
            AnswerText.versionPrefix.utf8CodeUnitCount &+ decimalLength(version) &+ AnswerText.assignmentsOpen.utf8CodeUnitCount
            &+ AnswerText.paramsOpen.utf8CodeUnitCount &+ AnswerText.documentClose.utf8CodeUnitCount
        return fixed &+ count &* plan.longestEntry &+ plan.longestParams
    }

    /// Appends the JSON answer for `outcomes`, evaluated from `input` (see `writeAnswer(_:into:)`).
    /// When the request carried attributes of the wrong type, the answer ends with a member
    /// naming them: `…,"params":{…},"ignored_attributes":[{"name":"<a>","reason":"<why>"},…]}`.
    /// Otherwise it is exactly `writeAnswer(_:into:)`'s.
    public func writeAnswer(_ outcomes: [Outcome], input: borrowing EvaluationInput, into output: inout [UInt8]) {
        writeAnswer(outcomes, into: &output)
        guard !input.ignoredAttributes.isEmpty else { return }
        output.removeLast()  // the document's closing brace
        appendStatic(",\"ignored_attributes\":[", to: &output)
        for (position, ignored) in input.ignoredAttributes.enumerated() {
            if position > 0 { output.append(UInt8(ascii: ",")) }
            appendStatic("{\"name\":", to: &output)
            output.append(contentsOf: JSONString.quoted(attributeName(ignored.attribute)).utf8)
            appendStatic(",\"reason\":", to: &output)
            output.append(contentsOf: JSONString.quoted(ignored.reason.description).utf8)
            output.append(UInt8(ascii: "}"))
        }
        appendStatic("]}", to: &output)
    }

    /// `name: reason` for each attribute `input` ignored, joined by `; ` (empty when none): the
    /// form OFREP answers carry in their metadata.
    public func ignoredAttributesSummary(_ input: borrowing EvaluationInput) -> String {
        input.ignoredAttributes.map { "\(attributeName($0.attribute)): \($0.reason)" }.joined(separator: "; ")
    }

    /// Appends the members of the `params` object (without braces) for `outcomes`.
    public func writeParams(_ outcomes: [Outcome], into output: inout [UInt8]) {
        append(paramsLength(outcomes), to: &output) { writeParams(outcomes, at: $0) }
    }

    /// The length in bytes of the JSON answer for `outcomes`, as `writeAnswer` writes it. Every
    /// writer measures first, so this is where outcomes of another bundle are refused (a trap).
    public func answerLength(_ outcomes: [Outcome]) -> Int {
        let plan = answerPlan
        var length = AnswerText.versionPrefix.utf8CodeUnitCount + decimalLength(version) + AnswerText.assignmentsOpen.utf8CodeUnitCount
        var params = ParamsMeasure(plan)
        for outcome in outcomes {
            checkOutcome(outcome)
            length &+= plan.head(experiment: Int(outcome.experiment), variant: Int(outcome.variant)).count
            length &+= outcome.reason.jsonNameClosingEntry.utf8CodeUnitCount
            params.add(outcome, plan)
        }
        if !outcomes.isEmpty { length &+= outcomes.count &- 1 }  // commas
        return length &+ AnswerText.paramsOpen.utf8CodeUnitCount &+ params.length &+ AnswerText.documentClose.utf8CodeUnitCount
    }

    /// The length in bytes of the members of the `params` object for `outcomes` (this bundle's;
    /// traps otherwise).
    public func paramsLength(_ outcomes: [Outcome]) -> Int {
        var params = ParamsMeasure(answerPlan)
        for outcome in outcomes {
            checkOutcome(outcome)
            params.add(outcome, answerPlan)
        }
        return params.length
    }

    /// Writes the JSON answer for `outcomes` (see `writeAnswer(_:into:)`) at the start of `buffer`:
    /// for a caller that owns its output memory, such as a server writing a response body.
    /// - Returns: the bytes written, `answerLength(outcomes)`, or nil (and nothing written) when
    ///   `buffer` is shorter than that.
    public func writeAnswer(_ outcomes: [Outcome], to buffer: UnsafeMutableRawBufferPointer) -> Int? {
        if answerBound(outcomes.count) > buffer.count {
            guard answerLength(outcomes) <= buffer.count else { return nil }
        }
        let start = buffer.baseAddress!
        return writeAnswer(outcomes, at: start) - start
    }

    /// Grows `output` by `length` bytes and has `write` fill them through a pointer.
    @inline(__always)
    private func append(_ length: Int, to output: inout [UInt8], _ write: (UnsafeMutableRawPointer) -> UnsafeMutableRawPointer) {
        guard length > 0 else { return }
        let start = output.count
        growWithZeroes(&output, by: length)
        output.withUnsafeMutableBytes { buffer in
            let end = write(buffer.baseAddress! + start)
            precondition(end == buffer.baseAddress! + start + length, "the answer's measured and written lengths differ")
        }
    }

    /// Writes the answer at `destination`, which has room for `answerLength(outcomes)` bytes (or
    /// `answerBound(outcomes.count)`); refuses outcomes of another bundle (a trap) before writing
    /// anything of theirs; returns the end of what it wrote.
    @discardableResult
    private func writeAnswer(_ outcomes: [Outcome], at destination: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        var out = destination
        out.write(AnswerText.versionPrefix)
        out = writeDecimal(version, at: out)
        out.write(AnswerText.assignmentsOpen)
        let plan = answerPlan
        var first = true
        for outcome in outcomes {
            checkOutcome(outcome)
            if !first { out.write(byte: UInt8(ascii: ",")) }
            first = false
            out.write(plan.head(experiment: Int(outcome.experiment), variant: Int(outcome.variant)))
            out.write(outcome.reason.jsonNameClosingEntry)
        }
        out.write(AnswerText.paramsOpen)
        out = writeParams(outcomes, at: out)
        out.write(AnswerText.documentClose)
        return out
    }

    /// Writes the members of the `params` object at `destination`; returns the end.
    private func writeParams(_ outcomes: [Outcome], at destination: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        var out = destination
        var wroteAny = false
        forEachParamsFragment(outcomes) { fragment in
            if wroteAny { out.write(byte: UInt8(ascii: ",")) }
            out.write(fragment)
            wroteAny = true
        }
        return out
    }

    /// Calls `body` with each layer's non-empty parameters fragment, in layer order: the enrolled
    /// variant's where the layer's outcome (outcomes are in layer order) is `split` or `override`,
    /// else the layer's defaults.
    @inline(__always)
    private func forEachParamsFragment(_ outcomes: [Outcome], _ body: (UnsafeRawBufferPointer) -> Void) {
        let plan = answerPlan
        let layers = payload.layerCount
        outcomes.withUnsafeBufferPointer { outcomes in
            var next = 0
            for layer in 0..<layers {
                while next < outcomes.count, Int(outcomes[next].layer) < layer { next &+= 1 }
                let fragment: UnsafeRawBufferPointer
                if next < outcomes.count, Int(outcomes[next].layer) == layer, outcomes[next].reason.isEnrolled, outcomes[next].variant >= 0
                {
                    let outcome = outcomes[next]
                    fragment = plan.params(variant: plan.globalVariant(experiment: Int(outcome.experiment), variant: Int(outcome.variant)))
                } else {
                    fragment = plan.defaults(layer: layer)
                }
                if fragment.count > 0 { body(fragment) }
            }
        }
    }
}

/// The length of the `params` members, measured from the outcomes alone: every layer's defaults
/// (pre-summed at load), with each layer whose first outcome (outcomes are in layer order) is an
/// enrolled variant's taking that variant's fragment instead, as `forEachParamsFragment` writes.
private struct ParamsMeasure {
    var bytes: Int
    var nonEmpty: Int
    var highestLayer = -1

    @inline(__always)
    init(_ plan: AnswerPlan) {
        bytes = plan.defaultsBytes
        nonEmpty = plan.defaultsNonEmpty
    }

    @inline(__always)
    mutating func add(_ outcome: Outcome, _ plan: AnswerPlan) {
        let layer = Int(outcome.layer)
        guard layer > highestLayer else { return }
        highestLayer = layer
        guard outcome.reason.isEnrolled, outcome.variant >= 0 else { return }
        let defaults = plan.defaults(layer: layer).count
        let variant = plan.params(variant: plan.globalVariant(experiment: Int(outcome.experiment), variant: Int(outcome.variant))).count
        bytes &+= variant &- defaults
        nonEmpty &+= (variant > 0 ? 1 : 0) &- (defaults > 0 ? 1 : 0)
    }

    /// The fragments' bytes and the commas between them.
    var length: Int { nonEmpty > 0 ? bytes &+ nonEmpty &- 1 : 0 }
}

/// 4 KiB of zeroes, to grow arrays by copying (memcpy's pace) rather than by a store loop.
/// (unsafe: written once by its initializer, which Swift runs once; only read afterwards.)
nonisolated(unsafe) private let zeroPage: UnsafeRawBufferPointer = {
    let page = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 64)
    page.initializeMemory(as: UInt8.self, repeating: 0)
    return UnsafeRawBufferPointer(page)
}()

/// Appends `count` zero bytes to `output` (the answer writers then fill them through a pointer).
@inline(__always)
private func growWithZeroes(_ output: inout [UInt8], by count: Int) {
    output.reserveCapacity(output.count &+ count)
    var left = count
    while left > 0 {
        let chunk = min(left, zeroPage.count)
        output.append(contentsOf: UnsafeRawBufferPointer(rebasing: zeroPage[..<chunk]))
        left &-= chunk
    }
}

@inline(__always)
private func appendStatic(_ text: StaticString, to output: inout [UInt8]) {
    output.append(contentsOf: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
}

/// The fixed text of answers, as static strings (no arrays to retain, no lazy globals to check).
private enum AnswerText {
    static let versionPrefix: StaticString = "{\"version\":"
    static let assignmentsOpen: StaticString = ",\"assignments\":{"
    static let null: StaticString = "null"
    static let paramsOpen: StaticString = "},\"params\":{"
    static let documentClose: StaticString = "}}"
}

extension UnsafeMutableRawPointer {
    /// Copies `bytes` here and advances past them. The pieces of an answer are short (a head is
    /// about 60 bytes, a reason 10, a params fragment 40), and a call to `memmove` for each cost
    /// more than the copy: pieces up to 64 bytes are copied inline with two overlapping 8-, 16- or
    /// 32-byte loads and stores (which reach neither before the source nor past its end).
    @inline(__always)
    fileprivate mutating func write(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress else { return }
        let count = bytes.count
        if count >= 32 && count <= 64 {
            copyPair(SIMD32<UInt8>.self, from: source, count: count)
        } else if count >= 16 && count < 32 {
            copyPair(SIMD16<UInt8>.self, from: source, count: count)
        } else if count >= 8 && count < 16 {
            copyPair(UInt64.self, from: source, count: count)
        } else {
            copyBytes(to: self, from: source, count: count)
        }
        self += count
    }

    /// Copies `count` bytes (between one and two `T`s) as the first `T` and the last `T`, which overlap.
    @inline(__always)
    private func copyPair<T: BitwiseCopyable>(_: T.Type, from source: UnsafeRawPointer, count: Int) {
        let head = source.loadUnaligned(as: T.self)
        let tail = source.loadUnaligned(fromByteOffset: count &- MemoryLayout<T>.size, as: T.self)
        storeBytes(of: head, as: T.self)
        storeBytes(of: tail, toByteOffset: count &- MemoryLayout<T>.size, as: T.self)
    }

    /// Copies a static string here and advances past it.
    @inline(__always)
    fileprivate mutating func write(_ text: StaticString) {
        write(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Stores one byte here and advances past it.
    @inline(__always)
    fileprivate mutating func write(byte: UInt8) {
        storeBytes(of: byte, as: UInt8.self)
        self += 1
    }
}

/// The number of decimal digits of `value`.
@inline(__always)
func decimalLength(_ value: UInt64) -> Int {
    var length = 1
    var remaining = value
    while remaining >= 10 {
        remaining /= 10
        length &+= 1
    }
    return length
}

/// Writes the decimal digits of `value` at `destination`; returns the end.
@inline(__always)
func writeDecimal(_ value: UInt64, at destination: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
    let length = decimalLength(value)
    var remaining = value
    var index = length
    repeat {
        index &-= 1
        destination.storeBytes(of: UInt8(ascii: "0") &+ UInt8(remaining % 10), toByteOffset: index, as: UInt8.self)
        remaining /= 10
    } while remaining > 0
    return destination + length
}

/// Appends the decimal digits of `value`.
@inline(__always)
public func appendDecimal(_ value: UInt64, to output: inout [UInt8]) {
    let start = output.count
    let length = decimalLength(value)
    growWithZeroes(&output, by: length)
    output.withUnsafeMutableBytes { _ = writeDecimal(value, at: $0.baseAddress! + start) }
}
