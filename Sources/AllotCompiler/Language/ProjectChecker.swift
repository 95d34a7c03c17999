import AllotCore

/// Checks the rules that span documents: unique names, references between kinds, parameter
/// ownership and types, weights, traffic per layer, schedules, overrides, segment cycles,
/// targeting. Reports every problem, then returns the checked project or nil.
struct ProjectChecker {
    var diagnostics = DiagnosticBag()

    mutating func check(_ declarations: Declarations) -> CheckedProject? {
        let attributes = uniqueByName(declarations.attributes, kind: "attribute", name: \.name).sorted { $0.name.value < $1.name.value }
        let layerDeclarations = uniqueByName(declarations.layers, kind: "layer", name: \.name)
        let unitTypes = Set(layerDeclarations.map(\.unit.value))

        // Parameters are global names owned by one layer.
        var parameterOwner: [String: (layer: String, declaration: ParameterDeclaration)] = [:]
        for layer in layerDeclarations {
            for parameter in layer.parameters {
                if let existing = parameterOwner[parameter.name.value] {
                    let owner = existing.layer == layer.name.value ? "this layer" : "layer '\(existing.layer)'"
                    diagnostics.error(
                        at: parameter.name.location,
                        "parameter '\(parameter.name.value)' is already declared by \(owner) (\(existing.declaration.name.location))",
                        hint: "parameter names are the flag keys clients ask for, so they are unique across all layers; rename one")
                } else {
                    parameterOwner[parameter.name.value] = (layer.name.value, parameter)
                }
            }
        }

        var attributeEnvironment: [String: TargetingEnvironment.Attribute] = [:]
        for (index, attribute) in attributes.enumerated() {
            attributeEnvironment[attribute.name.value] = TargetingEnvironment.Attribute(
                index: index, type: attribute.type, allowedValues: attribute.allowedValues)
        }

        // Segments: check, resolve references, order by dependency.
        let segmentDeclarations = uniqueByName(declarations.segments, kind: "segment", name: \.name)
        for segment in segmentDeclarations {
            if let unit = segment.unit, !unitTypes.contains(unit.value) {
                reportUnknownUnit(unit, unitTypes)
            }
        }
        var provisionalSegments: [String: TargetingEnvironment.Segment] = [:]
        for (index, segment) in segmentDeclarations.enumerated() {
            provisionalSegments[segment.name.value] = TargetingEnvironment.Segment(index: index, unitType: segment.unit?.value)
        }
        let provisionalEnvironment = TargetingEnvironment(
            attributes: attributeEnvironment, unitTypes: unitTypes, segments: provisionalSegments)
        var segmentRules: [String: (expression: TargetingExpression, references: [String])] = [:]
        for segment in segmentDeclarations {
            guard let rule = segment.rule, let locate = segment.ruleLocator else { continue }
            var environment = provisionalEnvironment
            environment.segments[segment.name.value] = nil  // a segment cannot refer to itself
            if let compiled = checkTargeting(rule.value, environment, locate) {
                segmentRules[segment.name.value] = (compiled.expression, compiled.referencedSegments)
            }
        }
        let orderedSegments = dependencyOrder(segmentDeclarations, references: segmentRules.mapValues(\.references))
        var segmentEnvironment: [String: TargetingEnvironment.Segment] = [:]
        for (index, segment) in orderedSegments.enumerated() {
            segmentEnvironment[segment.name.value] = TargetingEnvironment.Segment(index: index, unitType: segment.unit?.value)
        }
        let environment = TargetingEnvironment(attributes: attributeEnvironment, unitTypes: unitTypes, segments: segmentEnvironment)

        // Holdouts.
        let holdoutDeclarations = uniqueByName(declarations.holdouts, kind: "holdout", name: \.name).sorted {
            $0.name.value < $1.name.value
        }
        if holdoutDeclarations.count > PayloadFormat.maxHoldouts {
            diagnostics.error(
                at: holdoutDeclarations[PayloadFormat.maxHoldouts].name.location,
                "more than \(PayloadFormat.maxHoldouts) holdouts", hint: "merge holdouts; each one costs every request a hash")
        }
        let layerNames = layerDeclarations.map(\.name.value)
        for holdout in holdoutDeclarations {
            if !unitTypes.contains(holdout.unit.value) { reportUnknownUnit(holdout.unit, unitTypes) }
            for layer in holdout.layers ?? [] {
                guard let declaration = layerDeclarations.first(where: { $0.name.value == layer.value }) else {
                    reportUnknown(layer, kind: "layer", candidates: layerNames)
                    continue
                }
                if declaration.unit.value != holdout.unit.value {
                    diagnostics.error(
                        at: layer.location,
                        "holdout '\(holdout.name.value)' holds out \(holdout.unit.value) units but layer '\(layer.value)' randomises \(declaration.unit.value)",
                        hint: "a holdout only covers layers of its own unit type")
                }
            }
        }

        // Experiments.
        let experimentDeclarations = uniqueByName(declarations.experiments, kind: "experiment", name: \.name)
        checkSalts(layers: layerDeclarations, holdouts: holdoutDeclarations, experiments: experimentDeclarations)
        var experimentsByLayer: [String: [CheckedExperiment]] = [:]
        let layersByName = Dictionary(layerDeclarations.map { ($0.name.value, $0) }, uniquingKeysWith: { first, _ in first })
        var parametersByLayer: [String: [String: ParameterDeclaration]] = [:]
        for layer in layerDeclarations {
            parametersByLayer[layer.name.value] = Dictionary(
                layer.parameters.map { ($0.name.value, $0) }, uniquingKeysWith: { first, _ in first })
        }
        for declaration in experimentDeclarations {
            guard let layer = layersByName[declaration.layer.value] else {
                reportUnknown(declaration.layer, kind: "layer", candidates: layerNames)
                continue
            }
            if let experiment = checkExperiment(
                declaration, layer: layer, layerParameters: parametersByLayer[layer.name.value] ?? [:], parameterOwner: parameterOwner,
                environment: environment)
            {
                experimentsByLayer[layer.name.value, default: []].append(experiment)
            }
        }

        var layers: [CheckedLayer] = []
        for declaration in layerDeclarations.sorted(by: { $0.name.value < $1.name.value }) {
            let experiments = (experimentsByLayer[declaration.name.value] ?? []).sorted { $0.name < $1.name }
            checkLayerTraffic(declaration, experiments)
            checkOverrideClashes(declaration, experiments)
            let holdouts = holdoutDeclarations.enumerated().filter { _, holdout in
                holdout.unit.value == declaration.unit.value && (holdout.layers?.contains { $0.value == declaration.name.value } ?? true)
            }.map(\.offset)
            layers.append(
                CheckedLayer(
                    name: declaration.name.value, unitType: declaration.unit.value, salt: declaration.salt?.value ?? declaration.name.value,
                    description: declaration.description, parameters: declaration.parameters.sorted { $0.name.value < $1.name.value },
                    experiments: experiments, holdouts: holdouts, location: declaration.name.location,
                    acknowledgesReassignment: declaration.acknowledgesReassignment))
        }

        let metrics = checkMetrics(declarations.metrics)

        guard !diagnostics.hasErrors else { return nil }
        return CheckedProject(
            unitTypes: unitTypes.sorted(), attributes: attributes, layers: layers,
            segments: orderedSegments.map { CheckedSegment(declaration: $0, rule: segmentRules[$0.name.value]?.expression) },
            holdouts: holdoutDeclarations.map { CheckedHoldout(declaration: $0) }, targetingEnvironment: environment,
            metrics: metrics)
    }

