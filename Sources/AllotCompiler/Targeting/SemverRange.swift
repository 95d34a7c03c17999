public import AllotCore

/// A caret or tilde version range, `^1.2.3` or `~1.2`, as `version in semver("^1.2.3")` writes it:
/// the versions from `lower` (inclusive) up to, not including, every version whose
/// major.minor.patch is `upper` (so also not `upper`'s pre-releases).
///
/// The bounds follow the rules npm and Cargo share (`docs/targeting.md`, "Version ranges"): a caret
/// lets the components right of the first non-zero written one grow, a tilde lets the patch grow
/// (the minor too when only the major is written). Missing components are zero in `lower`.
public struct SemverRange: Sendable, Equatable {
    /// `^` or `~`.
    public enum Kind: Sendable, Equatable {
        case caret
        case tilde
    }

    public var kind: Kind
    /// The smallest version in the range: the written one, missing components zero, with its
    /// pre-release.
    public var lower: Semver
    /// The first major.minor.patch above the range. As a bound it is `upper-0`, the lowest version
    /// with that major.minor.patch.
    public var upper: (major: UInt64, minor: UInt64, patch: UInt64)

    public static func == (a: SemverRange, b: SemverRange) -> Bool {
        a.kind == b.kind && a.lower == b.lower && a.upper == b.upper
    }

    /// The exclusive upper bound as a version: `upper` with pre-release `0`, which ranks below every
    /// other version of that major.minor.patch.
    public var upperBound: Semver {
        Semver(major: upper.major, minor: upper.minor, patch: upper.patch, prerelease: "0")
    }

    /// Why a text is not a range, for the compiler's message.
    public enum Failure: Error, Equatable, Sendable {
        /// No `^` or `~` in front.
        case notARange
        /// The part after the operator is not `N`, `N.N`, `N.N.N` or `N.N.N-pre`.
        case badVersion
        /// The upper bound does not fit 64 bits.
        case tooLarge
    }

    /// Parses `^V` or `~V`, where V is `major[.minor[.patch[-prerelease]]]` with decimal components
    /// (an optional leading `v`; build metadata after `+` is ignored, as in versions).
    public static func parse(_ text: String) -> Result<SemverRange, Failure> {
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.first, first == "^" || first == "~" else { return .failure(.notARange) }
        let kind: Kind = first == "^" ? .caret : .tilde
        let rest = String(String.UnicodeScalarView(scalars.dropFirst()))
        guard let version = Semver(rest) else { return .failure(.badVersion) }
        // How many numeric components were written: the dots before any `-` or `+`.
        let core = rest.unicodeScalars.prefix { $0 != "-" && $0 != "+" }
        let written = 1 + core.filter { $0 == "." }.count
        if !version.prerelease.isEmpty, written < 3 { return .failure(.badVersion) }
        let (major, minor, patch) = (version.major, version.minor, version.patch)
        func next(_ value: UInt64) -> UInt64? {
            let (sum, overflow) = value.addingReportingOverflow(1)
            return overflow ? nil : sum
        }
        let upper: (UInt64, UInt64, UInt64)?
        switch (kind, written) {
        case (.caret, 3) where major == 0 && minor == 0:
            upper = next(patch).map { (0, 0, $0) }
        case (.caret, 2) where major == 0 && minor == 0:
            upper = (0, 1, 0)
        case (.caret, _) where major == 0 && written > 1:
            upper = next(minor).map { (0, $0, 0) }
        case (.caret, _), (.tilde, 1):
            upper = next(major).map { ($0, 0, 0) }
        case (.tilde, _):
            upper = next(minor).map { (major, $0, 0) }
        }
        guard let upper else { return .failure(.tooLarge) }
        return .success(SemverRange(kind: kind, lower: version, upper: upper))
    }

    /// The range as comparisons on `attribute`: `attribute >= lower && attribute < upper-0`.
    func expression(on attribute: String) -> TargetingExpression {
        .and([
            .comparison(attribute: attribute, .greaterOrEqual, .semver(lower)),
            .comparison(attribute: attribute, .less, .semver(upperBound)),
        ])
    }
}
