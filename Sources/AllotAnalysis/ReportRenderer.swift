import Foundation

/// `allot analyze`'s text and Markdown reports. Both carry the same facts: per experiment the
/// split's health (units per variant against the weights, the sample-ratio check, excluded units)
/// and per metric each variant's mean and each treatment's effect with its interval and p-value.
public enum ReportRenderer {
    public enum Style: Sendable { case text, markdown }

    public static func render(_ report: AnalysisReport, style: Style) -> String {
        var out = ""
        let level = Int((report.confidence * 100).rounded())
        for experiment in report.experiments {
            out += style == .markdown ? "## Experiment `\(experiment.experiment)`\n\n" : "experiment \(experiment.experiment)\n"
            out += health(experiment, style)
            for metric in experiment.metrics {
                out += metricSection(metric, experiment: experiment, level: level, style)
            }
            if style == .text { out += "\n" }
        }
        let inputs = report.inputs
        func count(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        let summary =
            "read \(count(inputs.exposureRecords, "exposure record")) in \(count(inputs.exposureFiles, "segment")) and \(count(inputs.events, "event")) in \(count(inputs.eventFiles, "file")); "
            + "\(inputs.eventsAttributed) events attributed, \(inputs.eventsUnexposedUnit) of unexposed units, "
            + "\(inputs.eventsOutsideWindow) outside the attribution window, \(inputs.eventsUnknownMetric) of undeclared metrics"
            + (inputs.eventsPreExposure > 0 ? ", \(inputs.eventsPreExposure) before exposure used by CUPED" : "")
        out += style == .markdown ? "_\(summary)._\n" : summary + "\n"
        if report.experiments.isEmpty {
            out = (style == .markdown ? "No experiment has exposures.\n\n" : "no experiment has exposures\n") + out
        }
        return out
    }

    private static func health(_ experiment: ExperimentResult, _ style: Style) -> String {
        var out = ""
        let srm: String
        if let check = experiment.sampleRatio {
            srm =
                check.mismatch
                ? "SAMPLE RATIO MISMATCH: chi-square \(number(check.statistic)), p = \(pValue(check.pValue)) < \(check.threshold): do not trust the results until the cause is found"
                : "sample ratio OK (chi-square \(number(check.statistic)), p = \(pValue(check.pValue)))"
        } else {
            srm = "sample ratio not checked (too few units or variants)"
        }
        let excluded = [
            (experiment.multipleVariants, "in more than one variant"), (experiment.bulkOnly, "only in bulk evaluations"),
            (experiment.overridden, "forced by overrides"), (experiment.unknownVariant, "in undeclared variants"),
        ].filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
        let excludedText = excluded.isEmpty ? "none excluded" : "excluded: " + excluded.joined(separator: ", ")
        switch style {
        case .text:
            out +=
                "  units: \(experiment.analysedUnits) analysed of \(experiment.units) exposed (\(excludedText)); control: \(experiment.control)\n"
            for variant in experiment.variants {
                out +=
                    "    \(pad(variant.variant, 24)) \(pad(String(variant.units), 10, right: true)) units  (weight \(percent(variant.weight)))\n"
            }
            out += "  \(srm)\n"
        case .markdown:
            out += "| variant | weight | units |\n| --- | ---: | ---: |\n"
            for variant in experiment.variants {
                out +=
                    "| \(variant.variant)\(variant.variant == experiment.control ? " (control)" : "") | \(percent(variant.weight)) | \(variant.units) |\n"
            }
            out +=
                "\n\(experiment.sampleRatio?.mismatch == true ? "**\(srm)**" : srm). \(experiment.analysedUnits) units analysed of \(experiment.units) exposed; \(excludedText).\n\n"
        }
        return out
    }

    private static func metricSection(_ metric: MetricResult, experiment: ExperimentResult, level: Int, _ style: Style) -> String {
        var out = ""
        let cuped = metric.cuped.map { ", CUPED theta \(number($0.theta)) on the \(duration($0.windowSeconds)) before exposure" } ?? ""
        let title = "\(metric.metric) (\(metric.type), \(metric.role), \(metric.direction) is better\(cuped))"
        switch style {
        case .text:
            out += "  metric \(title)\n"
            for variant in metric.variants {
                out +=
                    "    \(pad(variant.variant, 24)) mean \(pad(optional(variant.summary.mean), 14)) variance \(pad(optional(variant.summary.variance), 14)) units \(variant.summary.units)\n"
            }
            for item in metric.comparisons {
                guard let c = item.comparison else {
                    out +=
                        "    \(pad(item.variant, 24)) vs \(experiment.control): no estimate (a side has no units, one unit, or no variance)\n"
                    continue
                }
                out +=
                    "    \(pad(item.variant, 24)) vs \(experiment.control): \(signed(c.absolute.estimate)) [\(number(c.absolute.lower)), \(number(c.absolute.upper))]"
                if let relative = c.relative {
                    out += ", \(signedPercent(relative.estimate)) [\(signedPercent(relative.lower)), \(signedPercent(relative.upper))]"
                }
                out += ", p = \(pValue(c.pValue))\(verdict(item.better))\n"
            }
        case .markdown:
            out +=
                "### \(metric.metric)\n\n_\(metric.type), \(metric.role), \(metric.direction) is better\(cuped); \(level)% intervals._\n\n"
            out += "| variant | units | mean | effect | relative | p-value |\n| --- | ---: | ---: | ---: | ---: | ---: |\n"
            for variant in metric.variants {
                let comparison = metric.comparisons.first { $0.variant == variant.variant }
                var effect = "", relative = "", p = ""
                if let comparison {
                    if let c = comparison.comparison {
                        effect = "\(signed(c.absolute.estimate)) [\(number(c.absolute.lower)), \(number(c.absolute.upper))]"
                        relative =
                            c.relative.map { "\(signedPercent($0.estimate)) [\(signedPercent($0.lower)), \(signedPercent($0.upper))]" }
                            ?? "n/a"
                        p = pValue(c.pValue) + verdict(comparison.better)
                    } else {
                        effect = "n/a"
                        relative = "n/a"
                        p = "n/a"
                    }
                } else {
                    effect = "(control)"
                }
                out +=
                    "| \(variant.variant) | \(variant.summary.units) | \(optional(variant.summary.mean)) | \(effect) | \(relative) | \(p) |\n"
            }
            out += "\n"
        }
        return out
    }

    static func duration(_ seconds: Int64) -> String {
        for (unit, size) in [("d", Int64(86400)), ("h", 3600), ("m", 60)] where seconds % size == 0 { return "\(seconds / size)\(unit)" }
        return "\(seconds)s"
    }

    private static func verdict(_ better: Bool?) -> String {
        switch better {
        case true?: return " (better)"
        case false?: return " (WORSE)"
        case nil: return ""
        }
    }

    static func number(_ value: Double) -> String {
        if value == 0 { return "0" }
        if abs(value) >= 1e6 || abs(value) < 1e-4 { return String(format: "%.4g", value) }
        return String(format: "%.4f", value)
    }

    static func signed(_ value: Double) -> String { (value > 0 ? "+" : "") + number(value) }

    static func signedPercent(_ value: Double) -> String { (value > 0 ? "+" : "") + String(format: "%.2f%%", value * 100) }

    static func optional(_ value: Double?) -> String { value.map(number) ?? "n/a" }

    static func pValue(_ value: Double) -> String {
        value < 0.0001 ? String(format: "%.2e", value) : String(format: "%.4f", value)
    }

    static func percent(_ basisPoints: Int) -> String {
        basisPoints % 100 == 0 ? "\(basisPoints / 100)%" : String(format: "%.2f%%", Double(basisPoints) / 100)
    }

    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let count = text.count
        guard count < width else { return text }
        let padding = String(repeating: " ", count: width - count)
        return right ? padding + text : text + padding
    }
}
