import AllotCore

/// One of the independent uniform variables a unit's assignment depends on: the bucket
/// `H(salt, id)` of the unit's id of `unitType` under a bucketing scheme.
///
/// Two roles with the same salt, unit type and scheme (a layer before and after a change, an
/// experiment that kept its salt) are the *same* variable; different salts, or the same salt
/// under the other scheme (`allot compile --bucketing-scheme`), are modelled as independent
/// uniform variables over the 10,000 buckets (what a good hash gives; `docs/review.md`,
/// `docs/bundle-format.md` §3 for the evidence).
struct HashVariable: Hashable, Sendable, CustomStringConvertible {
    var salt: String
    var unitType: String
    var scheme: BucketingScheme

    var description: String { "H\(scheme.rawValue)(\"\(salt)\", \(unitType))" }
}

/// The joint law of "held out before" and "held out after" for one layer (or a pair of layers of
/// one unit type): each holdout is `bucket(H(holdout salt, id)) < share`, holdouts with different
/// salts are independent, and a holdout that kept its salt is the same variable on both sides.
///
/// The probabilities are products over salts, kept as doubles; the zero cases are decided
/// structurally (from the thresholds, not by subtracting doubles), so "nobody is newly held
/// out" is exactly zero.
struct HoldoutTable: Sendable {
    /// P(not held out before).
    var freeOld: Double
    /// P(not held out after).
    var freeNew: Double
    /// P(not held out before and not after).
    var freeBoth: Double
    /// P(not held out before, held out after).
    var newlyHeld: Double
    /// P(held out before, not after).
    var released: Double
    /// P(held out before and after).
    var heldBoth: Double

    /// No holdout on either side.
    static let none = HoldoutTable(thresholdsOld: [:], thresholdsNew: [:])

    /// - Parameters: thresholds by variable: the share (basis points) of each holdout covering
    ///   the layer on that side; several holdouts on one variable keep the largest.
    init(thresholdsOld: [HashVariable: Int], thresholdsNew: [HashVariable: Int]) {
        let n = Double(Exact.base)
        var freeOld = 1.0
        var freeNew = 1.0
        var freeBoth = 1.0
        var anyNewlyHeld = false
        var anyReleased = false
        var everyoneHeldOld = false
        var everyoneHeldNew = false
        let variables = Set(thresholdsOld.keys).union(thresholdsNew.keys).sorted {
            ($0.salt, $0.unitType, $0.scheme.rawValue) < ($1.salt, $1.unitType, $1.scheme.rawValue)
        }
        for variable in variables {
            let old = thresholdsOld[variable] ?? 0
            let new = thresholdsNew[variable] ?? 0
            freeOld *= (n - Double(old)) / n
            freeNew *= (n - Double(new)) / n
            freeBoth *= (n - Double(max(old, new))) / n
            if new > old { anyNewlyHeld = true }
            if old > new { anyReleased = true }
            if old >= Exact.base { everyoneHeldOld = true }
            if new >= Exact.base { everyoneHeldNew = true }
        }
        self.freeOld = freeOld
        self.freeNew = freeNew
        self.freeBoth = freeBoth
        self.newlyHeld = anyNewlyHeld && !everyoneHeldOld ? max(0, freeOld - freeBoth) : 0
        self.released = anyReleased && !everyoneHeldNew ? max(0, freeNew - freeBoth) : 0
        self.heldBoth = max(0, 1 - freeBoth - newlyHeld - released)
    }
}
