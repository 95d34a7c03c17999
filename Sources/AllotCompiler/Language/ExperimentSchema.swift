import AllotCore

/// `allot schema`: a JSON Schema (draft 2020-12) of experiment files, so editors validate and
/// complete them (the YAML language server applies it to each document of a file; see
/// docs/experiment-language.md, "Editors"). Built from `LanguageSchema`, the same key table the
/// parser uses. The generated file is checked in as `docs/experiments.schema.json`.
///
/// The schema dispatches on `kind` (`if`/`then`): a document is checked against its own kind
/// only, every kind allows exactly its keys, so a misspelled key (`trafic:`) is reported by any
/// validator as the unexpected key it is, not as a failed alternative of another kind.
public enum ExperimentSchema {
    public static func jsonSchema() -> String {
        let name: JSON = .object([
            ("type", "string"), ("pattern", "^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$"),
        ])
        let percentage: JSON = .object([
            ("type", "string"), ("pattern", "^(100(\\.0{1,2})?|[0-9]{1,2}(\\.[0-9]{1,2})?)%$"),
            ("description", "a percentage with at most two decimals, e.g. 20% or 0.05%"),
        ])
        let weight: JSON = .object([
            ("anyOf", .array([percentage, .object([("type", "number"), ("minimum", .number(0)), ("maximum", .number(100))])]))
        ])
        let time: JSON = .object([
            ("type", "string"),
            ("pattern", "^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$"),
            ("description", "RFC 3339 time or a date (midnight UTC), e.g. 2026-12-01T09:00:00Z or 2026-12-01"),
        ])
        let names: JSON = .object([("type", "array"), ("items", name)])
        let ids: JSON = .object([
            ("type", "array"), ("items", .object([("type", "string"), ("minLength", .number(1)), ("maxLength", .number(512))])),
        ])
        let acknowledge: JSON = .object([("type", "array"), ("items", .object([("enum", .array(["reassignment"]))]))])

        func kind(_ kind: String, _ fields: [LanguageSchema.Field], _ properties: [(String, JSON)]) -> JSON {
            var props: [(String, JSON)] = [("kind", .object([("const", .string(kind))]))]
            for field in fields where field.key != "kind" {
                var schema = properties.first { $0.0 == field.key }?.1 ?? .object([("type", "string")])
                schema = schema.adding("description", .string(field.summary))
                props.append((field.key, schema))
            }
            return .object([
                ("type", "object"), ("title", .string(kind)),
                ("required", .array(fields.filter(\.required).map { .string($0.key) })),
                ("properties", .object(props)), ("additionalProperties", .bool(false)),
            ])
        }

        let attribute: JSON = .object([
            (
                "anyOf",
                .array([
                    .object([("enum", .array(AttributeType.allCases.map { .string($0.name) }))]),
                    .object([
                        ("type", "object"), ("required", .array(["type"])), ("additionalProperties", .bool(false)),
                        (
                            "properties",
                            .object([
                                ("type", .object([("enum", .array(AttributeType.allCases.map { .string($0.name) }))])),
                                ("values", .object([("type", "array"), ("items", .object([("type", "string")]))])),
                                ("description", .object([("type", "string")])),
                            ])
                        ),
                    ]),
                ])
            )
        ])
        let parameter: JSON = .object([
            ("type", "object"), ("required", .array(["type", "default"])), ("additionalProperties", .bool(false)),
            (
                "properties",
                .object([
                    ("type", .object([("enum", .array(ParameterType.allCases.map { .string($0.name) }))])),
                    ("default", .object([])),
                    ("description", .object([("type", "string")])),
                ])
            ),
        ])
        let variant: JSON = .object([
            ("type", "object"), ("required", .array(LanguageSchema.variant.filter(\.required).map { .string($0.key) })),
            ("additionalProperties", .bool(false)),
            (
                "properties",
                .object([
                    ("name", name), ("weight", weight), ("params", .object([("type", "object")])),
                    ("description", .object([("type", "string")])),
                ])
            ),
        ])

        let kinds: [(String, JSON)] = [
            (
                "Attributes",
                kind(
                    "Attributes", LanguageSchema.attributes,
                    [("attributes", .object([("type", "object"), ("additionalProperties", attribute)]))])
            ),
            (
                "Layer",
                kind(
                    "Layer", LanguageSchema.layer,
                    [
                        ("name", name), ("unit", name), ("params", .object([("type", "object"), ("additionalProperties", parameter)])),
                        ("acknowledge", acknowledge),
                    ])
            ),
            (
                "Experiment",
                kind(
                    "Experiment", LanguageSchema.experiment,
                    [
                        ("name", name), ("layer", name),
                        ("status", .object([("enum", .array(ExperimentStatus.allCases.map { .string($0.name) }))])),
                        ("start", time), ("stop", time), ("traffic", percentage), ("segments", names),
                        ("variants", .object([("type", "array"), ("minItems", .number(1)), ("items", variant)])),
                        ("overrides", .object([("type", "object"), ("additionalProperties", ids)])),
                        ("restart", .object([("type", "integer"), ("minimum", .number(0))])),
                        ("acknowledge", acknowledge),
                    ])
            ),
            (
                "Segment",
                kind("Segment", LanguageSchema.segment, [("name", name), ("unit", name), ("ids", ids), ("acknowledge", acknowledge)])
            ),
            (
                "Holdout",
                kind(
                    "Holdout", LanguageSchema.holdout,
                    [
                        ("name", name), ("unit", name), ("traffic", percentage), ("layers", names), ("acknowledge", acknowledge),
                    ])
            ),
            (
                "Metric",
                kind(
                    "Metric", LanguageSchema.metric,
                    [
                        ("name", name), ("type", .object([("enum", .array(MetricType.allCases.map { .string($0.rawValue) }))])),
                        ("event", name), ("numerator", name), ("denominator", name),
                        ("direction", .object([("enum", .array(MetricDirection.allCases.map { .string($0.rawValue) }))])),
                        ("role", .object([("enum", .array(MetricRole.allCases.map { .string($0.rawValue) }))])),
                        ("window", .object([("type", "string"), ("pattern", "^[0-9]{1,6}[smhd]$")])),
                    ])
            ),
        ]
        precondition(kinds.map(\.0) == LanguageSchema.kinds, "every kind of LanguageSchema has its schema")

        let schema: JSON = .object([
            ("$schema", "https://json-schema.org/draft/2020-12/schema"),
            ("$id", "https://allot.dev/schema/experiments.json"),
            ("title", "Allot experiment file (one document per kind)"),
            ("description", "Generated by `allot schema`; checked in as docs/experiments.schema.json."),
            ("type", "object"),
            ("required", .array(["kind"])),
            (
                "properties",
                .object([
                    (
                        "kind",
                        .object([
                            ("enum", .array(LanguageSchema.kinds.map { .string($0) })),
                            ("description", "what this document declares"),
                        ])
                    )
                ])
            ),
            (
                "allOf",
                .array(
                    kinds.map { kind, _ in
                        .object([
                            (
                                "if",
                                .object([
                                    ("properties", .object([("kind", .object([("const", .string(kind))]))])),
                                    ("required", .array(["kind"])),
                                ])
                            ),
                            ("then", .object([("$ref", .string("#/$defs/\(kind)"))])),
                        ])
                    })
            ),
            ("$defs", .object(kinds)),
        ])
        return schema.render(indent: 0)
    }
}

/// A minimal ordered JSON value for generating documents.
indirect enum JSON: ExpressibleByStringLiteral {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([JSON])
    case object([(String, JSON)])

    init(stringLiteral value: String) { self = .string(value) }

    func adding(_ key: String, _ value: JSON) -> JSON {
        guard case .object(var members) = self else { return self }
        members.append((key, value))
        return .object(members)
    }

    func render(indent: Int) -> String {
        let pad = String(repeating: "  ", count: indent)
        let inner = String(repeating: "  ", count: indent + 1)
        switch self {
        case .string(let value): return CanonicalJSON.string(value)
        case .number(let value): return value == value.rounded() ? String(Int(value)) : String(value)
        case .bool(let value): return value ? "true" : "false"
        case .array(let elements):
            if elements.isEmpty { return "[]" }
            return "[\n" + elements.map { inner + $0.render(indent: indent + 1) }.joined(separator: ",\n") + "\n\(pad)]"
        case .object(let members):
            if members.isEmpty { return "{}" }
            return "{\n"
                + members.map { inner + CanonicalJSON.string($0.0) + ": " + $0.1.render(indent: indent + 1) }.joined(separator: ",\n")
                + "\n\(pad)}"
        }
    }
}
