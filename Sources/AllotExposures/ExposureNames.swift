public import AllotCore

/// Which API asked for a decision: the record's `api` member.
public enum ExposureAPI: UInt8, Sendable, CaseIterable {
    /// `GET`/`POST /v1/assign`.
    case native = 0
    /// One request of `POST /v1/assign/batch`.
    case batch = 1
    /// OFREP single flag.
    case ofrep = 2
    /// OFREP bulk evaluation: the unit *could* have seen the experiment.
    case ofrepBulk = 3

    /// The name in records.
    public var name: String { jsonName.description }

    /// The name as static text, for the encoder to copy.
    var jsonName: StaticString {
        switch self {
        case .native: "native"
        case .batch: "batch"
        case .ofrep: "ofrep"
        case .ofrepBulk: "ofrep_bulk"
        }
    }
}

/// The names one bundle's records need, JSON-escaped once when the bundle is installed, so the
/// writer turns the compact events the request threads leave into records by copying bytes.
///
/// Immutable. The request path never reads it: a worker hands a reference to the writer once per
/// bundle (through its buffer), and the writer uses it for that worker's events until the next.
public final class ExposureNames: Sendable {
    /// The bundle version records carry.
    public let version: UInt64
    /// Every name, JSON-escaped, without quotes, one after the other: unit types, layers,
    /// experiments, variants (all experiments' variants in a row), parameters. Name `i` is
    /// `text[spans[2i] ..< spans[2i] + spans[2i + 1]]`; each kind starts at its `…Base`.
    let text: [UInt8]
    let spans: [Int32]
    let layerBase: Int
    let experimentBase: Int
    let variantBase: Int
    let parameterBase: Int
    let experimentCount: Int
    let variantCount: Int
    let parameterCount: Int
    /// The experiments' and variants' names as text, for metric labels.
    let experimentNames: [String]
    let variantNames: [String]
    /// Per layer, its unit type; per experiment, its layer and where its variants start.
    let layerUnitType: [Int]
    let experimentLayer: [Int]
    let experimentFirstVariant: [Int]
    /// Per variant (same order as the variants' names): the share of the experiment's enrolled
    /// units the split gives it (its weight over the experiment's total weight).
    let variantShares: [Double]

    /// Reads the names out of `contents` (`LoadedBundle.contents(expandingVariantBuckets: false)`).
    public init(contents: BundleContents) {
        version = contents.version
        var first: [Int] = []
        var variantNames: [String] = []
        var shares: [Double] = []
        for experiment in contents.experiments {
            first.append(variantNames.count)
            let total = experiment.variants.reduce(0) { $0 + $1.weight }
            for variant in experiment.variants {
                variantNames.append(variant.name)
                shares.append(total > 0 ? Double(variant.weight) / Double(total) : 0)
            }
        }
        let kinds: [[String]] = [
            contents.unitTypes, contents.layers.map(\.name), contents.experiments.map(\.name), variantNames,
            contents.parameters.map(\.name),
        ]
        var text: [UInt8] = []
        var spans: [Int32] = []
        var bases: [Int] = []
        for names in kinds {
            bases.append(spans.count / 2)
            for name in names {
                let escaped = Array(JSONString.quoted(name).utf8.dropFirst().dropLast())
                spans += [Int32(text.count), Int32(escaped.count)]
                text += escaped
            }
        }
        self.text = text
        self.spans = spans
        layerBase = bases[1]
        experimentBase = bases[2]
        variantBase = bases[3]
        parameterBase = bases[4]
        experimentCount = contents.experiments.count
        variantCount = variantNames.count
        parameterCount = contents.parameters.count
        experimentNames = contents.experiments.map(\.name)
        self.variantNames = variantNames
        layerUnitType = contents.layers.map { layer in contents.unitTypes.firstIndex(of: layer.unitType) ?? 0 }
        experimentLayer = contents.experiments.map(\.layer)
        experimentFirstVariant = first
        variantShares = shares
    }

    /// Where an experiment's variants are among the variants.
    func variantRange(_ experiment: Int) -> Range<Int> {
        experimentFirstVariant[experiment]..<(experiment + 1 < experimentCount ? experimentFirstVariant[experiment + 1] : variantCount)
    }
}
