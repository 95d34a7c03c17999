import Foundation

/// `allot analyze --format html`: one static page, no script, no external file: per experiment
/// the sample-ratio status, an inline SVG chart of first exposures per day and variant, and per
/// metric an SVG of each treatment's relative effect with its interval (against the control),
/// beside the table of numbers.
public enum HTMLReport {
    /// Colours per variant (control first), repeated when there are more variants.
    static let palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"]

    public static func render(_ report: AnalysisReport, title: String = "Experiment results") -> String {
        let level = Int((report.confidence * 100).rounded())
        var body = "<h1>\(escape(title))</h1>\n"
        if report.experiments.isEmpty { body += "<p>No experiment has exposures.</p>\n" }
        for experiment in report.experiments {
            body += "<section class=\"experiment\">\n<h2>\(escape(experiment.experiment))</h2>\n"
            body += sampleRatio(experiment)
            body += "<h3>Exposures over time</h3>\n" + exposuresChart(experiment)
            for metric in experiment.metrics {
                body +=
                    "<h3>\(escape(metric.metric)) <small>\(escape(metric.type)), \(escape(metric.role)), \(escape(metric.direction)) is better</small></h3>\n"
                body +=
                    "<div class=\"metric\">" + effectChart(metric, control: experiment.control, level: level)
                    + metricTable(metric, control: experiment.control, level: level) + "</div>\n"
            }
            body += "</section>\n"
        }
        let inputs = report.inputs
        body +=
            "<p class=\"inputs\">\(inputs.exposureRecords) exposure records in \(inputs.exposureFiles) segments, \(inputs.events) events in \(inputs.eventFiles) files; \(inputs.eventsAttributed) events attributed.</p>\n"
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>\(escape(title))</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 70em; }
            table { border-collapse: collapse; margin: 0.5em 0; }
            th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
            th:first-child, td:first-child { text-align: left; }
            .ok { background: #e3f4e1; border-left: 6px solid #59a14f; padding: 0.5em 1em; }
            .mismatch { background: #fbe3e3; border-left: 6px solid #e15759; padding: 0.5em 1em; font-weight: bold; }
            .metric { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
            .better { color: #2e7d32; font-weight: bold; } .worse { color: #c62828; font-weight: bold; }
            small { color: #666; font-weight: normal; } svg text { font-size: 12px; fill: #333; }
            </style>
            </head>
            <body>
            \(body)</body>
            </html>

            """
    }

    private static func sampleRatio(_ experiment: ExperimentResult) -> String {
        var out = ""
        if let check = experiment.sampleRatio {
            out +=
                check.mismatch
                ? "<p class=\"mismatch\" id=\"srm\">Sample ratio mismatch: chi-square \(ReportRenderer.number(check.statistic)), p = \(ReportRenderer.pValue(check.pValue)) &lt; \(check.threshold). Do not trust the results until the cause is found.</p>\n"
                : "<p class=\"ok\" id=\"srm\">Sample ratio OK: chi-square \(ReportRenderer.number(check.statistic)), p = \(ReportRenderer.pValue(check.pValue)).</p>\n"
        } else {
            out += "<p id=\"srm\">Sample ratio not checked (too few units or variants).</p>\n"
        }
        out += "<table><tr><th>variant</th><th>weight</th><th>units</th><th>expected</th></tr>\n"
        for (index, variant) in experiment.variants.enumerated() {
            let expected = experiment.sampleRatio?.cells[index].expected
            out +=
                "<tr><td>\(escape(variant.variant))\(variant.variant == experiment.control ? " (control)" : "")</td><td>\(ReportRenderer.percent(variant.weight))</td><td>\(variant.units)</td><td>\(expected.map { String(format: "%.1f", $0) } ?? "")</td></tr>\n"
        }
        let excluded = experiment.multipleVariants + experiment.bulkOnly + experiment.overridden + experiment.unknownVariant
        out +=
            "</table>\n<p>\(experiment.analysedUnits) units analysed of \(experiment.units) exposed; \(excluded) excluded (\(experiment.multipleVariants) in more than one variant, \(experiment.bulkOnly) only in bulk evaluations, \(experiment.overridden) forced by overrides, \(experiment.unknownVariant) in undeclared variants).</p>\n"
        return out
    }

    /// Grouped bars: first exposures per UTC day, one bar per variant.
    private static func exposuresChart(_ experiment: ExperimentResult) -> String {
        let days = experiment.daily
        let width = 640.0, height = 220.0, left = 60.0, bottom = 30.0, top = 10.0
        guard !days.isEmpty else { return "<p>No exposures.</p>\n" }
        let maximum = Double(days.flatMap(\.units).max() ?? 1)
        let plotWidth = width - left - 10
        let groupWidth = plotWidth / Double(days.count)
        let barWidth = max(1, groupWidth * 0.8 / Double(max(1, experiment.variants.count)))
        var svg =
            "<svg class=\"exposures\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height + 20))\" role=\"img\" aria-label=\"first exposures per day and variant\">\n"
        let plotHeight = height - bottom - top
        for tick in 0...4 {
            let value = maximum * Double(tick) / 4
            let y = top + plotHeight * (1 - Double(tick) / 4)
            svg +=
                "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(width - 10))\" y2=\"\(f(y))\" stroke=\"#eee\"/><text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(Int(value.rounded()))</text>\n"
        }
        for (d, day) in days.enumerated() {
            let x0 = left + groupWidth * Double(d) + groupWidth * 0.1
            for (v, units) in day.units.enumerated() {
                let h = plotHeight * Double(units) / maximum
                svg +=
                    "<rect x=\"\(f(x0 + barWidth * Double(v)))\" y=\"\(f(top + plotHeight - h))\" width=\"\(f(barWidth))\" height=\"\(f(h))\" fill=\"\(palette[v % palette.count])\"><title>\(escape(day.date)) \(escape(experiment.variants[v].variant)): \(units)</title></rect>\n"
            }
            if days.count <= 31 || d % max(1, days.count / 15) == 0 {
                svg +=
                    "<text x=\"\(f(x0 + groupWidth * 0.4))\" y=\"\(f(height - bottom + 16))\" text-anchor=\"middle\">\(escape(String(day.date.dropFirst(5))))</text>\n"
            }
        }
        var legendX = left
        for (v, variant) in experiment.variants.enumerated() {
            svg +=
                "<rect x=\"\(f(legendX))\" y=\"\(f(height + 4))\" width=\"10\" height=\"10\" fill=\"\(palette[v % palette.count])\"/><text x=\"\(f(legendX + 14))\" y=\"\(f(height + 13))\">\(escape(variant.variant))</text>\n"
            legendX += 24 + Double(variant.variant.count) * 7
        }
        return svg + "</svg>\n"
    }

    /// Each treatment's relative effect (%) with its interval, around a zero line.
    private static func effectChart(_ metric: MetricResult, control: String, level: Int) -> String {
        let rows = metric.comparisons
        let width = 420.0, rowHeight = 34.0, left = 130.0, right = 20.0
        let height = Double(max(1, rows.count)) * rowHeight + 40
        let intervals = rows.compactMap { $0.comparison?.relative }
        let extent = max(0.01, intervals.map { max(abs($0.lower), abs($0.upper)) }.max() ?? 0.01) * 1.15
        func x(_ value: Double) -> Double { left + (width - left - right) * (value + extent) / (2 * extent) }
        var svg =
            "<svg class=\"effect\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"relative effect of \(escape(metric.metric)) with \(level)% intervals\">\n"
        svg += "<line x1=\"\(f(x(0)))\" y1=\"5\" x2=\"\(f(x(0)))\" y2=\"\(f(height - 25))\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n"
        for tick in [-extent / 1.15, 0, extent / 1.15] {
            svg += "<text x=\"\(f(x(tick)))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(ReportRenderer.signedPercent(tick))</text>\n"
        }
        for (r, row) in rows.enumerated() {
            let y = 20 + Double(r) * rowHeight
            svg += "<text x=\"\(f(left - 8))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(escape(row.variant))</text>\n"
            guard let relative = row.comparison?.relative else {
                svg += "<text x=\"\(f(x(0) + 6))\" y=\"\(f(y + 4))\">no estimate</text>\n"
                continue
            }
            let colour = row.better == true ? "#2e7d32" : row.better == false ? "#c62828" : "#555"
            svg +=
                "<line class=\"interval\" x1=\"\(f(x(relative.lower)))\" y1=\"\(f(y))\" x2=\"\(f(x(relative.upper)))\" y2=\"\(f(y))\" stroke=\"\(colour)\" stroke-width=\"3\"><title>\(escape(row.variant)) vs \(escape(control)): \(ReportRenderer.signedPercent(relative.estimate)) [\(ReportRenderer.signedPercent(relative.lower)), \(ReportRenderer.signedPercent(relative.upper))]</title></line>\n"
            svg += "<circle cx=\"\(f(x(relative.estimate)))\" cy=\"\(f(y))\" r=\"5\" fill=\"\(colour)\"/>\n"
        }
        return svg + "</svg>\n"
    }

    private static func metricTable(_ metric: MetricResult, control: String, level: Int) -> String {
        var out =
            "<table><tr><th>variant</th><th>units</th><th>mean</th><th>effect (\(level)% interval)</th><th>relative</th><th>p-value</th></tr>\n"
        for variant in metric.variants {
            out +=
                "<tr><td>\(escape(variant.variant))</td><td>\(variant.summary.units)</td><td>\(ReportRenderer.optional(variant.summary.mean))</td>"
            if variant.variant == control {
                out += "<td>(control)</td><td></td><td></td></tr>\n"
                continue
            }
            guard let item = metric.comparisons.first(where: { $0.variant == variant.variant }), let c = item.comparison else {
                out += "<td>n/a</td><td>n/a</td><td>n/a</td></tr>\n"
                continue
            }
            let verdict =
                item.better == true
                ? " <span class=\"better\">better</span>" : item.better == false ? " <span class=\"worse\">worse</span>" : ""
            out +=
                "<td>\(ReportRenderer.signed(c.absolute.estimate)) [\(ReportRenderer.number(c.absolute.lower)), \(ReportRenderer.number(c.absolute.upper))]</td>"
            out +=
                "<td>\(c.relative.map { "\(ReportRenderer.signedPercent($0.estimate)) [\(ReportRenderer.signedPercent($0.lower)), \(ReportRenderer.signedPercent($0.upper))]" } ?? "n/a")</td>"
            out += "<td>\(ReportRenderer.pValue(c.pValue))\(verdict)</td></tr>\n"
        }
        return out + "</table>\n"
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
