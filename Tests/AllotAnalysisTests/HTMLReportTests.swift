import AllotAnalysis
import AllotCompiler
import AllotTestSupport
import Foundation
import Testing

/// `--format html`: a static page with inline SVG charts, rendered by a real browser (Debian's
/// headless Chromium): it is well-formed, has its charts and no script, and the screenshot shows
/// the sample-ratio status in its colour (green for a healthy split, red for a mismatch).
@Suite(.serialized) struct HTMLReportTests {
    static let checker = Repository.root.appendingPathComponent("Tests/AllotAnalysisTests/Python/check_html.py").path

    @Test(arguments: [("0.5", "ok"), ("0.56", "mismatch")])
    func rendersInChromium(share: String, expected: String) async throws {
        let folder = Scratch.folder("analysis-html")
        defer { Scratch.remove(folder) }
        let generator = Repository.root.appendingPathComponent("scripts/generate-analysis-sample").path
        let generated = try await runProcess(
            "/usr/bin/env", ["python3", generator, folder, "--units", "2000", "--seed", "3", "--treatment-share", share])
        try #require(generated.status == 0, "\(generated.stderr)")
        let project = try SampleProject.compile()
        let experiment = try #require(project.experiments.first { $0.name == "green-checkout-button" })
        let analyzer = Analyzer(experiments: [ExperimentSpec(experiment)], metrics: project.metrics)
        for segment in try ExposureLayout.localSegments(folder + "/exposures", from: nil, to: nil) {
            try analyzer.addExposureSegment(path: segment)
        }
        try analyzer.addEvents(path: folder + "/events.csv", format: .csv)
        let page = folder + "/report.html"
        try HTMLReport.render(analyzer.report(), title: "Experiment <green-checkout-button>").write(
            toFile: page, atomically: true, encoding: .utf8)

        let screenshot = folder + "/report.png"
        let browser = try await runProcess(
            "/usr/bin/env",
            [
                "timeout", "120", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--user-data-dir=\(folder)/profile",
                "--window-size=800,400", "--screenshot=\(screenshot)", "file://\(page)",
            ])
        try #require(FileManager.default.fileExists(atPath: screenshot), "chromium made no screenshot: \(browser.stderr)")
        let result = try await runProcess(
            "/usr/bin/env", ["python3", Self.checker, page, screenshot, expected, String(project.metrics.count)])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }
}
