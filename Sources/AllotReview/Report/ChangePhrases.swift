/// The changes of a report as short phrases, shared by the text and Markdown reports; `code`
/// formats expressions and values (backticks in Markdown, nothing in text).
struct ChangePhrases {
    var code: (String) -> String

    func experiment(_ e: DiffReport.ExperimentDiff) -> [String] {
        var phrases: [String] = []
        switch e.change {
        case "added":
            var text = "added: \(e.status.new ?? "?")"
            if let traffic = e.traffic.new, traffic > 0 { text += ", traffic \(Percent.format(traffic))" }
            let variants = e.variants.filter { $0.change == "added" }.map { "\($0.name) \(Percent.format($0.weight.new ?? 0))" }
            if !variants.isEmpty { text += ", variants " + variants.joined(separator: " / ") }
            phrases.append(text)
            if let targeting = e.targeting.new, !targeting.isEmpty { phrases.append("targeting \(code(targeting))") }
            if let segments = e.segments.new, !segments.isEmpty { phrases.append("segments \(segments.joined(separator: ", "))") }
            if let start = e.start.new { phrases.append("start \(start)") }
            if let stop = e.stop.new { phrases.append("stop \(stop)") }
            return phrases
        case "removed":
            var text = "removed (was \(e.status.old ?? "?")"
            if let traffic = e.traffic.old, traffic > 0 { text += ", traffic \(Percent.format(traffic))" }
            phrases.append(text + ")")
            return phrases
        case "affected":
            phrases.append(
                e.causes.isEmpty
                    ? "unchanged declaration; units move because of other changes"
                    : "unchanged declaration; units move because of " + e.causes.map(cause).joined(separator: " and "))
        default:
            break
        }
        if e.layer.changed { phrases.append("layer \(e.layer.old ?? "-") → \(e.layer.new ?? "-")") }
        if e.status.changed { phrases.append("status \(e.status.old ?? "-") → \(e.status.new ?? "-")") }
        if e.traffic.changed { phrases.append("traffic \(Percent.format(e.traffic.old ?? 0)) → \(Percent.format(e.traffic.new ?? 0))") }
        if e.targeting.changed {
            let rule = "\(targeting(e.targeting.old)) → \(targeting(e.targeting.new))"
            switch e.targetingChange {
            case "widened": phrases.append("targeting widened: \(rule) (matches every request the old rule did, and more)")
            case "narrowed": phrases.append("targeting narrowed: \(rule) (matches only requests the old rule did, not all of them)")
            case "equivalent": phrases.append("targeting rewritten: \(rule) (matches exactly the same requests)")
            default: phrases.append("targeting changed: \(rule) (neither rule contains the other)")
            }
        }
        if e.segments.changed {
            phrases.append(
                "segments [\((e.segments.old ?? []).joined(separator: ", "))] → [\((e.segments.new ?? []).joined(separator: ", "))]")
        }
        if e.start.changed { phrases.append("start \(e.start.old ?? "none") → \(e.start.new ?? "none")") }
        if e.stop.changed { phrases.append("stop \(e.stop.old ?? "none") → \(e.stop.new ?? "none")") }
        if e.freshStart { phrases.append("fresh start (new variant salt): enrolled units are re-randomised") }
        if e.owner.changed { phrases.append("owner \(e.owner.old ?? "-") → \(e.owner.new ?? "-")") }
        for variant in e.variants {
            switch variant.change {
            case "added": phrases.append("variant \(variant.name) added at \(Percent.format(variant.weight.new ?? 0))")
            case "removed": phrases.append("variant \(variant.name) removed (was \(Percent.format(variant.weight.old ?? 0)))")
            default:
                if variant.weight.changed {
                    phrases.append(
                        "weight \(variant.name) \(Percent.format(variant.weight.old ?? 0)) → \(Percent.format(variant.weight.new ?? 0))")
                }
            }
            for value in variant.parameters {
                phrases.append("\(variant.name) sets \(value.name) \(setting(value.value.old)) → \(setting(value.value.new))")
            }
        }
        if !e.overrides.isEmpty {
            var parts: [String] = []
            if !e.overrides.added.isEmpty { parts.append("+\(e.overrides.added.count)") }
            if !e.overrides.removed.isEmpty { parts.append("−\(e.overrides.removed.count)") }
            if !e.overrides.changed.isEmpty { parts.append("~\(e.overrides.changed.count)") }
            phrases.append("overrides \(parts.joined(separator: " "))")
        }
        if e.dormant.changed {
            if let reason = e.dormant.new {
                phrases.append("enrolls nobody now (\(reason))")
            } else if let reason = e.dormant.old {
                phrases.append("enrolls again (was \(reason))")
            }
        }
        return phrases
    }

