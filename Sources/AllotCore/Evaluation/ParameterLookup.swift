extension LoadedBundle {
    /// The name of parameter `index` (`0..<payload.parameterCount`; traps otherwise).
    public func parameterName(_ index: Int) -> String {
        checkIndex(index, payload.parameterCount, "parameter")
        return payload.string(at: payload.parameterRecord(index) + PayloadFormat.ParameterRecord.name)
    }

    /// The declared type of parameter `index` (`0..<payload.parameterCount`; traps otherwise).
    public func parameterType(_ index: Int) -> ParameterType {
        checkIndex(index, payload.parameterCount, "parameter")
        return ParameterType(rawValue: payload.u8(payload.parameterRecord(index) + PayloadFormat.ParameterRecord.type))!
    }

    /// The layer owning parameter `index` (`0..<payload.parameterCount`; traps otherwise): evaluate only this layer to answer for one flag.
    public func parameterLayer(_ index: Int) -> Int {
        checkIndex(index, payload.parameterCount, "parameter")
        return payload.int(payload.parameterRecord(index) + PayloadFormat.ParameterRecord.layer)
    }

    /// The JSON bytes of parameter `index` for a unit whose outcome in the parameter's layer is
    /// `outcome` (nil: no experiment holds the unit): the enrolled variant's value, else the
    /// default. The bytes are valid while the bundle is alive. Traps for an index out of range or
    /// an outcome of another bundle.
    public func withParameterValue<R>(_ index: Int, outcome: Outcome?, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        checkIndex(index, payload.parameterCount, "parameter")
        if let outcome { checkOutcome(outcome) }
        let p = payload
        let record = p.parameterRecord(index)
        if let outcome, outcome.reason.isEnrolled, outcome.variant >= 0,
            Int(outcome.layer) == p.int(record + PayloadFormat.ParameterRecord.layer)
        {
            let e = p.experimentRecord(Int(outcome.experiment))
            let v = p.variantRecord(experimentRecord: e, variant: outcome.variant)
            let value = p.parameterValueRecord(
                p.int(v + PayloadFormat.VariantRecord.firstParameterValue) + p.int(record + PayloadFormat.ParameterRecord.indexInLayer))
            return body(p.jsonBytes(at: value + PayloadFormat.ParameterValueRecord.value))
        }
        return body(p.jsonBytes(at: record + PayloadFormat.ParameterRecord.defaultValue))
    }

    /// The JSON text of parameter `index` for `outcome` (see `withParameterValue`).
    public func parameterValueJSON(_ index: Int, outcome: Outcome?) -> String {
        withParameterValue(index, outcome: outcome) { String(decoding: $0, as: UTF8.self) }
    }

    /// Parameter indices in name order.
    public var parametersByName: [Int] {
        (0..<payload.parameterCount).map { payload.int(payload.parameterIndex + $0 * 4) }
    }
}
