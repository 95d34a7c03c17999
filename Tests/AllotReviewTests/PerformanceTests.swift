import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotReview

/// The diff is linear in buckets and variant runs: large bundles diff in seconds.
struct PerformanceTests {
    /// `layers` layers of `perLayer` experiments filling them; `changed` alters every 7th
    /// experiment (traffic, weights or a restart) and concludes every 13th.
    static func project(layers: Int, perLayer: Int, changed: Bool) -> [SourceFile] {
        var files = [SourceFile(path: "big/attributes.yaml", text: "kind: Attributes\nattributes:\n  country: string\n")]
        let share = 9_000 / perLayer
        for l in 0..<layers {
            var text = "kind: Layer\nname: layer-\(l)\nunit: user_id\nparams:\n  p\(l)_color: { type: string, default: blue }\n"
            text += "  p\(l)_size: { type: number, default: 10 }\n"
            for e in 0..<perLayer {
                let n = l * perLayer + e
                var traffic = share
                var weights = (5_000, 5_000)
                var extra = ""
                var status = "running"
                if changed && n % 7 == 0 {
                    switch n % 3 {
                    case 0: traffic = share / 2
                    case 1: weights = (3_000, 7_000)
                    default: extra = "restart: 1\n"
                    }
                }
                if changed && n % 13 == 0 { status = "concluded" }
                text += "---\nkind: Experiment\nname: exp-\(n)\nlayer: layer-\(l)\nowner: o@example.com\nstatus: \(status)\n"
                if status == "running" { text += "traffic: \(RandomProject.percent(traffic))\n" }
                if n % 3 == 0 { text += "targeting: country == \"US\"\n" }
                text += extra
                text += "variants:\n  - { name: control, weight: \(RandomProject.percent(weights.0)) }\n"
                text +=
                    "  - { name: treatment, weight: \(RandomProject.percent(weights.1)), params: { p\(l)_color: red, p\(l)_size: \(n % 50) } }\n"
            }
            files.append(SourceFile(path: "big/layer-\(l).yaml", text: text))
        }
        return files
    }

    static func compile(_ files: [SourceFile], lock: AllocationLock) throws -> Compiler.Output {
        switch Compiler.compile(files: files, lock: lock, version: 1, createdAt: 0) {
        case .success(let output): return output
        case .failure(let failure): throw FixtureError(message: failure.rendered)
        }
    }

    @Test func fiveHundredExperimentsDiffQuickly() throws {
        let old = try Self.compile(Self.project(layers: 5, perLayer: 100, changed: false), lock: AllocationLock())
        let new = try Self.compile(Self.project(layers: 5, perLayer: 100, changed: true), lock: old.lock)
        let clock = ContinuousClock()
        let start = clock.now
        let a = try ReviewSnapshot(origin: .directory(path: "old"), compiled: old)
        let b = try ReviewSnapshot(origin: .directory(path: "new"), compiled: new)
        let report = BundleDiff.compare(old: a, new: b, at: 0)
        let elapsed = clock.now - start
        #expect(report.experiments.count > 100 && report.parameters.count == 10)
        // Speed is measured by the benchmarks (docs/review.md), not asserted here.
        print("diff of 500-experiment projects: \(elapsed)")

        // The pull-request comment stays within GitHub's limit and lists what moves first.
        let markdown = MarkdownReport.render(report)
        #expect(markdown.count > 20_000 && markdown.count <= MarkdownReport.maximumLength, "\(markdown.count)")
    }
}
