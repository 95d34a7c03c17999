public import AllotCore
internal import Yams

/// A value with the place in a file it came from.
public struct Located<Value: Sendable>: Sendable {
    public var value: Value
    public var location: SourceLocation

    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

/// `kind: Attributes`: one typed request attribute.
public struct AttributeDeclaration: Sendable {
    public var name: Located<String>
    public var type: AttributeType
    /// The enumeration of allowed values (string and list attributes only).
    public var allowedValues: [String]?
    public var description: String?
}

/// A parameter owned by a layer.
public struct ParameterDeclaration: Sendable {
    public var name: Located<String>
    public var type: ParameterType
    public var defaultValue: ParameterValue
    public var description: String?
}

/// `kind: Layer`.
public struct LayerDeclaration: Sendable {
    public var name: Located<String>
    public var unit: Located<String>
    public var salt: Located<String>?
    public var description: String?
    public var parameters: [ParameterDeclaration]
    /// `acknowledge: [reassignment]`: this change (a new salt) may move enrolled units.
    public var acknowledgesReassignment = false
}

/// A variant of an experiment. Parameter values are type-checked once the layer is known.
public struct VariantDeclaration: Sendable {
    public var name: Located<String>
    /// Share of the experiment's units, in basis points (0.01%).
    public var weight: Located<Int>
    public var description: String?
    /// The values the variant sets, read as every parameter type (the layer, checked later,
    /// says which applies): no YAML node leaves the parser.
    var parameterValues: [(name: Located<String>, value: ParameterReadings)]
}

/// A parameter value from a file, read as each parameter type: the canonical JSON, or the
/// diagnostic for a value that is not of that type.
struct ParameterReadings: Sendable {
    var string: Result<ParameterValue, Diagnostic>
    var number: Result<ParameterValue, Diagnostic>
    var bool: Result<ParameterValue, Diagnostic>
    var json: Result<ParameterValue, Diagnostic>

    func reading(as type: ParameterType) -> Result<ParameterValue, Diagnostic> {
        switch type {
        case .string: return string
        case .number: return number
        case .bool: return bool
        case .json: return json
        }
    }
}

/// `kind: Experiment`.
public struct ExperimentDeclaration: Sendable {
    public var name: Located<String>
    public var layer: Located<String>
    public var owner: String?
    public var description: String?
    public var status: Located<ExperimentStatus>
    public var start: Located<Int64>?
    public var stop: Located<Int64>?
    /// Share of the layer, in basis points (0.01%).
    public var traffic: Located<Int>?
    /// Whether the file has a `traffic` key (even if its value was invalid).
    var hasTrafficKey: Bool
    public var targeting: Located<String>?
    var targetingLocator: (@Sendable (Int) -> SourceLocation)?
    public var segments: [Located<String>]
    public var variants: [VariantDeclaration]
    public var overrides: [(variant: Located<String>, units: [Located<String>])]
    /// An explicit experiment salt; changing it is a fresh start.
    public var salt: Located<String>?
    /// A restart generation; bumping it is a fresh start (the salt becomes `name#N`).
    public var restart: Located<Int>?
    /// Acknowledges, for `allot diff --fail-on-reassign`, that this change may move enrolled units.
    public var acknowledgesReassignment: Bool
    /// The file the experiment was declared in.
    public var file: String
    let locator: NodeLocator

    /// The salt of the experiment's variant hash.
    public var effectiveSalt: String {
        if let salt { return salt.value }
        if let restart, restart.value > 0 { return "\(name.value)#\(restart.value)" }
        return name.value
    }
}

/// `kind: Segment`.
public struct SegmentDeclaration: Sendable {
    public var name: Located<String>
    public var unit: Located<String>?
    public var rule: Located<String>?
    var ruleLocator: (@Sendable (Int) -> SourceLocation)?
    /// Inline and file ids together, deduplicated, in first-seen order.
    public var ids: [String]
    public var idsFile: Located<String>?
    public var description: String?
    /// `acknowledge: [reassignment]`: this change (members removed) may un-enroll units.
    public var acknowledgesReassignment = false
}

/// `kind: Holdout`.
public struct HoldoutDeclaration: Sendable {
    public var name: Located<String>
    public var unit: Located<String>
    /// Share of all units of the unit type, in basis points.
    public var traffic: Located<Int>
    public var salt: Located<String>?
    /// The layers held out; nil = every layer of the unit type.
    public var layers: [Located<String>]?
    public var description: String?
    /// `acknowledge: [reassignment]`: this change (a bigger share, a new salt, more layers) may
    /// un-enroll units of the experiments it covers.
    public var acknowledgesReassignment = false

    public var effectiveSalt: String { salt?.value ?? "holdout:\(name.value)" }
}

/// Everything declared across the files of an experiments directory.
public struct Declarations: Sendable {
    public var attributes: [AttributeDeclaration] = []
    public var layers: [LayerDeclaration] = []
    public var experiments: [ExperimentDeclaration] = []
    public var segments: [SegmentDeclaration] = []
    public var holdouts: [HoldoutDeclaration] = []
    public var metrics: [MetricDeclaration] = []
    /// Where each `kind: Attributes` document was, for "declare it" hints.
    public var attributeFiles: [String] = []

    public init() {}

    /// Appends `other`'s declarations after these, kind by kind (the declarations of files read
    /// after these).
    mutating func append(_ other: Declarations) {
        attributes.append(contentsOf: other.attributes)
        layers.append(contentsOf: other.layers)
        experiments.append(contentsOf: other.experiments)
        segments.append(contentsOf: other.segments)
        holdouts.append(contentsOf: other.holdouts)
        metrics.append(contentsOf: other.metrics)
        attributeFiles.append(contentsOf: other.attributeFiles)
    }
}

/// A typed parameter value with its canonical JSON encoding.
public struct ParameterValue: Sendable, Equatable, CustomStringConvertible {
    public var type: ParameterType
    /// Canonical JSON text, exactly as the bundle carries it.
    public var json: String

    public var description: String { json }
}
