/// The report as a pull-request comment: a verdict, one table row per experiment, then the
/// parameters, holdouts, segments and layers that changed. GitHub-flavoured Markdown.
public enum MarkdownReport {
    /// A marker on the first line, so CI can find and update its previous comment.
    public static let marker = "<!-- allot-diff -->"

    /// GitHub refuses comments above 65,536 characters.
    public static let maximumLength = 60_000

    /// - Parameter maxRows: rows per table; experiments that move enrolled units come first and
    ///   are always listed, the rest are cut with a line saying how many.
    public static func render(_ report: DiffReport, maxRows: Int = 150) -> String {
        let phrases = ChangePhrases(code: code)
        var lines: [String] = [marker]
        lines.append("### Allot: \(code(ChangePhrases.sideLabel(report.old))) → \(code(ChangePhrases.sideLabel(report.new)))")
        lines.append("")
        let unacknowledged = report.reassignments.filter { !$0.acknowledged }
        if report.reassignments.isEmpty {
            lines.append("✅ No enrolled unit is moved to another variant or un-enrolled.")
        } else if unacknowledged.isEmpty {
            lines.append("☑️ Enrolled units move, and every change that moves them acknowledges it (`acknowledge: [reassignment]`).")
        } else {
            let names = unacknowledged.map { code($0.experiment) }.joined(separator: ", ")
            lines.append("⛔ **Enrolled units move without acknowledgement:** \(names).")
        }
        lines.append("")
        let s = report.summary
        lines.append(
            "\(s.experimentsAdded) added · \(s.experimentsRemoved) removed · \(s.experimentsChanged) changed · "
                + "\(s.experimentsAffected) affected · \(s.experimentsUnchanged) unchanged · evaluated at \(report.evaluatedAt)")

        if !report.experiments.isEmpty {
            lines.append("")
            lines.append("| | Experiment | Layer | Change | Enrolled | Newly enrolled | Un-enrolled | Moved |")
            lines.append("|---|---|---|---|--:|--:|--:|--:|")
            // Experiments that move enrolled units first, unacknowledged ones before the others.
            let ordered = report.experiments.enumerated().sorted { a, b in
                let rank = { (e: DiffReport.ExperimentDiff) in e.reassigns ? (e.acknowledged ? 1 : 0) : 2 }
                return (rank(a.element), a.offset) < (rank(b.element), b.offset)
            }.map(\.element)
            let shown = ordered.prefix(max(maxRows, ordered.filter(\.reassigns).count))
            for e in shown {
                let flag = e.reassigns ? (e.acknowledged ? "☑️" : "⛔") : ""
                let dagger = e.conditional ? " †" : ""
                let enrolled = "\(Percent.format(e.impact.enrolled.old ?? 0)) → \(Percent.format(e.impact.enrolled.new ?? 0))"
                lines.append(
                    row([
                        flag, code(e.name), e.layer.new ?? e.layer.old ?? "", phrases.experiment(e).joined(separator: "<br>"),
                        enrolled + dagger,
                        Percent.format(e.impact.newlyEnrolled), Percent.format(e.impact.unenrolled), Percent.format(e.impact.moved),
                    ]))
            }
            if shown.count < ordered.count {
                lines.append("")
                lines.append("… and \(ordered.count - shown.count) more experiments; run `allot diff --format text` for all of them.")
            }
            if report.experiments.contains(where: \.conditional) {
                lines.append("")
                lines.append(
                    "† not a share of all units: only of the units that match the experiment's targeting and segments, whose number "
                        + "is unknown at compile time. A targeting change is reported as the rule widened or narrowed, not as a share.")
            }
            let moving = report.experiments.filter { !$0.impact.moves.isEmpty }
            if !moving.isEmpty {
                lines.append("")
                lines.append("**Moves between variants**")
                lines.append("")
                for e in moving.prefix(maxRows) {
                    let moves = e.impact.moves.map { "\(code($0.from)) → \(code($0.to)) \(Percent.format($0.share))" }
                    lines.append("- \(code(e.name)): " + moves.joined(separator: ", "))
                }
            }
        }
        if !report.reassignments.isEmpty {
            lines.append("")
            lines.append("**Reassignment**")
            lines.append("")
            for r in report.reassignments {
                lines.append(
                    "- \(r.acknowledged ? "☑️" : "⛔") \(code(r.experiment)) (\(phrases.verdict(r))): " + r.reasons.joined(separator: "; "))
            }
        }
        if !report.parameters.isEmpty {
            lines.append("")
            lines.append("| Parameter | Layer | Change | Answer changes for |")
            lines.append("|---|---|---|--:|")
            for p in report.parameters.prefix(maxRows) {
                let share = p.answerChanged.map { "\(Percent.format($0)) of \(p.unitType)\(p.conditional ? " †" : "")" } ?? "–"
                lines.append(row([code(p.name), p.layer.new ?? p.layer.old ?? "", phrases.parameter(p).joined(separator: "<br>"), share]))
            }
            if report.parameters.count > maxRows {
                lines.append("")
                lines.append("… and \(report.parameters.count - maxRows) more parameters.")
            }
        }
        if !report.holdouts.isEmpty {
            lines.append("")
            lines.append("| Holdout | Change | Newly held out | Released |")
            lines.append("|---|---|--:|--:|")
            for h in report.holdouts {
                lines.append(
                    row([
                        code(h.name), phrases.holdout(h).joined(separator: "<br>"), h.newlyHeldOut.map(Percent.format) ?? "–",
                        h.released.map(Percent.format) ?? "–",
                    ]))
            }
        }
        if !report.segments.isEmpty {
            lines.append("")
            lines.append("| Segment | Change | Used by |")
            lines.append("|---|---|---|")
            for segment in report.segments {
                lines.append(
                    row([
                        code(segment.name), phrases.segment(segment).joined(separator: "<br>"),
                        segment.usedBy.map(code).joined(separator: ", "),
                    ]))
            }
        }
        if !report.layers.isEmpty {
            lines.append("")
            lines.append("| Layer | Change |")
            lines.append("|---|---|")
            for layer in report.layers { lines.append(row([code(layer.name), phrases.layer(layer).joined(separator: "<br>")])) }
        }
        if !report.notes.isEmpty {
            lines.append("")
            for note in report.notes { lines.append("> ⚠️ \(note)") }
        }
        lines.append("")
        lines.append("<details><summary>How these numbers are computed</summary>")
        lines.append("")
        lines.append(
            "Shares are exact fractions of all units of the layer's unit type, summed over the 10,000 layer buckets and the variant "
                + "runs of both bundles (no sampling). A unit's layer bucket, each experiment's variant bucket and each holdout bucket are "
                + "independent; a hash whose salt did not change is the same on both sides. Targeting cannot be computed without the "
                + "distribution of attributes: shares marked † are of the units that match the experiment's targeting and segments, "
                + "not of all units, and how many units a widened or narrowed rule gains or loses is not quantified. Overrides are not counted. "
                + "See docs/review.md.")
        lines.append("")
        lines.append("</details>")
        var text = lines.joined(separator: "\n") + "\n"
        if text.count > maximumLength {
            text = String(text.prefix(maximumLength - 200))
            text = String(text[..<(text.lastIndex(of: "\n") ?? text.endIndex)])
            text += "\n\n… the report is too long for a comment; run `allot diff --format text` for all of it.\n"
        }
        return text
    }

    /// Inline code that survives any content (backticks inside get a longer fence).
    static func code(_ text: String) -> String {
        var fence = "`"
        while text.contains(fence) { fence += "`" }
        let padded = text.hasPrefix("`") || text.hasSuffix("`") ? " \(text) " : text
        return fence + padded + fence
    }

    /// A table row; pipes and line breaks in cells are escaped.
    static func row(_ cells: [String]) -> String {
        "| " + cells.map { $0.replacing("|", with: "\\|").replacing("\n", with: " ") }.joined(separator: " | ") + " |"
    }
}
