import Foundation

@testable import AllotReview

/// Compares every share a report states with a brute-force measurement; returns the disagreements.
func disagreements(_ report: DiffReport, _ measured: BruteForce, experiments: [String], parameters: [String]) -> [String] {
    var problems: [String] = []
    let n = measured.units
    func check(_ what: String, _ count: Int, _ exact: Double) {
        if !agrees(measured: count, of: n, exact: exact) {
            problems.append("\(what): reported \(exact), measured \(Double(count) / Double(n)) (\(count) of \(n))")
        }
    }
    for name in experiments {
        guard let e = report.experiments.first(where: { $0.name == name }) else {
            // Omitted from the report: nothing may move.
            check("\(name) newly enrolled", measured.newlyEnrolled[name] ?? 0, 0)
            check("\(name) un-enrolled", measured.unenrolled[name] ?? 0, 0)
            check("\(name) moved", measured.moved[name] ?? 0, 0)
            continue
        }
        if let old = e.impact.enrolled.old { check("\(name) enrolled before", measured.enrolledOld[name] ?? 0, old) }
        if let new = e.impact.enrolled.new { check("\(name) enrolled after", measured.enrolledNew[name] ?? 0, new) }
        check("\(name) newly enrolled", measured.newlyEnrolled[name] ?? 0, e.impact.newlyEnrolled)
        check("\(name) un-enrolled", measured.unenrolled[name] ?? 0, e.impact.unenrolled)
        check("\(name) moved", measured.moved[name] ?? 0, e.impact.moved)
        var reportedMoves = Set<String>()
        for move in e.impact.moves {
            let key = "\(name): \(move.from) → \(move.to)"
            reportedMoves.insert(key)
            check(key, measured.moves[key] ?? 0, move.share)
        }
        for (key, count) in measured.moves where key.hasPrefix("\(name): ") && !reportedMoves.contains(key) {
            problems.append("\(key): not reported, measured \(count) of \(n)")
        }
    }
    for name in parameters {
        let exact = report.parameters.first { $0.name == name }?.answerChanged ?? 0
        check("parameter \(name) answer changed", measured.answerChanged[name] ?? 0, exact)
    }
    return problems
}
