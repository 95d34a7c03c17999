import AllotTestSupport
import Foundation

/// A small experiments project as values, rendered to YAML: for property tests that make random
/// projects and random changes to them.
struct RandomProject {
    struct Variant {
        var name: String
        var weight: Int  // basis points
        var params: [String: String]  // parameter → YAML value
    }

    struct Experiment {
        var name: String
        var layer: String
        var status: String
        var traffic: Int  // basis points
        var variants: [Variant]
        var restart = 0
        var stop: String?
        var targeting: String?
    }

    struct Holdout {
        var name: String
        var share: Int
        var layers: [String]?
        var salt: String?
    }

    static let parameters = [
        "checkout": ["color": ["blue", "red", "green"], "size": ["10", "12", "20"]], "search": ["ranking": ["bm25", "neural"]],
    ]

    var defaults = ["color": "blue", "size": "10", "ranking": "bm25"]
    var layerSalts: [String: String] = [:]
    var experiments: [Experiment] = []
    var holdouts: [Holdout] = []
    var counter = 0

    var yaml: String {
        var text = "kind: Attributes\nattributes:\n  country: { type: string, values: [US, CA, DE] }\n"
        for layer in ["checkout", "search"] {
            text += "---\nkind: Layer\nname: \(layer)\nunit: user_id\n"
            if let salt = layerSalts[layer] { text += "salt: \(salt)\n" }
            text += "params:\n"
            for name in Self.parameters[layer]!.keys.sorted() {
                let type = name == "size" ? "number" : "string"
                text += "  \(name): { type: \(type), default: \(defaults[name]!) }\n"
            }
        }
        for e in experiments {
            text += "---\nkind: Experiment\nname: \(e.name)\nlayer: \(e.layer)\nowner: o@example.com\nstatus: \(e.status)\n"
            if e.status == "running" || e.status == "paused" || e.traffic > 0 { text += "traffic: \(Self.percent(e.traffic))\n" }
            if e.restart > 0 { text += "restart: \(e.restart)\n" }
            if let stop = e.stop { text += "stop: \(stop)\n" }
            if let targeting = e.targeting { text += "targeting: \(targeting)\n" }
            text += "variants:\n"
            for v in e.variants {
                let params = v.params.keys.sorted().map { "\($0): \(v.params[$0]!)" }.joined(separator: ", ")
                text += "  - { name: \(v.name), weight: \(Self.percent(v.weight))\(params.isEmpty ? "" : ", params: { \(params) }") }\n"
            }
        }
        for h in holdouts {
            text += "---\nkind: Holdout\nname: \(h.name)\nunit: user_id\ntraffic: \(Self.percent(h.share))\n"
            if let layers = h.layers { text += "layers: [\(layers.joined(separator: ", "))]\n" }
            if let salt = h.salt { text += "salt: \(salt)\n" }
        }
        return text
    }

    static func percent(_ basisPoints: Int) -> String { "\(basisPoints / 100).\(String(format: "%02d", basisPoints % 100))%" }

    func allocated(_ layer: String) -> Int {
        experiments.filter { $0.layer == layer && ($0.status == "running" || $0.status == "paused") }.reduce(0) { $0 + $1.traffic }
    }

    mutating func randomVariants(layer: String, _ random: inout SeededRandom) -> [Variant] {
        let count = Int.random(in: 1...3, using: &random)
        var weights: [Int] = []
        var left = 10_000
        for i in 0..<count {
            let w = i == count - 1 ? left : Int.random(in: 0...left, using: &random)
            weights.append(w)
            left -= w
        }
        return weights.enumerated().map { i, w in
            var params: [String: String] = [:]
            for (name, values) in Self.parameters[layer]! where Bool.random(using: &random) {
                params[name] = values.randomElement(using: &random)!
            }
            return Variant(name: ["control", "treatment", "third"][i], weight: w, params: params)
        }
    }