    // MARK: Metrics

    /// Unique names; a ratio's numerator and denominator are other metrics that are not ratios
    /// or means themselves (a unit's value of each must be a plain number).
    private mutating func checkMetrics(_ declarations: [MetricDeclaration]) -> [MetricDeclaration] {
        let metrics = uniqueByName(declarations, kind: "metric", name: \.name).sorted { $0.name.value < $1.name.value }
        let byName = Dictionary(metrics.map { ($0.name.value, $0) }, uniquingKeysWith: { first, _ in first })
        for metric in metrics where metric.type == .ratio {
            for reference in [metric.numerator, metric.denominator].compactMap({ $0 }) {
                guard let target = byName[reference.value] else {
                    reportUnknown(reference, kind: "metric", candidates: byName.keys.sorted())
                    continue
                }
                if target.type == .ratio || target.type == .mean {
                    diagnostics.error(
                        at: reference.location,
                        "metric '\(reference.value)' is a \(target.type.rawValue); a ratio divides conversion or sum metrics",
                        hint: "refer to the conversion or sum metrics it is made of")
                }
            }
        }
        return metrics
    }

    // MARK: Experiments

    private mutating func checkExperiment(
        _ declaration: ExperimentDeclaration, layer: LayerDeclaration, layerParameters: [String: ParameterDeclaration],
        parameterOwner: [String: (layer: String, declaration: ParameterDeclaration)], environment: TargetingEnvironment
    ) -> CheckedExperiment? {
        let name = declaration.name.value
        if (declaration.status.value == .running || declaration.status.value == .paused) && !declaration.hasTrafficKey {
            diagnostics.error(
                at: declaration.status.location, "a \(declaration.status.value.name) experiment needs 'traffic'",
                hint: "add e.g. `traffic: 10%` (the share of layer '\(layer.name.value)' it takes)")
        }
        if let start = declaration.start, let stop = declaration.stop, stop.value <= start.value {
            diagnostics.error(
                at: stop.location, "'stop' (\(RFC3339.format(stop.value))) is not after 'start' (\(RFC3339.format(start.value)))",
                hint: "swap them, or move stop later")
        }

        var variants: [CheckedVariant] = []
        var variantNames = Set<String>()
        var totalWeight = 0
        for variant in declaration.variants {
            if !variantNames.insert(variant.name.value).inserted {
                diagnostics.error(at: variant.name.location, "duplicate variant '\(variant.name.value)' in experiment '\(name)'")
                continue
            }
            totalWeight += variant.weight.value
            var values: [String: ParameterValue] = [:]
            for (parameterName, readings) in variant.parameterValues {
                guard let parameter = layerParameters[parameterName.value] else {
                    if let owner = parameterOwner[parameterName.value] {
                        diagnostics.error(
                            at: parameterName.location,
                            "parameter '\(parameterName.value)' belongs to layer '\(owner.layer)'; experiment '\(name)' is in layer '\(layer.name.value)'",
                            hint: "an experiment may only set parameters of its own layer, so two experiments never fight over one")
                    } else {
                        let hint =
                            closestMatch(to: parameterName.value, in: layerParameters.keys).map { "did you mean '\($0)'?" }
                            ?? (layerParameters.isEmpty
                                ? "layer '\(layer.name.value)' declares no parameters; add them under its `params:`"
                                : "layer '\(layer.name.value)' declares: \(layerParameters.keys.sorted().joined(separator: ", "))")
                        diagnostics.error(at: parameterName.location, "unknown parameter '\(parameterName.value)'", hint: hint)
                    }
                    continue
                }
                switch readings.reading(as: parameter.type) {
                case .success(let value): values[parameterName.value] = value
                case .failure(let diagnostic): diagnostics.append(diagnostic)
                }
            }
            variants.append(
                CheckedVariant(name: variant.name.value, weight: variant.weight.value, description: variant.description, parameters: values)
            )
        }
        if !declaration.variants.isEmpty && variantNames.count == declaration.variants.count && totalWeight != Bucketing.bucketCount {
            let breakdown = declaration.variants.map { "\($0.name.value) \(percent($0.weight.value))" }.joined(separator: " + ")
            diagnostics.error(
                at: declaration.variants[0].weight.location, "variant weights of '\(name)' sum to \(percent(totalWeight)), not 100%",
                hint: "\(breakdown); adjust them to add up to exactly 100%")
        }

        var segments: [String] = []
        for segment in declaration.segments {
            if environment.segments[segment.value] == nil {
                reportUnknown(segment, kind: "segment", candidates: environment.segments.keys)
            } else if let unit = environment.segments[segment.value]?.unitType, unit != layer.unit.value {
                diagnostics.error(
                    at: segment.location,
                    "segment '\(segment.value)' lists \(unit) ids but layer '\(layer.name.value)' randomises \(layer.unit.value)",
                    hint: "use a segment of \(layer.unit.value) ids, or a rule-only segment")
            } else {
                segments.append(segment.value)
            }
        }

        var overrides: [(unit: String, variant: Int)] = []
        var overridden: [String: String] = [:]
        for (variant, units) in declaration.overrides {
            guard let index = variants.firstIndex(where: { $0.name == variant.value }) else {
                reportUnknown(variant, kind: "variant", candidates: variants.map(\.name))
                continue
            }
            for unit in units {
                if let other = overridden[unit.value] {
                    diagnostics.error(
                        at: unit.location, "unit '\(unit.value)' is overridden into both '\(other)' and '\(variant.value)'",
                        hint: "a unit can be forced into one variant only")
                    continue
                }
                overridden[unit.value] = variant.value
                overrides.append((unit.value, index))
            }
        }

        var targeting: TargetingExpression?
        if let source = declaration.targeting, let locate = declaration.targetingLocator {
            targeting = checkTargeting(source.value, environment, locate)?.expression
        }
        return CheckedExperiment(
            declaration: declaration, variants: variants, targeting: targeting, segments: segments,
            overrides: overrides.sorted { $0.unit < $1.unit })
    }

