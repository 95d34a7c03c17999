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

    /// Appends `bytes` as the inside of a JSON string, in AllotCore's one form (`JSONString`):
    /// unit ids from query strings are bytes, records are UTF-8 JSON.
    static func appendEscaped(_ bytes: UnsafeRawBufferPointer, to output: StagingBuffer) {
        output.reserve(bytes.count &* JSONString.maxBytesPerByte)
        output.appendReserved { JSONString.escape(bytes, into: $0) }
    }
}
