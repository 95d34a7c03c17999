extension EvaluationInput {
    /// The number of unit types the input is shaped for.
    public var unitTypeCount: Int { units.count }

    /// Calls `body` with the id of unit type `index` as the request gave it, or nil when the
    /// request has none. The bytes are valid only inside `body`.
    @inline(__always)
    public func withUnitID<R>(_ index: Int, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        let span = units[index]
        guard !span.isAbsent else { return body(nil) }
        return arena.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[Int(span.start)..<Int(span.start + span.count)])) }
    }
}