    private mutating func checkLayerTraffic(_ layer: LayerDeclaration, _ experiments: [CheckedExperiment]) {
        let holding = experiments.filter(\.holdsBuckets)
        let total = holding.reduce(0) { $0 + $1.traffic }
        guard total > Bucketing.bucketCount else { return }
        let breakdown = holding.map { "\($0.name) \(percent($0.traffic))" }.joined(separator: ", ")
        let culprit = holding.last { $0.declaration.traffic != nil }?.declaration.traffic?.location ?? layer.name.location
        diagnostics.error(
            at: culprit, "running and paused experiments take \(percent(total)) of layer '\(layer.name.value)', more than 100%",
            hint: "\(breakdown); lower some traffic, conclude an experiment, or use another layer")
    }

    private mutating func checkOverrideClashes(_ layer: LayerDeclaration, _ experiments: [CheckedExperiment]) {
        var owner: [String: String] = [:]
        for experiment in experiments where experiment.status != .concluded {
            for override in experiment.overrides {
                if let other = owner[override.unit] {
                    let location = experiment.declaration.overrides.flatMap(\.units).first { $0.value == override.unit }?.location
                    diagnostics.error(
                        at: location ?? experiment.declaration.name.location,
                        "unit '\(override.unit)' is overridden in both '\(other)' and '\(experiment.name)' of layer '\(layer.name.value)'",
                        hint: "experiments in a layer are mutually exclusive; override the unit in one of them")
                } else {
                    owner[override.unit] = experiment.name
                }
            }
        }
    }

