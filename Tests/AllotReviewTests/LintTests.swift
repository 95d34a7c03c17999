import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotReview

/// `allot lint`: each warning on a project made to trigger it, at the right place, and none on
/// a clean project.
struct LintTests {
    static let header = """
        kind: Attributes
        attributes:
          country: { type: string, values: [US, CA, DE] }
          age: number
        ---
        kind: Layer
        name: checkout
        unit: user_id
        params:
          color: { type: string, default: blue }
        ---
        kind: Layer
        name: search
        unit: user_id
        params:
          ranking: { type: string, default: bm25 }

        """

    static func experiment(
        _ name: String, layer: String = "checkout", status: String = "running", traffic: String = "10%", extra: String = "",
        variants: String = "  - { name: control, weight: 50% }\n  - { name: red, weight: 50%, params: { color: red } }\n"
    ) -> String {
        "---\nkind: Experiment\nname: \(name)\nlayer: \(layer)\nowner: o@example.com\nstatus: \(status)\ntraffic: \(traffic)\n\(extra)variants:\n\(variants)"
    }

    static func lint(_ yaml: String, at: Int64 = 1_800_000_000, threshold: Int = 9_000) throws -> (warnings: [Diagnostic], rendered: String)
    {
        let output = try Fixture.compile(yaml).output
        let warnings = Linter.lint(output, options: .init(at: at, layerFullThreshold: threshold))
        return (warnings, DiagnosticRenderer(sources: output.sources).render(warnings))
    }

    @Test func cleanProjectHasNoWarnings() throws {
        let yaml =
            Self.header + Self.experiment("a", extra: "targeting: country == \"US\" && age >= 18\nstop: 2030-01-01T00:00:00Z\n")
            + Self.experiment("b", layer: "search", variants: "  - { name: on, weight: 100%, params: { ranking: neural } }\n")
        #expect(try Self.lint(yaml).warnings.isEmpty)
    }

