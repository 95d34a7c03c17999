import AllotCompiler
import AllotCore
import Foundation

/// Generates experiment files of a given size: `layers` layers of `experimentsPerLayer`
/// experiments each, two or three variants, a parameter per variant, and (with `targeting`) an
/// expression on a third of them. Deterministic.
///
/// The targeted experiments share one program by default, the best case for the evaluator's
/// shared-program memo (it runs once per request). `ALLOT_BENCH_TARGETING=distinct` gives each
/// its own program (`app_version >= "4.<e>.<layer>"`), true for the same inputs (every version the
/// benchmarks send is 5.x), so the memo saves nothing: its worst case.
enum SyntheticProject {
    static var distinctTargeting: Bool {
        ProcessInfo.processInfo.environment["ALLOT_BENCH_TARGETING"] == "distinct"
    }

    static func files(layers: Int, experimentsPerLayer: Int, targeting: Bool) -> [SourceFile] {
        var attributes = "kind: Attributes\nattributes:\n  country: { type: string, values: [US, CA, GB, DE, FR, JP] }\n"
        attributes += "  app_version: semver\n  platform: { type: string, values: [ios, android, web] }\n  age: number\n"
        var files = [SourceFile(path: "synthetic/attributes.yaml", text: attributes)]
        let share = max(1, 10_000 / max(1, experimentsPerLayer))  // basis points each, filling the layer
        for layer in 0..<layers {
            var text = "kind: Layer\nname: layer-\(layer)\nunit: user_id\nparams:\n"
            text += "  p\(layer)_color: { type: string, default: blue }\n  p\(layer)_size: { type: number, default: 10 }\n"
            text += "  p\(layer)_on: { type: bool, default: false }\n"
            for e in 0..<experimentsPerLayer {
                let traffic = "\(share / 100).\(String(format: "%02d", share % 100))%"
                text += "---\nkind: Experiment\nname: exp-\(layer)-\(e)\nlayer: layer-\(layer)\nowner: team-\(e % 7)@example.com\n"
                text += "status: running\ntraffic: \(traffic)\n"
                if targeting && e % 3 == 0 {
                    let version = distinctTargeting ? "4.\(e).\(layer)" : "5.0.0"
                    text += "targeting: country in [\"US\", \"CA\", \"GB\"] && app_version >= \"\(version)\"\n"
                }
                if e % 2 == 0 {
                    text +=
                        "variants:\n  - { name: control, weight: 50% }\n  - { name: treatment, weight: 50%, params: { p\(layer)_color: red, p\(layer)_on: true } }\n"
                } else {
                    text +=
                        "variants:\n  - { name: control, weight: 34% }\n  - { name: small, weight: 33%, params: { p\(layer)_size: 12 } }\n"
                    text += "  - { name: large, weight: 33%, params: { p\(layer)_size: 20 } }\n"
                }
            }
            files.append(SourceFile(path: "synthetic/layer-\(layer).yaml", text: text))
        }
        return files
    }
}
