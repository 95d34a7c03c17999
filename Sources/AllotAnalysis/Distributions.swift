#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The distribution functions the analysis needs: Student's t, the standard normal and the
/// chi-square upper tail, accurate to about 1e-14 relative (the tests compare them with SciPy to
/// 1e-9). Tails are computed directly, not as `1 - cdf`, so tiny p-values keep their digits.
public enum Distributions {
    // MARK: Normal

    /// P(Z > z) for a standard normal Z.
    public static func normalSurvival(_ z: Double) -> Double { 0.5 * erfc(z / 2.0.squareRoot()) }

    public static func normalDensity(_ z: Double) -> Double { exp(-0.5 * z * z) / (2 * Double.pi).squareRoot() }

    /// The z with P(Z > z) = `upperTail` (0 < upperTail < 1).
    public static func normalUpperQuantile(_ upperTail: Double) -> Double {
        solveDecreasing(upperTail, survival: normalSurvival, density: normalDensity, start: 0)
    }

    // MARK: Student's t

    /// P(T > t) for Student's t with `df` degrees of freedom (df > 0).
    public static func tSurvival(_ t: Double, df: Double) -> Double {
        if t.isInfinite { return t > 0 ? 0 : 1 }
        // P(|T| > |t|) = I_x(df/2, 1/2) with x = df / (df + t²).
        let t2 = t * t
        let tail: Double
        if t2 == 0 {
            tail = 1
        } else {
            // x and 1 - x without cancellation.
            let x = df / (df + t2)
            let oneMinusX = t2 / (df + t2)
            tail = incompleteBeta(a: df / 2, b: 0.5, x: x, oneMinusX: oneMinusX, logX: -log1p(t2 / df), logOneMinusX: log(oneMinusX))
        }
        return t >= 0 ? tail / 2 : 1 - tail / 2
    }

    /// The density of Student's t.
    public static func tDensity(_ t: Double, df: Double) -> Double {
        // Γ((df+1)/2) / (√(df π) Γ(df/2)) (1 + t²/df)^(-(df+1)/2)
        let logNormaliser = -logGammaRatioHalf(df / 2) - 0.5 * log(df * Double.pi)
        return exp(logNormaliser - (df + 1) / 2 * log1p(t * t / df))
    }

    /// The t with P(T > t) = `upperTail` for `df` degrees of freedom.
    public static func tUpperQuantile(_ upperTail: Double, df: Double) -> Double {
        solveDecreasing(
            upperTail, survival: { tSurvival($0, df: df) }, density: { tDensity($0, df: df) }, start: normalUpperQuantile(upperTail))
    }

    // MARK: Chi-square

    /// P(X > x) for a chi-square X with `df` degrees of freedom.
    public static func chiSquareSurvival(_ x: Double, df: Double) -> Double {
        guard x > 0 else { return 1 }
        return upperIncompleteGamma(a: df / 2, x: x / 2)
    }

    // MARK: Special functions

    /// ln Γ(a) - ln Γ(a + 1/2), without the cancellation of two large logarithms when a is large.
    static func logGammaRatioHalf(_ a: Double) -> Double {
        guard a >= 8 else { return lgamma(a) - lgamma(a + 0.5) }
        // Stirling: ln Γ(z) = (z - 1/2) ln z - z + ln(2π)/2 + c(z), c(z) = 1/(12z) - 1/(360z³) + ...
        func correction(_ z: Double) -> Double {
            let z2 = z * z
            return (1.0 / 12 - (1.0 / 360 - (1.0 / 1260 - (1.0 / 1680 - 1.0 / (1188 * z2)) / z2) / z2) / z2) / z
        }
        // (a - 1/2) ln a - a - [a ln(a + 1/2) - a - 1/2] = -ln(a)/2 - a ln(1 + 1/(2a)) + 1/2
        return -0.5 * log(a) - a * log1p(0.5 / a) + 0.5 + correction(a) - correction(a + 0.5)
    }

    /// ln B(a, b).
    static func logBeta(_ a: Double, _ b: Double) -> Double {
        if b == 0.5 { return logGammaRatioHalf(a) + lgamma(0.5) }
        if a == 0.5 { return logGammaRatioHalf(b) + lgamma(0.5) }
        return lgamma(a) + lgamma(b) - lgamma(a + b)
    }

    /// The regularised incomplete beta I_x(a, b), by its continued fraction (on whichever side
    /// converges), with x, 1 - x and their logarithms given so that none loses digits.
    static func incompleteBeta(a: Double, b: Double, x: Double, oneMinusX: Double, logX: Double, logOneMinusX: Double) -> Double {
        if x <= 0 { return 0 }
        if oneMinusX <= 0 { return 1 }
        let front = exp(a * logX + b * logOneMinusX - logBeta(a, b))
        if x < (a + 1) / (a + b + 2) {
            return front * betaContinuedFraction(a: a, b: b, x: x) / a
        }
        return 1 - front * betaContinuedFraction(a: b, b: a, x: oneMinusX) / b
    }

    /// The continued fraction of I_x(a, b) (modified Lentz).
    private static func betaContinuedFraction(a: Double, b: Double, x: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var result = d
        for m in 1...100_000 {
            let m = Double(m)
            let twoM = 2 * m
            // Even step.
            var numerator = m * (b - m) * x / ((a + twoM - 1) * (a + twoM))
            d = 1 + numerator * d
            if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            result *= d * c
            // Odd step.
            numerator = -(a + m) * (a + b + m) * x / ((a + twoM) * (a + twoM + 1))
            d = 1 + numerator * d
            if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            result *= step
            if abs(step - 1) < 1e-16 { break }
        }
        return result
    }

    /// The regularised upper incomplete gamma Q(a, x).
    static func upperIncompleteGamma(a: Double, x: Double) -> Double {
        let logFront = -x + a * log(x) - lgamma(a)
        if x < a + 1 {
            // Series for P(a, x); Q = 1 - P is not small here.
            var term = 1 / a
            var sum = term
            var n = a
            for _ in 0..<100_000 {
                n += 1
                term *= x / n
                sum += term
                if abs(term) < abs(sum) * 1e-17 { break }
            }
            return 1 - sum * exp(logFront)
        }
        // Continued fraction for Q (modified Lentz).
        let tiny = 1e-300
        var b = x + 1 - a
        var c = 1 / tiny
        var d = 1 / b
        var result = d
        for i in 1...100_000 {
            let i = Double(i)
            let an = -i * (i - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            result *= step
            if abs(step - 1) < 1e-16 { break }
        }
        return exp(logFront) * result
    }

    /// Solves survival(q) = target for a decreasing survival function: Newton steps, kept inside
    /// a bracket that bisection shrinks whenever a step would leave it.
    private static func solveDecreasing(
        _ target: Double, survival: (Double) -> Double, density: (Double) -> Double, start: Double
    ) -> Double {
        precondition(target > 0 && target < 1, "a tail probability is between 0 and 1")
        var low = -1e6
        var high = 1e6
        var q = start.isFinite ? min(max(start, low), high) : 0
        for _ in 0..<500 {
            let value = survival(q) - target
            if value == 0 { return q }
            if value > 0 { low = q } else { high = q }
            let slope = density(q)
            var next = slope > 0 ? q + value / slope : .nan
            if !(next > low && next < high) { next = (low + high) / 2 }
            if abs(next - q) <= 1e-15 * max(1, abs(q)) { return next }
            q = next
        }
        return q
    }
}
