import AllotCore
import ArgumentParser
import Foundation

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what a bundle holds: header, sizes, layers and their allocation, experiments, parameters, segments.")

    @Argument(help: ArgumentHelp("The bundle file.", valueName: "bundle"))
    var bundle: String

    @OptionGroup var trust: TrustedKeyOptions

    @OptionGroup var output: TextOrJSONFormat

    func run() throws {
        let loaded = try trust.loadBundle(bundle)
        let contents = loaded.contents
        if output.isJSON {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(InspectReport(contents))
            Terminal.print(String(decoding: data, as: UTF8.self))
        } else {
            Terminal.print(InspectReport(contents).text)
        }
    }
}

/// The structured form of `allot inspect --json`.
struct InspectReport: Encodable {
    struct Header: Encodable {
        var version: UInt64
        var createdAt: String
        var keyId: String
        var bundleBytes: Int
        var payloadBytes: Int
        /// The bucketing scheme, which is also the payload format version (docs/bundle-format.md §3).
        var bucketingScheme: Int
    }
    struct Layer: Encodable {
        var name: String
        var unit: String
        var salt: String
        var allocatedPercent: Double
        var freePercent: Double
        var holdouts: [String]
        var parameters: [String]
        var experiments: [String]
    }
    struct Experiment: Encodable {
        var name: String
        var layer: String
        var status: String
        var owner: String
        var trafficPercent: Double
        var start: String?
        var stop: String?
        var targeting: String?
        var segments: [String]
        var variants: [Variant]
        var overrides: Int
    }
    struct Variant: Encodable {
        var name: String
        var weightPercent: Double
        var params: [String: String]
    }
    struct Parameter: Encodable {
        var name: String
        var layer: String
        var type: String
        var `default`: String
    }
    struct Segment: Encodable {
        var name: String
        var unit: String?
        var rule: String?
        var ids: Int
    }
    struct Holdout: Encodable {
        var name: String
        var unit: String
        var percent: Double
        var layers: [String]
    }

    var header: Header
    var units: [String]
    var attributes: [String: String]
    var layers: [Layer]
    var experiments: [Experiment]
    var parameters: [Parameter]
    var segments: [Segment]
    var holdouts: [Holdout]

    init(_ c: BundleContents) {
        header = Header(
            version: c.version, createdAt: TimeArgument.format(c.createdAt), keyId: c.keyID, bundleBytes: c.envelopeLength,
            payloadBytes: c.payloadLength, bucketingScheme: c.bucketingScheme.rawValue)
        units = c.unitTypes
        attributes = Dictionary(uniqueKeysWithValues: c.attributes.map { ($0.name, $0.type.name) })
        layers = c.layers.enumerated().map { index, layer in
            let allocated = layer.bucketOwners.filter { $0 >= 0 && c.experiments[$0].status != .concluded }.count
            return Layer(
                name: layer.name, unit: layer.unitType, salt: layer.salt, allocatedPercent: Double(allocated) / 100,
                freePercent: Double(Bucketing.bucketCount - allocated) / 100,
                holdouts: c.holdouts.indices.filter { layer.holdouts.contains($0) }.map { c.holdouts[$0].name },
                parameters: layer.parameters.map { c.parameters[$0].name }, experiments: layer.experiments.map { c.experiments[$0].name })
        }
        experiments = c.experiments.enumerated().map { index, e in
            Experiment(
                name: e.name, layer: c.layers[e.layer].name, status: e.status.name, owner: e.owner,
                trafficPercent: Double(e.trafficBuckets) / 100,
                start: e.start.map(RFC3339.format), stop: e.stop.map(RFC3339.format), targeting: e.targeting.isEmpty ? nil : e.targeting,
                segments: e.segments,
                variants: e.variants.map { v in
                    Variant(
                        name: v.name, weightPercent: Double(v.weight) / 100,
                        params: Dictionary(uniqueKeysWithValues: v.parameters.filter(\.isSet).map { ($0.name, $0.json) }))
                },
                overrides: c.layers[e.layer].overrides.filter { $0.experiment == index }.count)
        }
        parameters = c.parameters.map {
            Parameter(name: $0.name, layer: c.layers[$0.layer].name, type: $0.type.name, default: $0.defaultJSON)
        }
        segments = c.segments.map { Segment(name: $0.name, unit: $0.unitType, rule: $0.rule.isEmpty ? nil : $0.rule, ids: $0.ids) }
        holdouts = c.holdouts.enumerated().map { index, h in
            Holdout(
                name: h.name, unit: h.unitType, percent: Double(h.share) / 100,
                layers: c.layers.filter { $0.holdouts.contains(index) }.map(\.name))
        }
    }

    var text: String {
        var lines: [String] = []
        lines.append("bundle version \(header.version), created-at \(header.createdAt), key \(header.keyId)")
        lines.append(
            "  \(header.bundleBytes) bytes signed and compressed, \(header.payloadBytes) bytes of payload "
                + "(format \(header.bucketingScheme): bucketing scheme \(header.bucketingScheme))")
        lines.append("units: \(units.joined(separator: ", "))")
        if !attributes.isEmpty {
            lines.append("attributes: " + attributes.keys.sorted().map { "\($0) (\(attributes[$0]!))" }.joined(separator: ", "))
        }
        for layer in layers {
            lines.append("")
            lines.append(
                "layer \(layer.name) [unit \(layer.unit), salt \(layer.salt)]: \(format(layer.allocatedPercent))% allocated, \(format(layer.freePercent))% free"
            )
            if !layer.holdouts.isEmpty { lines.append("  held out by: \(layer.holdouts.joined(separator: ", "))") }
            for name in layer.parameters {
                let parameter = parameters.first { $0.name == name }!
                lines.append("  param \(name): \(parameter.type) = \(parameter.default)")
            }
            for name in layer.experiments {
                let e = experiments.first { $0.name == name }!
                var line = "  experiment \(e.name) (\(e.status), \(format(e.trafficPercent))%, owner \(e.owner))"
                if let start = e.start { line += " from \(start)" }
                if let stop = e.stop { line += " until \(stop)" }
                lines.append(line)
                if let targeting = e.targeting { lines.append("    targeting: \(targeting)") }
                if !e.segments.isEmpty { lines.append("    segments: \(e.segments.joined(separator: ", "))") }
                for variant in e.variants {
                    let params = variant.params.keys.sorted().map { "\($0)=\(variant.params[$0]!)" }.joined(separator: ", ")
                    lines.append("    variant \(variant.name) \(format(variant.weightPercent))%\(params.isEmpty ? "" : ": \(params)")")
                }
                if e.overrides > 0 { lines.append("    overrides: \(e.overrides) units") }
            }
        }
        if !segments.isEmpty {
            lines.append("")
            for segment in segments {
                var line = "segment \(segment.name)"
                if let unit = segment.unit { line += " [\(segment.ids) \(unit) ids]" }
                if let rule = segment.rule { line += " rule: \(rule)" }
                lines.append(line)
            }
        }
        if !holdouts.isEmpty {
            lines.append("")
            for holdout in holdouts {
                lines.append(
                    "holdout \(holdout.name): \(format(holdout.percent))% of \(holdout.unit) from \(holdout.layers.joined(separator: ", "))"
                )
            }
        }
        return lines.joined(separator: "\n")
    }

    private func format(_ percent: Double) -> String {
        percent == percent.rounded() ? String(Int(percent)) : String(percent)
    }
}
