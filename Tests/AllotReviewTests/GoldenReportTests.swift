import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotReview

/// The text, Markdown and JSON reports of a few changes, byte for byte. Regenerate with
/// `ALLOT_UPDATE_GOLDEN=1 swift test --filter GoldenReportTests` and review the diff.
struct GoldenReportTests {
    static let base = BruteForceTests.base

    struct Scenario: CustomTestStringConvertible, Sendable {
        var name: String
        var old: String
        var new: String
        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        Scenario(
            name: "ramp-reweight-and-targeting",
            old: base
                + BruteForceTests.experiment(
                    "green-checkout", traffic: "20%", extra: "targeting: country in [\"US\", \"CA\"] && age >= 18\n",
                    variants: "  - { name: control, weight: 50% }\n  - { name: green, weight: 50%, params: { color: green } }\n")
                + BruteForceTests.experiment(
                    "bigger-buttons", traffic: "30%",
                    variants: "  - { name: control, weight: 50% }\n  - { name: big, weight: 50%, params: { size: 14 } }\n"),
            new: base
                + BruteForceTests.experiment(
                    "green-checkout", traffic: "35%", extra: "targeting: country in [\"US\", \"CA\", \"DE\"] && age >= 18\n",
                    variants: "  - { name: control, weight: 50% }\n  - { name: green, weight: 50%, params: { color: green } }\n")
                + BruteForceTests.experiment(
                    "bigger-buttons", traffic: "30%",
                    variants: "  - { name: control, weight: 40% }\n  - { name: big, weight: 60%, params: { size: 14 } }\n")),
        Scenario(
            name: "conclude-add-holdout-default",
            old: base
                + BruteForceTests.experiment(
                    "old-ranker", layer: "search", traffic: "50%",
                    variants: "  - { name: control, weight: 50% }\n  - { name: neural, weight: 50%, params: { ranking: neural } }\n")
                + BruteForceTests.experiment("a", traffic: "40%")
                + "\n---\nkind: Holdout\nname: global\nunit: user_id\ntraffic: 5%\n",
            new: base.replacingOccurrences(of: "default: bm25", with: "default: hybrid")
                + BruteForceTests.experiment(
                    "old-ranker", layer: "search", status: "concluded", traffic: "", extra: "acknowledge: [reassignment]\n",
                    variants: "  - { name: control, weight: 50% }\n  - { name: neural, weight: 50%, params: { ranking: neural } }\n")
                + BruteForceTests.experiment(
                    "new-ranker", layer: "search", traffic: "25%",
                    variants: "  - { name: control, weight: 50% }\n  - { name: learned, weight: 50%, params: { ranking: learned } }\n")
                + BruteForceTests.experiment("a", traffic: "40%")
                + "\n---\nkind: Holdout\nname: global\nunit: user_id\ntraffic: 10%\nlayers: [checkout]\n"),
        Scenario(
            name: "restart-and-reshuffle",
            old: base + BruteForceTests.experiment("a", traffic: "40%")
                + BruteForceTests.experiment(
                    "s", layer: "search", traffic: "60%",
                    variants: "  - { name: on, weight: 100%, params: { ranking: neural } }\n"),
            new: base.replacingOccurrences(of: "name: search\nunit: user_id", with: "name: search\nunit: user_id\nsalt: search-2")
                + BruteForceTests.experiment("a", traffic: "40%", extra: "restart: 1\nacknowledge: [reassignment]\n")
                + BruteForceTests.experiment(
                    "s", layer: "search", traffic: "60%",
                    variants: "  - { name: on, weight: 100%, params: { ranking: neural } }\n")),
    ]

    static func report(_ scenario: Scenario) throws -> DiffReport {
        let (old, new) = try Fixture.change(scenario.old, scenario.new)
        return BundleDiff.compare(old: old.snapshot, new: new.snapshot, at: 1_800_000_000)
    }

    static func check(_ actual: String, golden name: String) throws {
        let url = Repository.root.appendingPathComponent("Tests/AllotReviewTests/Golden/reports/\(name)")
        if ProcessInfo.processInfo.environment["ALLOT_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try actual.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(actual == expected, "\(name) differs; run with ALLOT_UPDATE_GOLDEN=1 to regenerate:\n\(actual)")
    }

    @Test(arguments: scenarios)
    func textAndMarkdown(_ scenario: Scenario) throws {
        let report = try Self.report(scenario)
        try Self.check(TextReport.render(report), golden: "\(scenario.name).txt")
        try Self.check(MarkdownReport.render(report), golden: "\(scenario.name).md")
    }

    @Test func json() throws {
        try Self.check(JSONReport.render(try Self.report(Self.scenarios[1])), golden: "\(Self.scenarios[1].name).json")
    }

    @Test func percentages() {
        #expect(Percent.format(0) == "0%")
        #expect(Percent.format(1) == "100%")
        #expect(Percent.format(0.2) == "20%")
        #expect(Percent.format(0.125) == "12.5%")
        #expect(Percent.format(1.0 / 3) == "33.33%")
        #expect(Percent.format(0.000025) == "0.0025%")
        #expect(Percent.format(0.99995) == "99.995%")
        #expect(Percent.format(0.0001) == "0.01%")
    }

    @Test func longReportsListWhatMovesFirst() throws {
        let markdown = MarkdownReport.render(try Self.report(Self.scenarios[1]), maxRows: 1)
        let rows = markdown.split(separator: "\n").filter { $0.hasPrefix("| ⛔") || $0.hasPrefix("| ☑️") || $0.hasPrefix("|  |") }
        #expect(rows.count == 2 && rows[0].hasPrefix("| ⛔ | `a`") && rows[1].hasPrefix("| ☑️ | `old-ranker`"), "\(rows)")
        #expect(markdown.contains("… and 1 more experiments; run `allot diff --format text` for all of them."))
    }

    @Test(
        "a targeting change is reported as the rule widened, narrowed, rewritten or changed",
        arguments: [
            (#"country == "US""#, #"country in ["US", "CA"]"#, "widened"),
            (#"country in ["US", "CA"]"#, #"country == "US""#, "narrowed"),
            (#"country == "US" && age >= 18"#, #"age >= 18 && country == "US""#, "equivalent"),
            (#"country == "US""#, #"country == "CA""#, "changed"),
            ("", "age >= 18", "narrowed"),
            ("age >= 18", "", "widened"),
        ])
    func targetingChanges(old: String, new: String, expected: String) throws {
        func experiment(_ targeting: String) -> String {
            Self.base + BruteForceTests.experiment("a", traffic: "40%", extra: targeting.isEmpty ? "" : "targeting: '\(targeting)'\n")
        }
        let report = try Self.report(Scenario(name: "targeting", old: experiment(old), new: experiment(new)))
        let diff = try #require(report.experiments.first { $0.name == "a" })
        #expect(diff.targetingChange == expected)
        let text = TextReport.render(report)
        let word = ["widened": "widened", "narrowed": "narrowed", "equivalent": "rewritten", "changed": "changed"][expected]!
        #expect(text.contains("targeting \(word): "), "\(text)")
        #expect(text.contains("* = not of all units"))
    }

    @Test func markdownEscapesTableCells() {
        #expect(MarkdownReport.row(["a|b", "x\ny"]) == #"| a\|b | x y |"#)
        #expect(MarkdownReport.code("a `b` c") == "``a `b` c``")
    }
}
