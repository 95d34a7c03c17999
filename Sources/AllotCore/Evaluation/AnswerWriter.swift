extension LoadedBundle {
    /// Appends the JSON answer for `outcomes` to `output`, copying pre-encoded bytes:
    ///
    /// `{"version":N,"assignments":{"<experiment>":{"variant":"<v>"|null,"layer":"<l>","reason":"<r>"},…},"params":{…}}`
    ///
    /// `params` holds every parameter of the bundle: the enrolled variant's value where a layer's
    /// outcome is `split` or `override`, the default otherwise. Names are restricted to characters
    /// that need no escaping, so the writer copies them verbatim.
    public func writeAnswer(_ outcomes: [Outcome], into output: inout [UInt8]) {
        let p = payload
        output.append(contentsOf: versionPrefix)
        appendDecimal(version, to: &output)
        output.append(contentsOf: assignmentsOpen)
        var first = true
        for outcome in outcomes {
            if !first { output.append(UInt8(ascii: ",")) }
            first = false
            let e = p.experimentRecord(Int(outcome.experiment))
            output.append(UInt8(ascii: "\""))
            output.append(contentsOf: p.stringBytes(at: e + PayloadFormat.ExperimentRecord.name))
            output.append(contentsOf: variantKey)
            if outcome.variant >= 0 {
                let v = p.variantRecord(p.int(e + PayloadFormat.ExperimentRecord.firstVariant) + Int(outcome.variant))
                output.append(UInt8(ascii: "\""))
                output.append(contentsOf: p.stringBytes(at: v + PayloadFormat.VariantRecord.name))
                output.append(UInt8(ascii: "\""))
            } else {
                output.append(contentsOf: nullBytes)
            }
            output.append(contentsOf: layerKey)
            output.append(contentsOf: p.stringBytes(at: p.layerRecord(Int(outcome.layer)) + PayloadFormat.LayerRecord.name))
            output.append(contentsOf: reasonKey)
            output.append(contentsOf: reasonBytes[Int(outcome.reason.rawValue)])
            output.append(contentsOf: entryClose)
        }
        output.append(contentsOf: paramsOpen)
        writeParams(outcomes, into: &output)
        output.append(contentsOf: documentClose)
    }

    /// Appends the members of the `params` object (without braces) for `outcomes`.
    public func writeParams(_ outcomes: [Outcome], into output: inout [UInt8]) {
        let p = payload
        var next = 0
        var wroteAny = false
        for layer in 0..<p.layerCount {
            var fragment = p.jsonBytes(at: p.layerRecord(layer) + PayloadFormat.LayerRecord.defaultsFragment)
            while next < outcomes.count, Int(outcomes[next].layer) < layer { next += 1 }
            if next < outcomes.count, Int(outcomes[next].layer) == layer, outcomes[next].reason.isEnrolled, outcomes[next].variant >= 0 {
                let outcome = outcomes[next]
                let e = p.experimentRecord(Int(outcome.experiment))
                let v = p.variantRecord(p.int(e + PayloadFormat.ExperimentRecord.firstVariant) + Int(outcome.variant))
                fragment = p.jsonBytes(at: v + PayloadFormat.VariantRecord.paramsFragment)
            }
            guard fragment.count > 0 else { continue }
            if wroteAny { output.append(UInt8(ascii: ",")) }
            output.append(contentsOf: fragment)
            wroteAny = true
        }
    }
}

/// Appends the decimal digits of `value`.
@inline(__always)
public func appendDecimal(_ value: UInt64, to output: inout [UInt8]) {
    if value == 0 {
        output.append(UInt8(ascii: "0"))
        return
    }
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0
    var remaining = value
    withUnsafeMutableBytes(of: &digits) { buffer in
        while remaining > 0 {
            buffer[19 - count] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
            count += 1
        }
        output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(20 - count)...]))
    }
}

private let versionPrefix = Array("{\"version\":".utf8)
private let assignmentsOpen = Array(",\"assignments\":{".utf8)
private let variantKey = Array("\":{\"variant\":".utf8)
private let nullBytes = Array("null".utf8)
private let layerKey = Array(",\"layer\":\"".utf8)
private let reasonKey = Array("\",\"reason\":\"".utf8)
private let entryClose = Array("\"}".utf8)
private let paramsOpen = Array("},\"params\":{".utf8)
private let documentClose = Array("}}".utf8)
private let reasonBytes: [[UInt8]] = Reason.allCases.map { Array($0.name.utf8) }
