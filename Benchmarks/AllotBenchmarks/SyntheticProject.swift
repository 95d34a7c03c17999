import AllotCompiler
import AllotCore

/// Generates experiment files of a given size: `layers` layers of `experimentsPerLayer`
/// experiments each, two or three variants, a parameter per variant, and (with `targeting`) an
/// expression on a third of them. Deterministic.
enum SyntheticProject {
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
                    text += "targeting: country in [\"US\", \"CA\", \"GB\"] && app_version >= \"5.0.0\"\n"
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