    // MARK: Helpers

    private mutating func checkTargeting(_ source: String, _ environment: TargetingEnvironment, _ locate: (Int) -> SourceLocation)
        -> CompiledTargeting?
    {
        switch TargetingCompiler.compile(source, environment: environment, locate: locate, intern: { _ in (0, 0) }) {
        case .success(let compiled): return compiled
        case .failure(let failure):
            diagnostics.append(contentsOf: failure.diagnostics)
            return nil
        }
    }

    /// Keeps the first declaration of each name, reporting the others.
    private mutating func uniqueByName<T>(_ items: [T], kind: String, name: KeyPath<T, Located<String>>) -> [T] {
        var seen: [String: SourceLocation] = [:]
        var result: [T] = []
        for item in items {
            let itemName = item[keyPath: name]
            if let first = seen[itemName.value] {
                diagnostics.error(
                    at: itemName.location, "duplicate \(kind) '\(itemName.value)' (first declared at \(first))",
                    hint: "\(kind) names must be unique")
                continue
            }
            seen[itemName.value] = itemName.location
            result.append(item)
        }
        return result
    }

    /// Every hash in the model is `H(salt, id)`: two roles sharing a salt would be the same hash,
    /// so a layer's buckets and an experiment's variants (or a holdout) would be correlated
    /// instead of independent. Salts are therefore unique across layers, holdouts and experiments.
    private mutating func checkSalts(layers: [LayerDeclaration], holdouts: [HoldoutDeclaration], experiments: [ExperimentDeclaration]) {
        var seen: [String: String] = [:]
        func claim(_ salt: String, _ owner: String, _ location: SourceLocation, hint: String) {
            if let other = seen[salt] {
                diagnostics.error(
                    at: location, "\(owner) uses salt '\(salt)', already used by \(other)",
                    hint: "two hashes with one salt are correlated, not independent; \(hint)")
            } else {
                seen[salt] = owner
            }
        }
        for layer in layers {
            claim(
                layer.salt?.value ?? layer.name.value, "layer '\(layer.name.value)'", layer.salt?.location ?? layer.name.location,
                hint: "give the layer its own `salt:`")
        }
        for holdout in holdouts {
            claim(
                holdout.effectiveSalt, "holdout '\(holdout.name.value)'", holdout.salt?.location ?? holdout.name.location,
                hint: "give the holdout its own `salt:`")
        }
        for experiment in experiments {
            claim(
                experiment.effectiveSalt, "experiment '\(experiment.name.value)'", experiment.salt?.location ?? experiment.name.location,
                hint: "rename the experiment or give it its own `salt:` (an experiment's default salt is its name)")
        }
    }

