/// The text of answers that depends only on the bundle, rendered once at load so that writing an
/// answer is two copies per outcome and one per layer, and measuring it a few table reads:
///
/// - per variant (global index), the head of an entry that enrols the unit in it,
///   `"<experiment>":{"variant":"<variant>","layer":"<layer>","reason":"`;
/// - per experiment, the head of an entry without a variant,
///   `"<experiment>":{"variant":null,"layer":"<layer>","reason":"`;
///   (the reason and the entry's end, `split"}`, are static text);
/// - per layer, where its defaults fragment is in the payload, and per variant where its
///   parameters fragment is, as (offset from the payload's start, length).
///
/// About 65 bytes per variant and per experiment, and 8 per layer and per variant more: 0.25 MB for
/// 1,000 experiments with 2,500 variants.
final class AnswerPlan: @unchecked Sendable {
    // @unchecked: the buffers are allocated and filled in init, never written again, and freed in
    // deinit; readers only load from them. `base` is the payload's, which the bundle owning this
    // plan keeps mapped for the plan's life.
    /// Every rendered head, back to back.
    private let text: UnsafeMutableRawPointer
    /// Offset and length in `text` of each head: the variants' (global index), then the
    /// experiments' variant-less ones.
    private let heads: UnsafeMutablePointer<UInt32>
    /// Per experiment, the global index of its first variant.
    private let firstVariants: UnsafeMutablePointer<Int32>
    /// Offset from `base` and length of each params fragment: the variants' (global index), then
    /// the layers' defaults.
    private let fragments: UnsafeMutablePointer<UInt32>
    private let base: UnsafeRawPointer
    private let variantCount: Int
    /// The params members of an answer with every layer at its defaults: the fragments' bytes and
    /// how many are not empty (the commas between them are `nonEmpty - 1`).
    let defaultsBytes: Int
    let defaultsNonEmpty: Int
    /// The longest entry (the longest head, the longest reason with the entry's end, a comma), and
    /// the longest `params` members any answer can have (every layer at its longest fragment, with
    /// commas): with them an answer's length is bounded without measuring.
    let longestEntry: Int
    let longestParams: Int