    @Test func runningPastItsStopTime() throws {
        let yaml = Self.header + Self.experiment("old", extra: "stop: 2025-01-01T00:00:00Z\n")
        let (warnings, rendered) = try Self.lint(yaml, at: 1_800_000_000)
        #expect(warnings.count == 1)
        #expect(
            rendered.hasPrefix("experiments/main.yaml:24:7: warning: experiment 'old' is running but its stop time has passed"),
            "\(rendered)")
        #expect(rendered.contains(" 24 | stop: 2025-01-01T00:00:00Z\n    |       ^~~~~~~~~~~~~~~~~~~~"), "\(rendered)")
        // Before the stop time, nothing to say.
        #expect(try Self.lint(yaml, at: 1_700_000_000).warnings.isEmpty)
    }

    @Test(arguments: [
        #"country == "US" && country == "CA""#, "age < 1 && age > 2", #"country in ["US"] && country in ["CA"]"#,
        #"country == "US" && !has(country)"#,
    ])
    func targetingThatNeverMatches(_ targeting: String) throws {
        let yaml = Self.header + Self.experiment("t", extra: "targeting: '\(targeting)'\n")
        let (warnings, rendered) = try Self.lint(yaml)
        #expect(warnings.count == 1)
        #expect(rendered.hasPrefix("experiments/main.yaml:24:12: warning: targeting of 't' can never match: `"), "\(rendered)")
    }

    @Test func emptySegmentsAndTheExperimentsThatNeedThem() throws {
        let yaml =
            Self.header + """
                ---
                kind: Segment
                name: nobody
                unit: user_id
                ids: []
                ---
                kind: Segment
                name: impossible
                rule: age < 0 && age > 10
                ---
                kind: Segment
                name: fine
                rule: age > 10

                """ + Self.experiment("gated", extra: "segments: [nobody, impossible]\n")
            + Self.experiment("uses", extra: "targeting: in segment(\"nobody\")\n")
            + Self.experiment("ok", extra: "segments: [nobody, fine]\n")
        let (warnings, _) = try Self.lint(yaml)
        let messages = warnings.map(\.message)
        #expect(messages.contains("segment 'nobody' is empty: it has no rule and lists no ids"))
        #expect(messages.contains { $0.hasPrefix("segment 'impossible' is empty: it lists no ids and its rule can never match") })
        #expect(messages.contains("experiment 'gated' can never enroll anyone: all its segments are empty"))
        #expect(messages.contains { $0.hasPrefix("targeting of 'uses' can never match") })
        #expect(!messages.contains { $0.contains("'ok'") || $0.contains("'fine'") }, "\(messages)")
    }

    @Test func zeroTraffic() throws {
        let (warnings, rendered) = try Self.lint(Self.header + Self.experiment("idle", traffic: "0%"))
        #expect(warnings.map(\.message) == ["experiment 'idle' is running at 0% traffic: it enrolls nobody"])
        #expect(rendered.hasPrefix("experiments/main.yaml:23:10: warning:"), "\(rendered)")
    }

    @Test func variantsWithoutDifferences() throws {
        let same = Self.experiment(
            "aa", variants: "  - { name: a, weight: 50%, params: { color: red } }\n  - { name: b, weight: 50%, params: { color: red } }\n")
        let defaults = Self.experiment(
            "explicit", layer: "search", variants: "  - { name: a, weight: 50% }\n  - { name: b, weight: 50%, params: { ranking: bm25 } }\n"
        )
        let rollout = Self.experiment("noop", layer: "search", variants: "  - { name: on, weight: 100% }\n")
        let (warnings, _) = try Self.lint(Self.header + same + defaults + rollout)
        let messages = warnings.map(\.message)
        #expect(messages.contains("variants 'a' and 'b' of 'aa' set the same parameter values"))
        #expect(messages.contains("variants 'a' and 'b' of 'explicit' set the same parameter values"))
        #expect(messages.contains { $0.hasPrefix("the only variant of 'noop' sets no parameter") })
        #expect(warnings.count == 3, "\(messages)")
    }

    @Test func layersNearlyFull() throws {
        let yaml =
            Self.header + Self.experiment("big", traffic: "60%") + Self.experiment("bigger", traffic: "32.5%")
            + Self.experiment(
                "paused", layer: "search", status: "paused", traffic: "89.99%",
                variants: "  - { name: a, weight: 50% }\n  - { name: b, weight: 50%, params: { ranking: neural } }\n")
        let (warnings, rendered) = try Self.lint(yaml)
        #expect(
            warnings.map(\.message) == ["layer 'checkout' is 92.5% allocated to running and paused experiments; 7.5% is left for new ones"])
        #expect(rendered.hasPrefix("experiments/main.yaml:7:7: warning:"), "\(rendered)")
        #expect(try Self.lint(yaml, threshold: 9_300).warnings.isEmpty)
        #expect(try Self.lint(yaml, threshold: 8_999).warnings.count == 2)
    }

    @Test func githubAnnotations() throws {
        let (warnings, _) = try Self.lint(Self.header + Self.experiment("idle", traffic: "0%"))
        #expect(
            Linter.githubAnnotations(warnings)
                == "::warning file=experiments/main.yaml,line=23,col=10,title=allot lint::experiment 'idle' is running at 0% traffic: it enrolls nobody (give it traffic, or set `status: draft`)"
                .replacingOccurrences(of: "0%", with: "0%25"))
    }

    /// The table of warnings in docs/review.md is what `allot lint` does: every row has a project
    /// that compiles (a warning, not an error) and gets that warning.
    @Test func everyDocumentedWarningIsAWarning() throws {
        let examples: [String: (yaml: String, message: String)] = [
            "running past its stop time": (Self.experiment("old", extra: "stop: 2025-01-01T00:00:00Z\n"), "its stop time has passed"),
            "targeting can never match": (
                Self.experiment("never", extra: "targeting: country == \"US\" && country == \"CA\"\n"), "can never match"
            ),
            "segment is empty": ("---\nkind: Segment\nname: nobody\nunit: user_id\nids: []\n", "segment 'nobody' is empty"),
            "0% traffic": (Self.experiment("idle", traffic: "0%"), "at 0% traffic"),
            "variants without differences": (
                Self.experiment("aa", variants: "  - { name: a, weight: 50% }\n  - { name: b, weight: 50% }\n"),
                "set the same parameter values"
            ),
            "layer nearly full": (Self.experiment("big", traffic: "95%"), "is 95% allocated"),
        ]
        let documentation = try String(contentsOf: Repository.root.appendingPathComponent("docs/review.md"), encoding: .utf8)
        let section = try #require(documentation.components(separatedBy: "## `allot lint`").last)
        let rows = section.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| Warning") }
            .map { $0.dropFirst(2).prefix { $0 != "|" }.trimmingCharacters(in: .whitespaces) }
        #expect(
            Set(rows) == Set(examples.keys), "docs/review.md lists \(rows.sorted()); the test has examples for \(examples.keys.sorted())")
        for (row, example) in examples {
            let (warnings, rendered) = try Self.lint(Self.header + example.yaml)
            #expect(warnings.contains { $0.severity == .warning && $0.message.contains(example.message) }, "\(row): \(rendered)")
        }
    }
}
