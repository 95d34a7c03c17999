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
    /// Per unit type, per layer, per experiment, per variant (all experiments' variants in a row),
    /// per parameter: the name, JSON-escaped, without quotes.
    let unitTypes: [[UInt8]]
    let layers: [[UInt8]]
    let experiments: [[UInt8]]
    let variants: [[UInt8]]
    let parameters: [[UInt8]]
    /// The same names as text, for metric labels.
    let experimentNames: [String]
    let variantNames: [String]
    /// Per layer, its unit type; per experiment, its layer and where its variants start.
    let layerUnitType: [Int]
    let experimentLayer: [Int]
    let experimentFirstVariant: [Int]
    /// Per variant (same order as `variants`): the share of the experiment's enrolled units the
    /// split gives it (its weight over the experiment's total weight).
    let variantShares: [Double]

    /// Reads the names out of `contents` (`LoadedBundle.contents(expandingVariantBuckets: false)`).
    public init(contents: BundleContents) {
        version = contents.version
        unitTypes = contents.unitTypes.map(Self.escaped)
        layers = contents.layers.map { Self.escaped($0.name) }
        layerUnitType = contents.layers.map { layer in contents.unitTypes.firstIndex(of: layer.unitType) ?? 0 }
        experiments = contents.experiments.map { Self.escaped($0.name) }
        experimentNames = contents.experiments.map(\.name)
        experimentLayer = contents.experiments.map(\.layer)
        parameters = contents.parameters.map { Self.escaped($0.name) }
        var first: [Int] = []
        var variants: [[UInt8]] = []
        var variantNames: [String] = []
        var shares: [Double] = []
        for experiment in contents.experiments {
            first.append(variants.count)
            let total = experiment.variants.reduce(0) { $0 + $1.weight }
            for variant in experiment.variants {
                variants.append(Self.escaped(variant.name))
                variantNames.append(variant.name)
                shares.append(total > 0 ? Double(variant.weight) / Double(total) : 0)
            }
        }
        experimentFirstVariant = first
        self.variants = variants
        self.variantNames = variantNames
        variantShares = shares
    }

    /// The number of variants over all experiments.
    var variantCount: Int { variants.count }

    /// Where an experiment's variants are in `variants`.
    func variantRange(_ experiment: Int) -> Range<Int> {
        experimentFirstVariant[experiment]..<(experiment + 1 < experiments.count ? experimentFirstVariant[experiment + 1] : variants.count)
    }

    /// `text` as the inside of a JSON string literal (AllotCore's one escaper).
    static func escaped(_ text: String) -> [UInt8] {
        Array(JSONString.quoted(text).utf8.dropFirst().dropLast())
    }
}