    init(_ p: Payload) {
        var text: [UInt8] = []
        var heads: [UInt32] = []
        heads.reserveCapacity((p.variantCount &+ p.experimentCount) &* 2)
        func append(_ parts: UnsafeRawBufferPointer...) {
            let start = text.count
            for part in parts { text.append(contentsOf: part) }
            heads += [UInt32(start), UInt32(text.count - start)]
        }
        func bytes(_ text: StaticString) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        }
        func names(experiment: Int) -> (experiment: UnsafeRawBufferPointer, layer: UnsafeRawBufferPointer) {
            let e = p.experimentRecord(experiment)
            let layer = p.layerRecord(p.int(e &+ PayloadFormat.ExperimentRecord.layer))
            return (
                p.stringBytes(at: e &+ PayloadFormat.ExperimentRecord.name), p.stringBytes(at: layer &+ PayloadFormat.LayerRecord.name)
            )
        }
        let firstVariants = (0..<p.experimentCount).map {
            Int32(p.int(p.experimentRecord($0) &+ PayloadFormat.ExperimentRecord.firstVariant))
        }
        // The validator checked that every variant names the experiment whose range holds it.
        func owner(_ variant: Int) -> Int { p.int(p.variantRecord(variant) &+ PayloadFormat.VariantRecord.experiment) }
        var fragments: [UInt32] = []
        fragments.reserveCapacity((p.variantCount &+ p.layerCount) &* 2)
        func fragment(_ bytes: UnsafeRawBufferPointer) {
            fragments += [UInt32(bytes.baseAddress.map { $0 - p.base } ?? 0), UInt32(bytes.count)]
        }
        for variant in 0..<p.variantCount {
            let v = p.variantRecord(variant)
            let (experiment, layer) = names(experiment: owner(variant))
            append(
                bytes("\""), experiment, bytes("\":{\"variant\":\""), p.stringBytes(at: v &+ PayloadFormat.VariantRecord.name),
                bytes("\",\"layer\":\""), layer, bytes("\",\"reason\":\""))
            fragment(p.jsonBytes(at: v &+ PayloadFormat.VariantRecord.paramsFragment))
        }
        for experiment in 0..<p.experimentCount {
            let (name, layer) = names(experiment: experiment)
            append(bytes("\""), name, bytes("\":{\"variant\":null,\"layer\":\""), layer, bytes("\",\"reason\":\""))
        }
        var defaultsBytes = 0
        var defaultsNonEmpty = 0
        var longestFragment = [Int](repeating: 0, count: p.layerCount)
        for layer in 0..<p.layerCount {
            let defaults = p.jsonBytes(at: p.layerRecord(layer) &+ PayloadFormat.LayerRecord.defaultsFragment)
            fragment(defaults)
            defaultsBytes &+= defaults.count
            defaultsNonEmpty &+= defaults.count > 0 ? 1 : 0
            longestFragment[layer] = defaults.count
        }
        for variant in 0..<p.variantCount {
            let layer = p.int(p.experimentRecord(owner(variant)) &+ PayloadFormat.ExperimentRecord.layer)
            longestFragment[layer] = max(longestFragment[layer], Int(fragments[variant &* 2 &+ 1]))
        }
        longestParams = longestFragment.reduce(0, +) &+ max(p.layerCount &- 1, 0)
        longestEntry =
            stride(from: 1, to: heads.count, by: 2).reduce(0) { max($0, Int(heads[$1])) }
            &+ Reason.allCases.reduce(0) { max($0, $1.jsonNameClosingEntry.utf8CodeUnitCount) } &+ 1
        let rendered = UnsafeMutableRawPointer.allocate(byteCount: max(text.count, 1), alignment: 16)
        text.withUnsafeBytes { if let start = $0.baseAddress { rendered.copyMemory(from: start, byteCount: $0.count) } }
        self.text = rendered
        self.heads = Self.table(heads)
        self.firstVariants = Self.table(firstVariants)
        self.fragments = Self.table(fragments)
        base = p.base
        variantCount = p.variantCount
        self.defaultsBytes = defaultsBytes
        self.defaultsNonEmpty = defaultsNonEmpty
    }

    private static func table<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let table = UnsafeMutablePointer<T>.allocate(capacity: max(values.count, 1))
        table.initialize(from: values, count: values.count)
        return table
    }

    deinit {
        text.deallocate()
        heads.deallocate()
        firstVariants.deallocate()
        fragments.deallocate()
    }

    /// The global index of variant `variant` (its index within the experiment) of `experiment`.
    @inline(__always)
    func globalVariant(experiment: Int, variant: Int) -> Int {
        Int(firstVariants[experiment]) &+ variant
    }

    /// The head of the entry for `experiment` with `variant` (its index within the experiment),
    /// or without one when `variant` is negative.
    @inline(__always)
    func head(experiment: Int, variant: Int) -> UnsafeRawBufferPointer {
        let index = variant >= 0 ? globalVariant(experiment: experiment, variant: variant) : variantCount &+ experiment
        let entry = heads + index &* 2
        return UnsafeRawBufferPointer(start: text + Int(entry[0]), count: Int(entry[1]))
    }

    /// Variant `variant`'s (global index) parameters fragment.
    @inline(__always)
    func params(variant: Int) -> UnsafeRawBufferPointer {
        let entry = fragments + variant &* 2
        return UnsafeRawBufferPointer(start: base + Int(entry[0]), count: Int(entry[1]))
    }

    /// Layer `layer`'s defaults fragment.
    @inline(__always)
    func defaults(layer: Int) -> UnsafeRawBufferPointer {
        params(variant: variantCount &+ layer)
    }
}
