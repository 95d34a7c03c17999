/// The keys each document kind accepts: used by the parser to report unknown keys and by
/// `allot schema` to describe the language to editors. One table, so the two never drift.
enum LanguageSchema {
    struct Field {
        let key: String
        let required: Bool
        let summary: String
    }

    static let kinds = ["Attributes", "Layer", "Experiment", "Segment", "Holdout", "Metric"]

    static let attributes: [Field] = [
        Field(key: "kind", required: true, summary: "Attributes"),
        Field(key: "attributes", required: true, summary: "map of attribute name to type or {type, values, description}"),
    ]
    static let attribute: [Field] = [
        Field(key: "type", required: true, summary: "string, number, bool, semver or list"),
        Field(key: "values", required: false, summary: "allowed values (string and list attributes)"),
        Field(key: "description", required: false, summary: "what the attribute means"),
    ]
    static let layer: [Field] = [
        Field(key: "kind", required: true, summary: "Layer"),
        Field(key: "name", required: true, summary: "unique layer name"),
        Field(key: "unit", required: true, summary: "unit type the layer randomises, e.g. user_id"),
        Field(key: "salt", required: false, summary: "hash salt (default: the name); changing it reshuffles every experiment of the layer"),
        Field(key: "description", required: false, summary: "what the layer is for"),
        Field(key: "params", required: false, summary: "parameters the layer owns: name to {type, default, description}"),
        Field(
            key: "acknowledge", required: false,
            summary: "list; `reassignment` acknowledges that this change (a new salt) moves enrolled units"),
    ]
    static let parameter: [Field] = [
        Field(key: "type", required: true, summary: "string, number, bool or json"),
        Field(key: "default", required: true, summary: "value when no experiment sets it"),
        Field(key: "description", required: false, summary: "what the parameter controls"),
    ]
    static let experiment: [Field] = [
        Field(key: "kind", required: true, summary: "Experiment"),
        Field(key: "name", required: true, summary: "unique experiment name"),
        Field(key: "layer", required: true, summary: "the layer whose traffic and parameters it uses"),
        Field(key: "owner", required: true, summary: "who answers for it, e.g. an email"),
        Field(key: "description", required: false, summary: "the hypothesis"),
        Field(key: "status", required: true, summary: "draft, running, paused or concluded"),
        Field(key: "start", required: false, summary: "RFC 3339 time before which units get the defaults"),
        Field(key: "stop", required: false, summary: "RFC 3339 time from which units get the defaults"),
        Field(key: "traffic", required: false, summary: "share of the layer, e.g. 20% (0.01% steps); required unless draft or concluded"),
        Field(key: "targeting", required: false, summary: "targeting expression over attributes"),
        Field(key: "segments", required: false, summary: "segments a unit must be in (any of them)"),
        Field(key: "variants", required: true, summary: "list of {name, weight, params, description}; weights sum to 100%"),
        Field(key: "overrides", required: false, summary: "map of variant name to unit ids forced into it"),
        Field(key: "salt", required: false, summary: "explicit variant-hash salt; changing it is a fresh start"),
        Field(key: "restart", required: false, summary: "restart generation; bumping it is a fresh start (new salt)"),
        Field(
            key: "acknowledge", required: false, summary: "list; `reassignment` lets `allot diff --fail-on-reassign` pass for this change"),
    ]
    static let variant: [Field] = [
        Field(key: "name", required: true, summary: "variant name, unique in the experiment"),
        Field(key: "weight", required: true, summary: "share of the experiment's units, e.g. 50% or 50"),
        Field(key: "params", required: false, summary: "parameter values, only parameters of the experiment's layer"),
        Field(key: "description", required: false, summary: "what the variant changes"),
    ]
    static let segment: [Field] = [
        Field(key: "kind", required: true, summary: "Segment"),
        Field(key: "name", required: true, summary: "unique segment name"),
        Field(key: "unit", required: false, summary: "unit type of the listed ids (required with ids or idsFile)"),
        Field(key: "rule", required: false, summary: "targeting expression; a unit matching it is a member"),
        Field(key: "ids", required: false, summary: "unit ids that are members"),
        Field(key: "idsFile", required: false, summary: "file of member ids, one per line, relative to this file"),
        Field(key: "description", required: false, summary: "who is in it"),
        Field(
            key: "acknowledge", required: false,
            summary: "list; `reassignment` acknowledges that this change (fewer members) un-enrolls units"),
    ]
    static let holdout: [Field] = [
        Field(key: "kind", required: true, summary: "Holdout"),
        Field(key: "name", required: true, summary: "unique holdout name"),
        Field(key: "unit", required: true, summary: "unit type held out"),
        Field(key: "traffic", required: true, summary: "share of all units held out, e.g. 5%"),
        Field(key: "salt", required: false, summary: "hash salt (default: holdout:<name>)"),
        Field(key: "layers", required: false, summary: "layers held out (default: every layer of the unit type)"),
        Field(key: "description", required: false, summary: "why"),
        Field(
            key: "acknowledge", required: false,
            summary: "list; `reassignment` acknowledges that this change un-enrolls units of the experiments it covers"),
    ]

    static let metric: [Field] = [
        Field(key: "kind", required: true, summary: "Metric"),
        Field(key: "name", required: true, summary: "unique metric name; events with this `metric` feed it"),
        Field(key: "type", required: true, summary: "conversion (any event), sum, mean (per event) or ratio (of two metrics)"),
        Field(key: "event", required: false, summary: "the `metric` of the events it reads (default: its name); not for ratios"),
        Field(key: "numerator", required: false, summary: "ratio only: the metric whose total is divided"),
        Field(key: "denominator", required: false, summary: "ratio only: the metric whose total divides"),
        Field(key: "direction", required: false, summary: "which way is better: increase (default) or decrease"),
        Field(key: "role", required: false, summary: "primary (default) or guardrail"),
        Field(
            key: "window", required: false, summary: "attribution window after the unit's first exposure, e.g. 7d, 24h, 30m (default: none)"
        ),
        Field(key: "description", required: false, summary: "what it measures"),
    ]

    static func keys(_ fields: [Field]) -> [String] { fields.map(\.key) }

    // The key lists, computed once.
    static let attributesKeys = keys(attributes)
    static let attributeKeys = keys(attribute)
    static let layerKeys = keys(layer)
    static let parameterKeys = keys(parameter)
    static let experimentKeys = keys(experiment)
    static let variantKeys = keys(variant)
    static let segmentKeys = keys(segment)
    static let holdoutKeys = keys(holdout)
    static let metricKeys = keys(metric)
}
