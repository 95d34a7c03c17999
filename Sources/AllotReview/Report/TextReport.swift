/// The report for terminals: one block per change, shares as percentages.
public enum TextReport {
    public static func render(_ report: DiffReport) -> String {
        let phrases = ChangePhrases(code: { $0 })
        var lines: [String] = []
        lines.append(
            "allot diff \(ChangePhrases.sideLabel(report.old)) → \(ChangePhrases.sideLabel(report.new)), evaluated at \(report.evaluatedAt)"
        )
        let s = report.summary
        lines.append(
            "experiments: \(s.experimentsAdded) added, \(s.experimentsRemoved) removed, \(s.experimentsChanged) changed, "
                + "\(s.experimentsAffected) affected, \(s.experimentsUnchanged) unchanged; parameters: \(s.parametersChanged) changed")
        lines.append(
            "shares are exact fractions of each layer's units (no sampling); * = not of all units: only of those that match the "
                + "experiment's targeting and segments, whose number is unknown at compile time (a targeting change is reported as the "
                + "rule widened or narrowed, not as a share)")

        if !report.experiments.isEmpty {
            lines.append("")
            lines.append("Experiments")
            for e in report.experiments {
                let mark: String
                switch e.change {
                case "added": mark = "+"
                case "removed": mark = "-"
                case "affected": mark = "!"
                default: mark = "~"
                }
                lines.append(
                    "  \(mark) \(e.name) [\(e.layer.new ?? e.layer.old ?? "")]\(e.reassigns ? (e.acknowledged ? "  (reassigns, acknowledged)" : "  (REASSIGNS)") : "")"
                )
                for phrase in phrases.experiment(e) { lines.append("      \(phrase)") }
                lines.append("      " + impactLine(e))
                for move in e.impact.moves { lines.append("        \(move.from) → \(move.to): \(Percent.format(move.share))") }
            }
        }
        if !report.parameters.isEmpty {
            lines.append("")
            lines.append("Parameters")
            for p in report.parameters {
                var line = "  \(p.name) [\(p.layer.new ?? p.layer.old ?? "")]: " + phrases.parameter(p).joined(separator: "; ")
                if let share = p.answerChanged {
                    line += "; answer changes for \(Percent.format(share)) of \(p.unitType) units\(p.conditional ? " *" : "")"
                }
                lines.append(line)
            }
        }
        if !report.holdouts.isEmpty {
            lines.append("")
            lines.append("Holdouts")
            for h in report.holdouts {
                var line = "  \(h.name): " + phrases.holdout(h).joined(separator: "; ")
                if let newly = h.newlyHeldOut, let released = h.released, newly > 0 || released > 0 {
                    line += " (\(Percent.format(newly)) newly held out, \(Percent.format(released)) released)"
                }
                lines.append(line)
            }
        }
        if !report.segments.isEmpty {
            lines.append("")
            lines.append("Segments")
            for segment in report.segments {
                let users = segment.usedBy.isEmpty ? "" : " (used by \(segment.usedBy.joined(separator: ", ")))"
                lines.append("  \(segment.name): " + phrases.segment(segment).joined(separator: "; ") + users)
            }
        }
        if !report.layers.isEmpty {
            lines.append("")
            lines.append("Layers")
            for layer in report.layers { lines.append("  \(layer.name): " + phrases.layer(layer).joined(separator: "; ")) }
        }
        lines.append("")
        lines.append("Reassignment")
        if report.reassignments.isEmpty {
            lines.append("  no enrolled unit is moved to another variant or un-enrolled")
        }
        for r in report.reassignments {
            lines.append("  \(r.acknowledged ? "ok" : "FAIL") \(r.experiment): \(phrases.verdict(r))")
            for reason in r.reasons { lines.append("      \(reason)") }
        }
        if !report.notes.isEmpty {
            lines.append("")
            lines.append("Notes")
            for note in report.notes { lines.append("  \(note)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func impactLine(_ e: DiffReport.ExperimentDiff) -> String {
        let i = e.impact
        var parts = ["enrolled \(Percent.format(i.enrolled.old ?? 0)) → \(Percent.format(i.enrolled.new ?? 0))"]
        parts.append("newly enrolled \(Percent.format(i.newlyEnrolled))")
        parts.append("un-enrolled \(Percent.format(i.unenrolled))")
        parts.append("moved \(Percent.format(i.moved))")
        return parts.joined(separator: ", ") + " of layer units" + (e.conditional ? " *" : "")
    }
}
