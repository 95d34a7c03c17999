import AllotCompiler
import AllotCore

/// The targeting of one side as expressions: bundles carry canonical targeting text, which is
/// parsed back against the bundle's own attributes and segments (canonical text parses to the
/// expression it was printed from; `docs/targeting.md`, "Canonical form").
struct SideTargeting {
    let contents: BundleContents
    let environment: TargetingEnvironment
    let attributeTypes: [String: AttributeType]

    init(_ contents: BundleContents) {
        self.contents = contents
        var attributes: [String: TargetingEnvironment.Attribute] = [:]
        var types: [String: AttributeType] = [:]
        for (index, attribute) in contents.attributes.enumerated() {
            attributes[attribute.name] = TargetingEnvironment.Attribute(index: index, type: attribute.type)
            types[attribute.name] = attribute.type
        }
        var segments: [String: TargetingEnvironment.Segment] = [:]
        for (index, segment) in contents.segments.enumerated() {
            segments[segment.name] = TargetingEnvironment.Segment(index: index, unitType: segment.unitType)
        }
        environment = TargetingEnvironment(attributes: attributes, unitTypes: Set(contents.unitTypes), segments: segments)
        attributeTypes = types
    }

    /// The expression of canonical targeting text; `.constant(true)` for "" (everyone); nil if
    /// the text does not parse (a bundle from an incompatible compiler).
    func expression(_ text: String) -> TargetingExpression? {
        if text.isEmpty { return .constant(true) }
        guard
            case .success(let expression) = TargetingCompiler.check(
                text, environment: environment, locate: { SourceLocation(file: "<bundle>", line: 1, column: $0 + 1) })
        else { return nil }
        return expression
    }

    /// Everything an experiment requires beyond its buckets: its targeting and, when it lists
    /// segments, membership in one of them.
    func condition(ofExperiment e: Int) -> TargetingExpression? {
        let experiment = contents.experiments[e]
        guard let targeting = expression(experiment.targeting) else { return nil }
        if experiment.segments.isEmpty { return targeting }
        let membership: TargetingExpression =
            experiment.segments.count == 1
            ? .segment(name: experiment.segments[0], unitType: nil) : .or(experiment.segments.map { .segment(name: $0, unitType: nil) })
        return .and([targeting, membership])
    }
}

extension TargetingExpression {
    /// The expression with segment tests renamed by `rename` (nil keeps the name).
    func renamingSegments(_ rename: (String) -> String?) -> TargetingExpression {
        switch self {
        case .segment(let name, let unit): return .segment(name: rename(name) ?? name, unitType: unit)
        case .not(let inner): return .not(inner.renamingSegments(rename))
        case .and(let operands): return .and(operands.map { $0.renamingSegments(rename) })
        case .or(let operands): return .or(operands.map { $0.renamingSegments(rename) })
        default: return self
        }
    }
}