    mutating func addExperiment(_ random: inout SeededRandom, status: String? = nil) {
        let layer = Bool.random(using: &random) ? "checkout" : "search"
        let status = status ?? ["running", "running", "running", "paused", "draft", "concluded"].randomElement(using: &random)!
        let free = 10_000 - allocated(layer)
        let holds = status == "running" || status == "paused"
        let traffic = holds ? Int.random(in: 0...free, using: &random) : 0
        counter += 1
        var experiment = Experiment(
            name: "e\(counter)", layer: layer, status: status, traffic: traffic, variants: randomVariants(layer: layer, &random))
        if Int.random(in: 0..<4, using: &random) == 0 { experiment.targeting = "country == \"US\"" }
        experiments.append(experiment)
    }

    static func random(_ random: inout SeededRandom) -> RandomProject {
        var project = RandomProject()
        for _ in 0..<Int.random(in: 2...6, using: &random) { project.addExperiment(&random) }
        for i in 0..<Int.random(in: 0...2, using: &random) {
            project.holdouts.append(
                Holdout(
                    name: "h\(i)", share: Int.random(in: 0...3_000, using: &random),
                    layers: Bool.random(using: &random) ? nil : [["checkout", "search"].randomElement(using: &random)!], salt: nil))
        }
        return project
    }

    /// Applies one random change; returns what it did.
    mutating func mutate(_ random: inout SeededRandom) -> String {
        let choice = Int.random(in: 0..<13, using: &random)
        let index = experiments.isEmpty ? nil : Int.random(in: 0..<experiments.count, using: &random)
        switch (choice, index) {
        case (0, let i?) where experiments[i].status == "running" || experiments[i].status == "paused":
            let free = 10_000 - allocated(experiments[i].layer) + experiments[i].traffic
            experiments[i].traffic = Int.random(in: 0...free, using: &random)
            return "ramp \(experiments[i].name) to \(experiments[i].traffic)"
        case (1, let i?):
            experiments[i].variants = randomVariants(layer: experiments[i].layer, &random).enumerated().map { j, v in
                var v = v
                if j < experiments[i].variants.count { v.params = experiments[i].variants[j].params }
                return v
            }
            return "reweight \(experiments[i].name)"
        case (2, let i?):
            experiments[i].status = "concluded"
            experiments[i].traffic = 0
            return "conclude \(experiments[i].name)"
        case (3, let i?) where experiments[i].status == "running":
            experiments[i].status = "paused"
            return "pause \(experiments[i].name)"
        case (4, let i?) where experiments[i].status == "paused":
            experiments[i].status = "running"
            return "resume \(experiments[i].name)"
        case (5, let i?):
            experiments[i].restart += 1
            return "restart \(experiments[i].name)"
        case (6, _):
            addExperiment(&random, status: "running")
            return "add \(experiments.last!.name)"
        case (7, let i?):
            let removed = experiments.remove(at: i)
            return "remove \(removed.name)"
        case (8, _):
            if holdouts.isEmpty || Bool.random(using: &random) {
                holdouts.append(
                    Holdout(name: "h\(holdouts.count + 5)", share: Int.random(in: 0...3_000, using: &random), layers: nil, salt: nil))
                return "add holdout"
            }
            let h = Int.random(in: 0..<holdouts.count, using: &random)
            holdouts[h].share = Int.random(in: 0...3_000, using: &random)
            if Bool.random(using: &random) { holdouts[h].salt = "salt-\(random.next() % 1000)" }
            return "change holdout \(holdouts[h].name)"
        case (9, _):
            let layer = Bool.random(using: &random) ? "checkout" : "search"
            layerSalts[layer] = "\(layer)-\(random.next() % 1000)"
            return "reshuffle \(layer)"
        case (10, _):
            let name = ["color", "size", "ranking"].randomElement(using: &random)!
            let layer = name == "ranking" ? "search" : "checkout"
            defaults[name] = Self.parameters[layer]![name]!.randomElement(using: &random)!
            return "default \(name)"
        case (11, let i?):
            let v = Int.random(in: 0..<experiments[i].variants.count, using: &random)
            let layer = experiments[i].layer
            let (name, values) = Self.parameters[layer]!.randomElement(using: &random)!
            experiments[i].variants[v].params[name] = values.randomElement(using: &random)!
            return "set \(name) in \(experiments[i].name)"
        case (12, let i?) where experiments[i].status == "running":
            experiments[i].stop = "2025-01-01T00:00:00Z"
            return "stop \(experiments[i].name)"
        default:
            return "nothing"
        }
    }
}
