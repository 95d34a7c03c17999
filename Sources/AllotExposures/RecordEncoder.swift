import AllotCore

/// Turns the compact events a worker left in its ring into exposure records: newline-delimited
/// JSON, members in the order docs/exposures.md gives, by copying pre-escaped names. Runs on the
/// writer thread, off the request path.
struct RecordEncoder {
    /// The region and server id, JSON-escaped (validated identifiers: nothing to escape).
    let region: [UInt8]
    let server: [UInt8]

    init(region: String, server: String) {
        self.region = ExposureNames.escaped(region)
        self.server = ExposureNames.escaped(server)
    }

    /// Appends one record per event of the events record `record` to `output`. Events naming an
    /// experiment or variant `names` does not have (never, unless memory is corrupt) are skipped.
    func append(_ record: UnsafeRawPointer, names: ExposureNames, to output: inout [UInt8]) {
        let count = Int(record.load(fromByteOffset: RecordLayout.eventCount, as: UInt16.self))
        let timestamp = record.load(fromByteOffset: RecordLayout.timestamp, as: Int64.self)
        let api = ExposureAPI(rawValue: record.load(fromByteOffset: RecordLayout.api, as: UInt8.self)) ?? .native
        let flag = Int(record.load(fromByteOffset: RecordLayout.flag, as: Int32.self))
        let unitCount = Int(record.load(fromByteOffset: RecordLayout.unitCount, as: UInt16.self))
        let units = record + RecordLayout.headerLength + count * RecordLayout.eventLength
        var event = record + RecordLayout.headerLength
        for _ in 0..<count {
            defer { event += RecordLayout.eventLength }
            let experiment = Int(event.load(fromByteOffset: RecordLayout.eventExperiment, as: Int32.self))
            let variant = Int(event.load(fromByteOffset: RecordLayout.eventVariant, as: Int32.self))
            guard experiment >= 0, experiment < names.experiments.count,
                let reason = Reason(rawValue: event.load(fromByteOffset: RecordLayout.eventReason, as: UInt8.self))
            else { continue }
            let layer = names.experimentLayer[experiment]
            let unitType = names.layerUnitType[layer]
            guard let unit = Self.unit(unitType, in: units, count: unitCount) else { continue }
            let variants = names.variantRange(experiment)
            let variantIndex = variants.lowerBound + variant
            let hasVariant = variant >= 0 && variantIndex < variants.upperBound
            if reason.isEnrolled && !hasVariant { continue }

            Self.append(#"{"v":1,"ts":"#, to: &output)
            appendDecimal(UInt64(max(0, timestamp)), to: &output)
            Self.append(#","unit_type":""#, to: &output)
            output.append(contentsOf: names.unitTypes[unitType])
            Self.append(#"","unit":""#, to: &output)
            Self.appendEscaped(unit, to: &output)
            Self.append(#"","experiment":""#, to: &output)
            output.append(contentsOf: names.experiments[experiment])
            if reason.isEnrolled {
                Self.append(#"","variant":""#, to: &output)
                output.append(contentsOf: names.variants[variantIndex])
                Self.append(#"","layer":""#, to: &output)
            } else {
                Self.append(#"","variant":null,"layer":""#, to: &output)
            }
            output.append(contentsOf: names.layers[layer])
            Self.append(#"","reason":""#, to: &output)
            Self.append(reason.jsonName, to: &output)
            Self.append(#"","bundle":"#, to: &output)
            appendDecimal(names.version, to: &output)
            Self.append(#","region":""#, to: &output)
            output.append(contentsOf: region)
            Self.append(#"","server":""#, to: &output)
            output.append(contentsOf: server)
            Self.append(#"","api":""#, to: &output)
            Self.append(api.jsonName, to: &output)
            if api == .ofrep, flag >= 0, flag < names.parameters.count {
                Self.append(#"","flag":""#, to: &output)
                output.append(contentsOf: names.parameters[flag])
            }
            Self.append("\"}\n", to: &output)
        }
    }

    /// The id of `unitType` among a record's units.
    private static func unit(_ unitType: Int, in units: UnsafeRawPointer, count: Int) -> UnsafeRawBufferPointer? {
        var entry = units
        for _ in 0..<count {
            let type = Int(entry.loadUnaligned(as: UInt16.self))
            let length = Int(entry.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
            if type == unitType { return UnsafeRawBufferPointer(start: entry + 4, count: length) }
            entry += 4 + length
        }
        return nil
    }

    @inline(__always)
    static func append(_ literal: StaticString, to output: inout [UInt8]) {
        output.append(contentsOf: UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends `bytes` as the inside of a JSON string: `"` and `\` escaped, control characters as
    /// AllotCore's `JSONString` writes them, valid UTF-8 as is, and each byte that is not part of
    /// valid UTF-8 as U+FFFD (unit ids from query strings are bytes, records are UTF-8 JSON).
    static func appendEscaped(_ bytes: UnsafeRawBufferPointer, to output: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                output.append(byte)
                index += 1
                continue
            }
            if byte < 0x80 {
                output.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): output.append(byte)
                case 0x0A: output.append(UInt8(ascii: "n"))
                case 0x0D: output.append(UInt8(ascii: "r"))
                case 0x09: output.append(UInt8(ascii: "t"))
                case 0x08: output.append(UInt8(ascii: "b"))
                case 0x0C: output.append(UInt8(ascii: "f"))
                default:
                    append("u00", to: &output)
                    output.append(hex.utf8Start[Int(byte >> 4)])
                    output.append(hex.utf8Start[Int(byte & 0x0F)])
                }
                index += 1
                continue
            }
            let (length, valid) = sequence(bytes, at: index)
            if valid {
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + length)]))
            } else {
                output.append(contentsOf: [0xEF, 0xBF, 0xBD])
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