    private mutating func reportUnknown(_ name: Located<String>, kind: String, candidates: some Sequence<String>) {
        let candidates = Array(candidates)
        let hint =
            closestMatch(to: name.value, in: candidates).map { "did you mean '\($0)'?" }
            ?? (candidates.isEmpty ? "no \(kind) is declared" : "declared: \(candidates.sorted().joined(separator: ", "))")
        diagnostics.error(at: name.location, "unknown \(kind) '\(name.value)'", hint: hint)
    }

    private mutating func reportUnknownUnit(_ unit: Located<String>, _ unitTypes: Set<String>) {
        let hint =
            closestMatch(to: unit.value, in: unitTypes).map { "did you mean '\($0)'?" }
            ?? "unit types come from layers; layers use: \(unitTypes.sorted().joined(separator: ", "))"
        diagnostics.error(at: unit.location, "unknown unit type '\(unit.value)'", hint: hint)
    }

    /// Orders segments so each comes after the segments its rule uses; reports cycles.
    private mutating func dependencyOrder(_ segments: [SegmentDeclaration], references: [String: [String]]) -> [SegmentDeclaration] {
        let byName = Dictionary(uniqueKeysWithValues: segments.map { ($0.name.value, $0) })
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var order: [SegmentDeclaration] = []
        func visit(_ name: String, path: [String]) {
            if state[name] == 2 { return }
            if state[name] == 1 {
                let cycle = (path.drop { $0 != name } + [name]).joined(separator: " → ")
                diagnostics.error(
                    at: byName[name]?.rule?.location ?? byName[name]?.name.location, "segments refer to each other in a cycle: \(cycle)",
                    hint: "break the cycle; a segment's rule may use other segments only if they do not use it back")
                return
            }
            guard let segment = byName[name] else { return }
            state[name] = 1
            for reference in (references[name] ?? []).sorted() { visit(reference, path: path + [name]) }
            state[name] = 2
            order.append(segment)
        }
        for name in byName.keys.sorted() { visit(name, path: []) }
        return order
    }
}

/// Basis points as a percentage: 2000 → "20%", 1250 → "12.5%", 1 → "0.01%".
func percent(_ basisPoints: Int) -> String {
    let whole = basisPoints / 100
    let fraction = basisPoints % 100
    if fraction == 0 { return "\(whole)%" }
    if fraction % 10 == 0 { return "\(whole).\(fraction / 10)%" }
    return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)%"
}
