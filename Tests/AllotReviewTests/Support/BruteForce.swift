import AllotCore
import AllotTestSupport
import Foundation

@testable import AllotReview

/// Assigns random units with both bundles through the real evaluator and counts what the diff
/// predicts: per experiment, units enrolled before and after, newly enrolled, un-enrolled and
/// moved (by from → to); per parameter, units whose answer changes.
struct BruteForce {
    var units = 0
    var enrolledOld: [String: Int] = [:]
    var enrolledNew: [String: Int] = [:]
    var newlyEnrolled: [String: Int] = [:]
    var unenrolled: [String: Int] = [:]
    var moved: [String: Int] = [:]
    var moves: [String: Int] = [:]  // "experiment: from → to"
    var answerChanged: [String: Int] = [:]

    /// - Parameters:
    ///   - attributes: the request attributes every unit carries (the diff's reference profile
    ///     is "matches every targeting"); `attributesFor` draws them per unit instead, and
    ///     `include` keeps only some units in the counts (for conditional shares).
    static func measure(
        old: LoadedBundle, new: LoadedBundle, units count: Int, seed: UInt64, unitType: String = "user_id",
        attributes: [String: String] = [:], now: Int64, include: (([String: String]) -> Bool)? = nil,
        attributesFor: ((inout SeededRandom) -> [String: String])? = nil
    ) throws -> BruteForce {
        var random = SeededRandom(seed: seed)
        let a = Side(old)
        let b = Side(new)
        let experimentNames = Set(a.contents.experiments.map(\.name)).union(b.contents.experiments.map(\.name)).sorted()
        let experimentID = Dictionary(uniqueKeysWithValues: experimentNames.enumerated().map { ($1, $0) })
        let parameterNames = Set(a.contents.parameters.map(\.name)).intersection(b.contents.parameters.map(\.name)).sorted()
        let mapA = a.mapping(experimentID, parameterNames)
        let mapB = b.mapping(experimentID, parameterNames)
        var inputA = EvaluationInput(for: old)
        var inputB = EvaluationInput(for: new)
        var outcomesA: [Outcome] = []
        var outcomesB: [Outcome] = []
        var variantA = [String?](repeating: nil, count: experimentNames.count)
        var variantB = variantA
        var answersA = [String](repeating: "", count: parameterNames.count)
        var answersB = answersA
        var counts = Counts(experiments: experimentNames.count, parameters: parameterNames.count)
        var moves: [String: Int] = [:]
        let requestA = Request(old, unitType: unitType)
        let requestB = Request(new, unitType: unitType)
        var id = [UInt8](repeating: UInt8(ascii: "u"), count: 14)
        let digits = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)
        for _ in 0..<count {
            // "u" and 13 base-36 digits of a random 64-bit number.
            var value = random.next()
            for i in 1..<14 {
                id[i] = digits[Int(value % 36)]
                value /= 36
            }
            let attrs = attributesFor?(&random) ?? attributes
            if let include, !include(attrs) { continue }
            try id.withUnsafeBytes { bytes in
                try requestA.set(&inputA, id: bytes, attributes: attrs)
                try requestB.set(&inputB, id: bytes, attributes: attrs)
            }
            old.evaluate(inputA, now: now, into: &outcomesA)
            new.evaluate(inputB, now: now, into: &outcomesB)
            counts.units += 1
            mapA.read(outcomesA, variants: &variantA, answers: &answersA)
            mapB.read(outcomesB, variants: &variantB, answers: &answersB)
            for e in 0..<experimentNames.count {
                switch (variantA[e], variantB[e]) {
                case (nil, nil): break
                case (_?, nil):
                    counts.enrolledOld[e] += 1
                    counts.unenrolled[e] += 1
                case (nil, _?):
                    counts.enrolledNew[e] += 1
                    counts.newlyEnrolled[e] += 1
                case (let x?, let y?):
                    counts.enrolledOld[e] += 1
                    counts.enrolledNew[e] += 1
                    if x != y {
                        counts.moved[e] += 1
                        moves["\(experimentNames[e]): \(x) → \(y)", default: 0] += 1
                    }
                }
            }
            for p in 0..<parameterNames.count where answersA[p] != answersB[p] { counts.answerChanged[p] += 1 }
        }
        var result = BruteForce()
        result.units = counts.units
        func named(_ values: [Int], _ names: [String]) -> [String: Int] {
            Dictionary(uniqueKeysWithValues: zip(names, values).filter { $0.1 > 0 })
        }
        result.enrolledOld = named(counts.enrolledOld, experimentNames)
        result.enrolledNew = named(counts.enrolledNew, experimentNames)
        result.newlyEnrolled = named(counts.newlyEnrolled, experimentNames)
        result.unenrolled = named(counts.unenrolled, experimentNames)
        result.moved = named(counts.moved, experimentNames)
        result.moves = moves
        result.answerChanged = named(counts.answerChanged, parameterNames)
        return result
    }

    /// Sets requests without the sorting and lookups of `EvaluationInput.set` (the brute force
    /// evaluates millions of requests in a debug build).
    struct Request {
        let bundle: LoadedBundle
        let unit: Int?
        let attributes: [String: (index: Int, type: AttributeType)]

        init(_ bundle: LoadedBundle, unitType: String) {
            self.bundle = bundle
            unit = bundle.unitTypeIndex(named: unitType)
            var attributes: [String: (index: Int, type: AttributeType)] = [:]
            for (index, attribute) in bundle.contents(expandingVariantBuckets: false).attributes.enumerated() {
                attributes[attribute.name] = (index, attribute.type)
            }
            self.attributes = attributes
        }

        func set(_ input: inout EvaluationInput, id: UnsafeRawBufferPointer, attributes values: [String: String]) throws {
            input.reset(for: bundle)
            guard let unit else { return }
            input.setUnit(unit, id: id)
            for (name, text) in values {
                guard let attribute = attributes[name] else { continue }
                var text = text
                try text.withUTF8 { bytes in
                    try Result { () throws(RequestError) in
                        try input.setAttribute(attribute.index, text: UnsafeRawBufferPointer(bytes), type: attribute.type)
                    }.get()
                }
            }
        }
    }

    private struct Counts {
        var units = 0
        var enrolledOld: [Int]
        var enrolledNew: [Int]
        var newlyEnrolled: [Int]
        var unenrolled: [Int]
        var moved: [Int]
        var answerChanged: [Int]

        init(experiments: Int, parameters: Int) {
            enrolledOld = [Int](repeating: 0, count: experiments)
            enrolledNew = enrolledOld
            newlyEnrolled = enrolledOld
            unenrolled = enrolledOld
            moved = enrolledOld
            answerChanged = [Int](repeating: 0, count: parameters)
        }
    }

    /// Names and parameter values of one bundle, for turning outcomes into answers.
    struct Side {
        let contents: BundleContents

        init(_ bundle: LoadedBundle) { contents = bundle.contents(expandingVariantBuckets: false) }

        struct Mapping {
            /// Per bundle experiment: its id in the shared list, and its variant names.
            var experimentID: [Int]
            var variantNames: [[String]]
            /// Per bundle experiment and variant: the JSON of each shared parameter.
            var values: [[[String]]]
            var defaults: [String]

            /// The variant each experiment enrolls the unit in (`split` only, as shares count
            /// hashed units), and every parameter's answer: the enrolled variant's value (split or
            /// override), else the default (`docs/bundle-format.md` §3, "Parameters").
            func read(_ outcomes: [Outcome], variants: inout [String?], answers: inout [String]) {
                for i in variants.indices { variants[i] = nil }
                for i in answers.indices { answers[i] = defaults[i] }
                for outcome in outcomes where outcome.reason.isEnrolled {
                    let e = Int(outcome.experiment)
                    let v = Int(outcome.variant)
                    if outcome.reason == .split { variants[experimentID[e]] = variantNames[e][v] }
                    for (p, json) in values[e][v].enumerated() where !json.isEmpty { answers[p] = json }
                }
            }
        }

        func mapping(_ ids: [String: Int], _ parameters: [String]) -> Mapping {
            let defaults = parameters.map { name in contents.parameters.first { $0.name == name }!.defaultJSON }
            let values = contents.experiments.map { experiment in
                experiment.variants.map { variant in
                    parameters.map { name in variant.parameters.first { $0.name == name }?.json ?? "" }
                }
            }
            return Mapping(
                experimentID: contents.experiments.map { ids[$0.name]! },
                variantNames: contents.experiments.map { $0.variants.map(\.name) },
                values: values, defaults: defaults)
        }
    }
}

/// Whether a measured count agrees with an exact share: within five standard errors of a
/// binomial sample of `n` units (plus one unit for discreteness), and exactly zero when the
/// share is exactly zero.
func agrees(measured count: Int, of n: Int, exact p: Double) -> Bool {
    if p == 0 { return count == 0 }
    if p == 1 { return count == n }
    let sigma = (p * (1 - p) / Double(n)).squareRoot()
    return abs(Double(count) / Double(n) - p) <= 5 * sigma + 1 / Double(n)
}
