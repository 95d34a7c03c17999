/// An exact probability from bucket tables: `numerator / 10,000^scale`.
///
/// Every share `allot diff` derives from layer buckets and variant runs is a sum of products of
/// bucket counts over powers of 10,000 (one power per independent hash involved), so it is a
/// fraction of this form. Scales stay at most 4, so numerators stay below 10^16 and fit an `Int`.
struct Exact: Sendable, Equatable, Comparable, CustomStringConvertible {
    static let base = 10_000

    var numerator: Int
    var scale: Int

    init(_ numerator: Int, scale: Int) {
        precondition(scale >= 0 && scale <= 4, "scale \(scale) out of range")
        self.numerator = numerator
        self.scale = scale
    }

    static let zero = Exact(0, scale: 0)
    static let one = Exact(1, scale: 0)

    var isPositive: Bool { numerator > 0 }

    /// The value as a double (relative rounding error below 10^-15).
    var value: Double {
        var denominator = 1.0
        for _ in 0..<scale { denominator *= Double(Self.base) }
        return Double(numerator) / denominator
    }

    func rescaled(to target: Int) -> Exact {
        precondition(target >= scale && target <= 4)
        var n = numerator
        for _ in scale..<target { n = n.multipliedChecked(by: Self.base) }
        return Exact(n, scale: target)
    }

    static func + (a: Exact, b: Exact) -> Exact {
        let scale = max(a.scale, b.scale)
        return Exact(a.rescaled(to: scale).numerator.addingChecked(b.rescaled(to: scale).numerator), scale: scale)
    }

    static func - (a: Exact, b: Exact) -> Exact {
        let scale = max(a.scale, b.scale)
        return Exact(a.rescaled(to: scale).numerator.addingChecked(-b.rescaled(to: scale).numerator), scale: scale)
    }

    static func * (a: Exact, b: Exact) -> Exact {
        Exact(a.numerator.multipliedChecked(by: b.numerator), scale: a.scale + b.scale)
    }

    static func += (a: inout Exact, b: Exact) { a = a + b }

    static func < (a: Exact, b: Exact) -> Bool {
        let scale = max(a.scale, b.scale)
        return a.rescaled(to: scale).numerator < b.rescaled(to: scale).numerator
    }

    static func == (a: Exact, b: Exact) -> Bool {
        let scale = max(a.scale, b.scale)
        return a.rescaled(to: scale).numerator == b.rescaled(to: scale).numerator
    }

    var description: String { "\(numerator)/10000^\(scale)" }
}

extension Int {
    fileprivate func multipliedChecked(by other: Int) -> Int {
        let (result, overflow) = multipliedReportingOverflow(by: other)
        precondition(!overflow, "exact share overflowed")
        return result
    }

    fileprivate func addingChecked(_ other: Int) -> Int {
        let (result, overflow) = addingReportingOverflow(other)
        precondition(!overflow, "exact share overflowed")
        return result
    }
}
