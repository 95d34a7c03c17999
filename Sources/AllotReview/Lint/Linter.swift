public import AllotCompiler
import AllotCore

/// `allot lint`: things that compile but are probably mistakes. Warnings, never errors.
public enum Linter {
    public struct Options: Sendable {
        /// The time stop dates are compared with (unix seconds).
        public var at: Int64
        /// Warn when running and paused experiments take at least this share of a layer (basis points).
        public var layerFullThreshold: Int

        public init(at: Int64, layerFullThreshold: Int = 9_000) {
            self.at = at
            self.layerFullThreshold = layerFullThreshold
        }
    }

    /// Every warning for a compiled project (the compiler's own warnings first), sorted by place.
    public static func lint(_ output: Compiler.Output, options: Options) -> [Diagnostic] {
        var bag = DiagnosticBag()
        bag.append(contentsOf: output.warnings)
        let project = output.project
        let types = Dictionary(project.attributes.map { ($0.name.value, $0.type) }, uniquingKeysWith: { a, _ in a })

        // Segments, in dependency order, so a rule using an empty segment is judged with it known.
        var logic = TargetingLogic(attributeTypes: types)
        for segment in project.segments where segment.ids.isEmpty {
            if let rule = segment.rule {
                if let contradiction = logic.contradiction(in: rule) {
                    logic.emptySegments.insert(segment.name)
                    bag.warning(
                        at: segment.declaration.rule?.location ?? segment.declaration.name.location,
                        "segment '\(segment.name)' is empty: it lists no ids and its rule can never match (\(contradiction))",
                        hint: "fix the rule, or add ids")
                }
            } else {
                logic.emptySegments.insert(segment.name)
                bag.warning(
                    at: segment.declaration.idsFile?.location ?? segment.declaration.name.location,
                    "segment '\(segment.name)' is empty: it has no rule and lists no ids",
                    hint: "add ids (or a rule), or remove the segment")
            }
        }

        for layer in project.layers {
            let parameterDefaults = layer.parameters.map { ($0.name.value, $0.defaultValue.json) }
            for experiment in layer.experiments {
                let declaration = experiment.declaration
                let name = experiment.name
                if experiment.status == .running, let stop = declaration.stop, stop.value <= options.at {
                    bag.warning(
                        at: stop.location, "experiment '\(name)' is running but its stop time has passed: every unit gets the defaults",
                        hint: "set `status: concluded` to free its buckets, or move `stop` later")
                }
                if experiment.status != .concluded {
                    if let targeting = experiment.targeting, let contradiction = logic.contradiction(in: targeting) {
                        bag.warning(
                            at: declaration.targeting?.location ?? declaration.name.location,
                            "targeting of '\(name)' can never match: \(contradiction)", hint: "no unit will be enrolled; fix the expression"
                        )
                    }
                    if !experiment.segments.isEmpty, experiment.segments.allSatisfy({ logic.emptySegments.contains($0) }) {
                        bag.warning(
                            at: declaration.segments.first?.location ?? declaration.name.location,
                            "experiment '\(name)' can never enroll anyone: \(experiment.segments.count == 1 ? "its segment is" : "all its segments are") empty",
                            hint: "add members to the segment, or remove `segments:`")
                    }
                }
                if experiment.holdsBuckets, experiment.traffic == 0 {
                    bag.warning(
                        at: declaration.traffic?.location ?? declaration.status.location,
                        "experiment '\(name)' is \(experiment.status.name) at 0% traffic: it enrolls nobody",
                        hint: "give it traffic, or set `status: draft`")
                }
                if experiment.status != .concluded {
                    warnAboutIdenticalVariants(experiment, parameterDefaults, &bag)
                }
            }
            let allocated = layer.experiments.filter(\.holdsBuckets).reduce(0) { $0 + $1.traffic }
            if allocated >= options.layerFullThreshold {
                bag.warning(
                    at: layer.location,
                    "layer '\(layer.name)' is \(Percent.format(Double(allocated) / 10_000)) allocated to running and paused experiments; "
                        + "\(Percent.format(Double(10_000 - allocated) / 10_000)) is left for new ones",
                    hint: "conclude finished experiments to free buckets, or start a new layer")
            }
        }
        return bag.sorted
    }

    /// Variants that hand out exactly the same parameters measure nothing between them.
    private static func warnAboutIdenticalVariants(
        _ experiment: CheckedExperiment, _ defaults: [(String, String)], _ bag: inout DiagnosticBag
    ) {
        let declarations = experiment.declaration.variants
        func effective(_ variant: CheckedVariant) -> [String] {
            defaults.map { name, json in variant.parameters[name]?.json ?? json }
        }
        func location(_ name: String) -> SourceLocation {
            declarations.first { $0.name.value == name }?.name.location ?? experiment.declaration.name.location
        }
        if experiment.variants.count == 1, let only = experiment.variants.first, effective(only) == defaults.map(\.1) {
            bag.warning(
                at: location(only.name),
                "the only variant of '\(experiment.name)' sets no parameter to anything but its default: enrolled units see no difference",
                hint: "set a parameter in `params:`")
            return
        }
        var seen: [[String]: String] = [:]
        for variant in experiment.variants {
            let values = effective(variant)
            if let first = seen[values] {
                bag.warning(
                    at: location(variant.name),
                    "variants '\(first)' and '\(variant.name)' of '\(experiment.name)' set the same parameter values",
                    hint: "make them differ in `params:` (or ignore this for an intentional A/A test)")
            } else {
                seen[values] = variant.name
            }
        }
    }

    /// Warnings as GitHub Actions workflow commands (annotations on the pull request's files).
    public static func githubAnnotations(_ diagnostics: [Diagnostic]) -> String {
        diagnostics.map { d in
            let message = (d.message + (d.hint.map { " (\($0))" } ?? "")).replacing("%", with: "%25").replacing("\r", with: "%0D")
                .replacing("\n", with: "%0A")
            guard let location = d.location else { return "::warning title=allot lint::\(message)" }
            let file = location.file.replacing(",", with: "%2C").replacing(":", with: "%3A")
            return "::warning file=\(file),line=\(location.line),col=\(location.column),title=allot lint::\(message)"
        }.joined(separator: "\n")
    }
}
