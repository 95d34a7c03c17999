public import AllotCore

/// A project whose declarations passed every check: names resolved to indices, parameter values
/// typed, targeting checked, everything in the deterministic order the bundle uses.
public struct CheckedProject: Sendable {
    /// Unit types used by layers, sorted by name.
    public var unitTypes: [String]
    /// Attributes sorted by name; an attribute's index is its position.
    public var attributes: [AttributeDeclaration]
    /// Layers sorted by name.
    public var layers: [CheckedLayer]
    /// Segments in dependency order (a segment's rule only refers to earlier ones), ties by name.
    public var segments: [CheckedSegment]
    /// Holdouts sorted by name.
    public var holdouts: [CheckedHoldout]
    /// Environment for compiling targeting against this project.
    public var targetingEnvironment: TargetingEnvironment
    /// Metrics sorted by name (`kind: Metric`; not part of the bundle, read by `allot analyze`).
    public var metrics: [MetricDeclaration] = []

    /// Every experiment, in bundle order (layer by layer, by name within a layer).
    public var experiments: [CheckedExperiment] { layers.flatMap(\.experiments) }

    public func layer(named name: String) -> CheckedLayer? { layers.first { $0.name == name } }

    public func metric(named name: String) -> MetricDeclaration? { metrics.first { $0.name.value == name } }
}

public struct CheckedLayer: Sendable {
    public var name: String
    public var unitType: String
    public var salt: String
    public var description: String?
    /// Parameters sorted by name; position = index within the layer.
    public var parameters: [ParameterDeclaration]
    /// Experiments sorted by name.
    public var experiments: [CheckedExperiment]
    /// Indices of the holdouts that cover this layer.
    public var holdouts: [Int]
    public var location: SourceLocation
    /// The file says `acknowledge: [reassignment]`.
    public var acknowledgesReassignment = false
}

public struct CheckedVariant: Sendable {
    public var name: String
    /// Basis points of the variant hash space.
    public var weight: Int
    public var description: String?
    /// Values the variant sets, by parameter name.
    public var parameters: [String: ParameterValue]
}

public struct CheckedExperiment: Sendable {
    public var declaration: ExperimentDeclaration
    public var name: String { declaration.name.value }
    public var layer: String { declaration.layer.value }
    public var status: ExperimentStatus { declaration.status.value }
    /// Basis points of the layer (0 when not given).
    public var traffic: Int { declaration.traffic?.value ?? 0 }
    public var salt: String { declaration.effectiveSalt }
    public var variants: [CheckedVariant]
    /// The checked targeting, in canonical form; nil without targeting.
    public var targeting: TargetingExpression?
    /// Segment names; the unit must be in at least one.
    public var segments: [String]
    /// Unit id → variant index.
    public var overrides: [(unit: String, variant: Int)]

    /// Whether the experiment holds layer buckets.
    public var holdsBuckets: Bool { status == .running || status == .paused }
}

public struct CheckedSegment: Sendable {
    public var declaration: SegmentDeclaration
    public var name: String { declaration.name.value }
    public var unitType: String? { declaration.unit?.value }
    public var rule: TargetingExpression?
    public var ids: [String] { declaration.ids }
}

public struct CheckedHoldout: Sendable {
    public var declaration: HoldoutDeclaration
    public var name: String { declaration.name.value }
    public var unitType: String { declaration.unit.value }
    public var salt: String { declaration.effectiveSalt }
    public var traffic: Int { declaration.traffic.value }
}