    /// `holdout global (share 5% → 10%)`.
    func cause(_ c: DiffReport.Cause) -> String { "\(c.kind) \(code(c.name)) (\(c.change))" }

    /// What a reassignment's reader must do, or that it is done.
    func verdict(_ r: DiffReport.Reassignment) -> String {
        if r.acknowledged { return "acknowledged" + (r.causes.isEmpty ? "" : " on " + r.acknowledgeOn.joined(separator: " and ")) }
        guard r.canAcknowledge else { return "cannot be acknowledged" }
        return "not acknowledged: add `acknowledge: [reassignment]` to " + r.acknowledgeOn.joined(separator: " and ")
    }

    func targeting(_ text: String?) -> String {
        guard let text, !text.isEmpty else { return "everyone" }
        return code(text)
    }

    func setting(_ json: String?) -> String { json.map(code) ?? "default" }

    func parameter(_ p: DiffReport.ParameterDiff) -> [String] {
        switch p.change {
        case "added": return ["added: \(p.type.new ?? "?"), default \(code(p.defaultValue.new ?? "?"))"]
        case "removed": return ["removed (was \(p.type.old ?? "?"), default \(code(p.defaultValue.old ?? "?")))"]
        default: break
        }
        var phrases: [String] = []
        if p.layer.changed { phrases.append("layer \(p.layer.old ?? "-") → \(p.layer.new ?? "-")") }
        if p.type.changed { phrases.append("type \(p.type.old ?? "-") → \(p.type.new ?? "-")") }
        if p.defaultValue.changed { phrases.append("default \(code(p.defaultValue.old ?? "-")) → \(code(p.defaultValue.new ?? "-"))") }
        if phrases.isEmpty { phrases.append("answers change through experiments") }
        return phrases
    }

    func holdout(_ h: DiffReport.HoldoutDiff) -> [String] {
        var phrases: [String] = []
        switch h.change {
        case "added": phrases.append("added: \(Percent.format(h.share.new ?? 0)) of \(h.unitType.new ?? "?") units")
        case "removed": phrases.append("removed (was \(Percent.format(h.share.old ?? 0)) of \(h.unitType.old ?? "?") units)")
        default:
            if h.share.changed { phrases.append("share \(Percent.format(h.share.old ?? 0)) → \(Percent.format(h.share.new ?? 0))") }
            if h.unitType.changed { phrases.append("unit \(h.unitType.old ?? "-") → \(h.unitType.new ?? "-")") }
            if h.saltChanged { phrases.append("salt changed: a new set of units is held out") }
        }
        if h.layers.changed {
            phrases.append("layers [\((h.layers.old ?? []).joined(separator: ", "))] → [\((h.layers.new ?? []).joined(separator: ", "))]")
        }
        return phrases
    }

    func segment(_ s: DiffReport.SegmentDiff) -> [String] {
        var phrases: [String] = []
        switch s.change {
        case "added": phrases.append("added")
        case "removed": phrases.append("removed")
        default: break
        }
        if s.change == "changed" && s.rule.changed { phrases.append("rule \(targeting(s.rule.old)) → \(targeting(s.rule.new))") }
        if s.change == "changed" && s.unitType.changed { phrases.append("unit \(s.unitType.old ?? "none") → \(s.unitType.new ?? "none")") }
        if s.idsAdded > 0 || s.idsRemoved > 0 { phrases.append("ids +\(s.idsAdded) −\(s.idsRemoved)") }
        return phrases
    }

    func layer(_ l: DiffReport.LayerDiff) -> [String] {
        switch l.change {
        case "added": return ["added (\(l.unitType.new ?? "?"))"]
        case "removed": return ["removed"]
        default: break
        }
        var phrases: [String] = []
        if l.unitType.changed { phrases.append("unit \(l.unitType.old ?? "-") → \(l.unitType.new ?? "-")") }
        if l.reshuffled { phrases.append("salt changed: every unit gets a new bucket") }
        if l.allocated.changed {
            phrases.append("allocated \(Percent.format(l.allocated.old ?? 0)) → \(Percent.format(l.allocated.new ?? 0))")
        }
        if l.holdouts.changed {
            phrases.append(
                "holdouts [\((l.holdouts.old ?? []).joined(separator: ", "))] → [\((l.holdouts.new ?? []).joined(separator: ", "))]")
        }
        return phrases
    }

    /// "a → b" for a side label with its commit.
    static func sideLabel(_ side: DiffReport.Side) -> String {
        if let commit = side.commit { return "\(side.label) (\(commit.prefix(12)))" }
        if let version = side.version { return "\(side.label) (version \(version))" }
        return side.label
    }
}
