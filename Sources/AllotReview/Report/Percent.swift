/// Shares as percentages for people: at most two decimals, more only where rounding would hide
/// that a share is not exactly 0% or 100% ("0.0025%", "99.995%").
public enum Percent {
    public static func format(_ share: Double) -> String {
        let percent = share * 100
        if percent == 0 { return "0%" }
        if percent == 100 { return "100%" }
        // Two significant digits for tiny shares, two decimals otherwise.
        var decimals = 2
        if percent < 0.01 {
            var magnitude = percent
            while magnitude < 0.1 && decimals < 12 {
                magnitude *= 10
                decimals += 1
            }
        }
        var text = fixed(percent, decimals: decimals)
        while text == "100", decimals < 12 {
            decimals += 1
            text = fixed(percent, decimals: decimals)
        }
        return text + "%"
    }

    /// `value` with `decimals` decimals, trailing zeros trimmed.
    static func fixed(_ value: Double, decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var whole = Int(rounded)
        var fraction = Int(((rounded - Double(whole)) * scale).rounded())
        if fraction >= Int(scale) {
            whole += 1
            fraction -= Int(scale)
        }
        guard fraction > 0 else { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: decimals - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}
