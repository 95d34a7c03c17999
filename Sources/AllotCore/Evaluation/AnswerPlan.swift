/// The text of answers that depends only on the bundle, rendered once at load so that writing an
/// answer is a few copies of pre-encoded bytes per outcome and its length a few table reads:
///
/// - per experiment, the head of its entry `"<name>":{"variant":` and the middle
///   `,"layer":"<layer>","reason":"`;
/// - per variant (global index), its name quoted, `"<variant>"`;
/// - per layer, the length of its defaults fragment; per variant, the length of its parameters
///   fragment (the fragments themselves are copied from the payload).
///
/// About 70 bytes per experiment and 20 per variant: 0.1 MB for 1,000 experiments.
final class AnswerPlan: @unchecked Sendable {
    // @unchecked: the three buffers are allocated and filled in init, never written again, and
    // freed in deinit; readers only load from them.
    /// Every rendered piece, back to back.
    private let text: UnsafeMutableRawPointer
    /// Per experiment: offset and length in `text` of the head, then of the middle, then the
    /// global index of its first variant.
    private let experimentTable: UnsafeMutablePointer<UInt32>
    /// Per variant: offset and length in `text` of the quoted name.
    private let variantTable: UnsafeMutablePointer<UInt32>
    /// Per layer: the byte length of its defaults fragment.
    private let defaultsTable: UnsafeMutablePointer<Int32>
    /// Per variant: the byte length of its parameters fragment.
    private let paramsTable: UnsafeMutablePointer<Int32>
    /// The params members of an answer with every layer at its defaults: the fragments' bytes and
    /// how many are not empty (the commas between them are `nonEmpty - 1`).
    let defaultsBytes: Int
    let defaultsNonEmpty: Int

    init(_ p: Payload) {
        var text: [UInt8] = []
        var experimentPieces: [UInt32] = []
        experimentPieces.reserveCapacity(p.experimentCount * 5)
        func piece(_ parts: UnsafeRawBufferPointer...) -> [UInt32] {
            let start = text.count
            for part in parts { text.append(contentsOf: part) }
            return [UInt32(start), UInt32(text.count - start)]
        }
        func bytes(_ text: StaticString) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        }
        for experiment in 0..<p.experimentCount {
            let e = p.experimentRecord(experiment)
            let layer = p.layerRecord(p.int(e &+ PayloadFormat.ExperimentRecord.layer))
            experimentPieces += piece(bytes("\""), p.stringBytes(at: e &+ PayloadFormat.ExperimentRecord.name), bytes("\":{\"variant\":"))
            experimentPieces += piece(
                bytes(",\"layer\":\""), p.stringBytes(at: layer &+ PayloadFormat.LayerRecord.name), bytes("\",\"reason\":\""))
            experimentPieces.append(UInt32(p.int(e &+ PayloadFormat.ExperimentRecord.firstVariant)))
        }
        var variantPieces: [UInt32] = []
        var paramsLength: [Int32] = []
        variantPieces.reserveCapacity(p.variantCount * 2)
        for variant in 0..<p.variantCount {
            let v = p.variantRecord(variant)
            variantPieces += piece(bytes("\""), p.stringBytes(at: v &+ PayloadFormat.VariantRecord.name), bytes("\""))
            paramsLength.append(Int32(p.jsonBytes(at: v &+ PayloadFormat.VariantRecord.paramsFragment).count))
        }
        var defaultsLength: [Int32] = []
        for layer in 0..<p.layerCount {
            defaultsLength.append(Int32(p.jsonBytes(at: p.layerRecord(layer) &+ PayloadFormat.LayerRecord.defaultsFragment).count))
        }
        let rendered = UnsafeMutableRawPointer.allocate(byteCount: max(text.count, 1), alignment: 16)
        text.withUnsafeBytes { if let base = $0.baseAddress { rendered.copyMemory(from: base, byteCount: $0.count) } }
        self.text = rendered
        experimentTable = Self.table(experimentPieces)
        variantTable = Self.table(variantPieces)
        defaultsTable = Self.table(defaultsLength)
        paramsTable = Self.table(paramsLength)
        defaultsBytes = defaultsLength.reduce(0) { $0 + Int($1) }
        defaultsNonEmpty = defaultsLength.count { $0 > 0 }
    }

    private static func table<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let table = UnsafeMutablePointer<T>.allocate(capacity: max(values.count, 1))
        table.initialize(from: values, count: values.count)
        return table
    }

    deinit {
        text.deallocate()
        experimentTable.deallocate()
        variantTable.deallocate()
        defaultsTable.deallocate()
        paramsTable.deallocate()
    }

    /// The global index of variant `variant` (its index within the experiment) of `experiment`.
    @inline(__always)
    func globalVariant(experiment: Int, variant: Int) -> Int {
        Int(experimentTable[experiment &* 5 &+ 4]) &+ variant
    }

    /// The byte length of layer `layer`'s defaults fragment.
    @inline(__always)
    func defaultsLength(layer: Int) -> Int { Int(defaultsTable[layer]) }

    /// The byte length of variant `variant`'s (global index) parameters fragment.
    @inline(__always)
    func paramsLength(variant: Int) -> Int { Int(paramsTable[variant]) }

    /// The head and middle of experiment `experiment`'s entry.
    @inline(__always)
    func experimentPieces(_ experiment: Int) -> (head: UnsafeRawBufferPointer, middle: UnsafeRawBufferPointer) {
        let entry = experimentTable + experiment &* 5
        return (
            UnsafeRawBufferPointer(start: text + Int(entry[0]), count: Int(entry[1])),
            UnsafeRawBufferPointer(start: text + Int(entry[2]), count: Int(entry[3]))
        )
    }

    /// The quoted name of variant `variant` (global index).
    @inline(__always)
    func variantPiece(_ variant: Int) -> UnsafeRawBufferPointer {
        let entry = variantTable + variant &* 2
        return UnsafeRawBufferPointer(start: text + Int(entry[0]), count: Int(entry[1]))
    }
}
