import AllotCore
import AllotExposures

/// The names and shapes of one bundle that the routes need on every request, looked up once when
/// the bundle is installed so that answering copies bytes and allocates nothing.
///
/// Names are stored JSON-escaped, without quotes, ready to append to a response.
struct BundleCatalog: Sendable {
    /// Per layer: its name, and the index of the unit type it randomises.
    let layerNames: [[UInt8]]
    let layerUnitTypes: [Int]
    /// Per unit type: its name.
    let unitTypeNames: [String]
    /// Per experiment: its name, and where its variants start in `variantNames`.
    let experimentNames: [[UInt8]]
    let experimentFirstVariant: [Int]
    let variantNames: [[UInt8]]
    /// Parameter indices in name order: the order of the OFREP bulk answer.
    let parametersByName: [Int]
    /// Per parameter (by index): its name and layer.
    let parameterNames: [[UInt8]]
    let parameterLayers: [Int]
    /// Per parameter: its position among its layer's parameters.
    let parameterIndexInLayer: [Int]
    /// Per experiment, where its row starts in `experimentSetsParameter`: one flag per parameter
    /// of its layer, true when some variant of the experiment sets that parameter.
    let experimentParameterStart: [Int]
    let experimentSetsParameter: [Bool]
    /// The unit type an OFREP `targetingKey` stands for, when the bundle declares it.
    let targetingUnit: Int?
    /// The names the exposure log's records need.
    let exposureNames: ExposureNames

    /// Reads the catalog out of `bundle` (allocates; done once per installed bundle).
    init(_ bundle: LoadedBundle, targetingKeyUnit: String) {
        // Names and variant parameter flags only: no 10,000-entry bucket arrays per experiment.
        let contents = bundle.contents(expandingVariantBuckets: false)
        unitTypeNames = contents.unitTypes
        layerNames = contents.layers.map { ResponseJSON.escaped($0.name) }
        layerUnitTypes = contents.layers.map { layer in contents.unitTypes.firstIndex(of: layer.unitType) ?? -1 }
        experimentNames = contents.experiments.map { ResponseJSON.escaped($0.name) }
        var first: [Int] = []
        var variants: [[UInt8]] = []
        for experiment in contents.experiments {
            first.append(variants.count)
            variants.append(contentsOf: experiment.variants.map { ResponseJSON.escaped($0.name) })
        }
        experimentFirstVariant = first
        variantNames = variants
        parametersByName = bundle.parametersByName
        parameterNames = contents.parameters.map { ResponseJSON.escaped($0.name) }
        parameterLayers = contents.parameters.map(\.layer)
        var indexInLayer = Array(repeating: 0, count: contents.parameters.count)
        for layer in contents.layers {
            for (position, parameter) in layer.parameters.enumerated() { indexInLayer[parameter] = position }
        }
        parameterIndexInLayer = indexInLayer
        var start: [Int] = []
        var sets: [Bool] = []
        for experiment in contents.experiments {
            start.append(sets.count)
            let count = contents.layers[experiment.layer].parameters.count
            for position in 0..<count {
                sets.append(experiment.variants.contains { $0.parameters.indices.contains(position) && $0.parameters[position].isSet })
            }
        }
        experimentParameterStart = start
        experimentSetsParameter = sets
        targetingUnit = bundle.unitTypeIndex(named: targetingKeyUnit)
        exposureNames = ExposureNames(contents: contents)
    }

    /// Whether some variant of `experiment` sets `parameter` (a parameter of the experiment's layer):
    /// only then does the experiment decide that flag's value, and its variant is the flag's variant.
    @inline(__always)
    func experiment(_ experiment: Int32, sets parameter: Int) -> Bool {
        experimentSetsParameter[experimentParameterStart[Int(experiment)] + parameterIndexInLayer[parameter]]
    }

    /// The escaped name of `outcome`'s variant, or nil when the unit gets the defaults.
    @inline(__always)
    func variantName(_ outcome: Outcome) -> [UInt8]? {
        guard outcome.variant >= 0 else { return nil }
        return variantNames[experimentFirstVariant[Int(outcome.experiment)] + Int(outcome.variant)]
    }
}
