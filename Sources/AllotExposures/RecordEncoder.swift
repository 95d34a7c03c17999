import AllotCore

/// Turns the compact events a worker left in its ring into exposure records: newline-delimited
/// JSON, members in the order docs/exposures.md gives, by copying pre-escaped names. Runs on the
/// writer thread, off the request path.
///
/// Per record (one request) it builds the parts its events share once: for each unit the request
/// carries, `{"v":1,"ts":…,"unit_type":"…","unit":"…","experiment":"`, and the tail
/// `","bundle":…,"region":"…","server":"…","api":"…"}` (with the flag, for OFREP); each event is
/// then a few plain copies.
final class RecordEncoder {
    /// The region and server id, JSON-escaped (validated identifiers: nothing to escape).
    let region: [UInt8]
    let server: [UInt8]
    /// The shared parts of the record being encoded, and where each unit's head starts in it.
    private let scratch = StagingBuffer(capacity: 4096)
    private var headStart: [Int] = []
    private var headType: [Int] = []

    init(region: String, server: String) {
        self.region = Array(JSONString.quoted(region).utf8.dropFirst().dropLast())
        self.server = Array(JSONString.quoted(server).utf8.dropFirst().dropLast())
    }

    /// Appends one record per event of the events record `record` to `output`. Events naming an
    /// experiment or variant `names` does not have (never, unless memory is corrupt) are skipped.
    func append(_ record: UnsafeRawPointer, names: ExposureNames, to output: StagingBuffer) {
        let count = Int(record.load(fromByteOffset: RecordLayout.eventCount, as: UInt16.self))
        let timestamp = record.load(fromByteOffset: RecordLayout.timestamp, as: Int64.self)
        let api = ExposureAPI(rawValue: record.load(fromByteOffset: RecordLayout.api, as: UInt8.self)) ?? .native
        let flag = Int(record.load(fromByteOffset: RecordLayout.flag, as: Int32.self))
        let unitCount = Int(record.load(fromByteOffset: RecordLayout.unitCount, as: UInt16.self))
        let units = record + RecordLayout.headerLength + count * RecordLayout.eventLength
        names.text.withUnsafeBytes { text in
            names.spans.withUnsafeBufferPointer { spans in
                func name(_ index: Int) -> (UnsafeRawPointer, Int) {
                    (text.baseAddress! + Int(spans[2 &* index]), Int(spans[2 &* index &+ 1]))
                }
                // The shared parts: the tail first, then one head per unit.
                scratch.removeAll()
                scratch.append(#"","bundle":"#)
                scratch.appendDecimal(names.version)
                scratch.append(#","region":""#)
                region.withUnsafeBytes { scratch.append($0) }
                scratch.append(#"","server":""#)
                server.withUnsafeBytes { scratch.append($0) }
                scratch.append(#"","api":""#)
                scratch.append(api.jsonName)
                if api == .ofrep, flag >= 0, flag < names.parameterCount {
                    scratch.append(#"","flag":""#)
                    let (start, length) = name(names.parameterBase &+ flag)
                    scratch.append(UnsafeRawBufferPointer(start: start, count: length))
                }
                scratch.append("\"}\n")
                let tailLength = scratch.count
                // Heads: (unit type, start, length) per unit, at most a few.
                headStart.removeAll(keepingCapacity: true)
                headType.removeAll(keepingCapacity: true)
                var entry = units
                for _ in 0..<unitCount {
                    let type = Int(entry.loadUnaligned(as: UInt16.self))
                    let length = Int(entry.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
                    headType.append(type)
                    headStart.append(scratch.count)
                    scratch.append(#"{"v":1,"ts":"#)
                    scratch.appendDecimal(UInt64(max(0, timestamp)))
                    scratch.append(#","unit_type":""#)
                    if type < names.layerBase {
                        let (start, length) = name(type)
                        scratch.append(UnsafeRawBufferPointer(start: start, count: length))
                    }
                    scratch.append(#"","unit":""#)
                    Self.appendEscaped(UnsafeRawBufferPointer(start: entry + 4, count: length), to: scratch)
                    scratch.append(#"","experiment":""#)
                    entry += 4 &+ length
                }
                headStart.append(scratch.count)
                let shared = scratch.base

                var event = record + RecordLayout.headerLength
                for _ in 0..<count {
                    defer { event += RecordLayout.eventLength }
                    let experiment = Int(event.load(fromByteOffset: RecordLayout.eventExperiment, as: Int32.self))
                    let variant = Int(event.load(fromByteOffset: RecordLayout.eventVariant, as: Int32.self))
                    guard experiment >= 0, experiment < names.experimentCount,
                        let reason = Reason(rawValue: event.load(fromByteOffset: RecordLayout.eventReason, as: UInt8.self))
                    else { continue }
                    let layer = names.experimentLayer[experiment]
                    let unitType = names.layerUnitType[layer]
                    guard let head = headType.firstIndex(of: unitType) else { continue }
                    let variants = names.variantRange(experiment)
                    let enrolled = reason == .split || reason == .override
                    guard !enrolled || (variant >= 0 && variants.lowerBound &+ variant < variants.upperBound) else { continue }

                    let (experimentName, experimentLength) = name(names.experimentBase &+ experiment)
                    let (layerName, layerLength) = name(names.layerBase &+ layer)
                    let variantName = enrolled ? name(names.variantBase &+ variants.lowerBound &+ variant) : (layerName, 0)
                    let reasonName = reason.jsonName
                    let headLength = headStart[head &+ 1] &- headStart[head]
                    output.reserve(
                        headLength &+ experimentLength &+ variantName.1 &+ layerLength &+ reasonName.utf8CodeUnitCount &+ tailLength &+ 64)
                    output.appendReserved(shared + headStart[head], headLength)
                    output.appendReserved(experimentName, experimentLength)
                    if enrolled {
                        Self.appendReserved(#"","variant":""#, to: output)
                        output.appendReserved(variantName.0, variantName.1)
                        Self.appendReserved(#"","layer":""#, to: output)
                    } else {
                        Self.appendReserved(#"","variant":null,"layer":""#, to: output)
                    }
                    output.appendReserved(layerName, layerLength)
                    Self.appendReserved(#"","reason":""#, to: output)
                    Self.appendReserved(reasonName, to: output)
                    output.appendReserved(shared, tailLength)
                }
            }
        }
    }

    @inline(__always)
    private static func appendReserved(_ literal: StaticString, to output: StagingBuffer) {
        output.appendReserved(literal.utf8Start, literal.utf8CodeUnitCount)
    }

    /// Appends `bytes` as the inside of a JSON string: `"` and `\` escaped, control characters as
    /// AllotCore's `JSONString` writes them, valid UTF-8 as is, and each byte that is not part of
    /// valid UTF-8 as U+FFFD (unit ids from query strings are bytes, records are UTF-8 JSON).
    static func appendEscaped(_ bytes: UnsafeRawBufferPointer, to output: StagingBuffer) {
        let hex: StaticString = "0123456789abcdef"
        // At most 6 bytes out per byte in (a control character as \u00xx).
        output.reserve(bytes.count &* 6)
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                output.appendReserved(byte)
                index += 1
                continue
            }
            if byte < 0x80 {
                output.appendReserved(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.appendReserved(byte)
                case 0x0A: output.appendReserved(UInt8(ascii: "n"))
                case 0x0D: output.appendReserved(UInt8(ascii: "r"))
                case 0x09: output.appendReserved(UInt8(ascii: "t"))
                case 0x08: output.appendReserved(UInt8(ascii: "b"))
                case 0x0C: output.appendReserved(UInt8(ascii: "f"))
                default:
                    appendReserved("u00", to: output)
                    output.appendReserved(hex.utf8Start[Int(byte >> 4)])
                    output.appendReserved(hex.utf8Start[Int(byte & 0x0F)])
                }
                index += 1
                continue
            }
            let (length, valid) = sequence(bytes, at: index)
            if valid {
                output.appendReserved(bytes.baseAddress! + index, length)
            } else {
                // U+FFFD: 3 bytes for at least 1 in (within the reserve).
                output.appendReserved(0xEF)
                output.appendReserved(0xBF)
                output.appendReserved(0xBD)
            }
            index += length
        }
    }

    /// The UTF-8 sequence starting at `index` (a byte ≥ 0x80): its length when it is valid, else
    /// the length of its maximal subpart (the bytes that could start a valid sequence, at least
    /// one), which one U+FFFD replaces, as Unicode recommends and Swift's `String(decoding:as:)`
    /// does. Overlong forms, surrogates and code points over U+10FFFF are not valid.
    static func sequence(_ bytes: UnsafeRawBufferPointer, at index: Int) -> (length: Int, valid: Bool) {
        let lead = bytes[index]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            high = 0x9F
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default: return (1, false)
        }
        for offset in 1..<length {
            guard index + offset < bytes.count else { return (offset, false) }
            let byte = bytes[index + offset]
            let (minimum, maximum) = offset == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard byte >= minimum && byte <= maximum else { return (offset, false) }
        }
        return (length, true)
    }
}
