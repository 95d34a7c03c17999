/// One experiment's line in an answer, by name.
public struct Assignment: Sendable, Equatable, CustomStringConvertible {
    public var experiment: String
    public var layer: String
    /// nil when the unit gets the defaults.
    public var variant: String?
    public var reason: Reason

    public init(experiment: String, layer: String, variant: String?, reason: Reason) {
        self.experiment = experiment
        self.layer = layer
        self.variant = variant
        self.reason = reason
    }

    public var description: String {
        "\(experiment) [\(layer)]: \(variant ?? "-") (\(reason))"
    }
}

extension LoadedBundle {
    /// The names behind an outcome (one of this bundle's; traps otherwise).
    public func assignment(for outcome: Outcome) -> Assignment {
        checkOutcome(outcome)
        let p = payload
        let e = p.experimentRecord(Int(outcome.experiment))
        var variant: String? = nil
        if outcome.variant >= 0 {
            variant = p.string(at: p.variantRecord(experimentRecord: e, variant: outcome.variant) + PayloadFormat.VariantRecord.name)
        }
        return Assignment(
            experiment: p.string(at: e + PayloadFormat.ExperimentRecord.name),
            layer: p.string(at: p.layerRecord(Int(outcome.layer)) + PayloadFormat.LayerRecord.name), variant: variant,
            reason: outcome.reason)
    }

    /// Convenience for tools and tests: evaluates units and attributes given as text (attribute
    /// text is parsed by each attribute's declared type, as in query strings) and returns the
    /// JSON answer. Unknown unit types and attributes are ignored.
    public func answerJSON(units: [String: String], attributes: [String: String] = [:], now: Int64) throws(RequestError) -> String {
        var input = EvaluationInput(for: self)
        try input.set(units: units, attributes: attributes, bundle: self)
        var outcomes: [Outcome] = []
        evaluate(input, now: now, into: &outcomes)
        var output: [UInt8] = []
        writeAnswer(outcomes, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Convenience for tools and tests: the assignments for units and attributes given as text.
    public func assignments(units: [String: String], attributes: [String: String] = [:], now: Int64) throws(RequestError) -> [Assignment] {
        var input = EvaluationInput(for: self)
        try input.set(units: units, attributes: attributes, bundle: self)
        var outcomes: [Outcome] = []
        evaluate(input, now: now, into: &outcomes)
        return outcomes.map(assignment(for:))
    }
}

extension EvaluationInput {
    /// Resets the input and sets units and attributes from text.
    public mutating func set(units: [String: String], attributes: [String: String], bundle: LoadedBundle) throws(RequestError) {
        reset(for: bundle)
        for (name, id) in units.sorted(by: { $0.key < $1.key }) {
            guard let index = bundle.unitTypeIndex(named: name) else { continue }
            var id = id
            let accepted = id.withUTF8 { setUnit(index, id: UnsafeRawBufferPointer($0)) }
            guard accepted else { throw RequestError(.badUnit, "unit '\(name)' must be 1-\(Bucketing.maxUnitIDLength) bytes") }
        }
        for (name, text) in attributes.sorted(by: { $0.key < $1.key }) {
            guard let index = bundle.attributeIndex(named: name) else { continue }
            var text = text
            let type = bundle.attributeType(index)
            do {
                try text.withUTF8 { bytes in
                    Result { () throws(RequestError) in try setAttribute(index, text: UnsafeRawBufferPointer(bytes), type: type) }
                }.get()
            } catch {
                throw RequestError(error.code, "attribute '\(name)': \(error.message)")
            }
        }
    }
}
