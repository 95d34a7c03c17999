import AllotCore
internal import Yams

/// Reads experiment files into declarations, checking each document's shape and field types.
/// Cross-document rules (references, uniqueness, parameter types, traffic) are checked later by
/// `ProjectChecker`. Reports every problem it finds; never stops at the first.
struct DeclarationParser {
    var diagnostics = DiagnosticBag()
    var declarations = Declarations()
    /// Keys that an unknown key in the current document was probably meant to be: "needs 'x'"
    /// errors for them would only repeat the did-you-mean.
    private var misspelledKeys: Set<String> = []
    /// Reads an id file given its path relative to the declaring file's directory.
    let readIDFile: (_ declaringFile: String, _ relativePath: String) -> Result<[Located<String>], Diagnostic>

    init(readIDFile: @escaping (_ declaringFile: String, _ relativePath: String) -> Result<[Located<String>], Diagnostic>) {
        self.readIDFile = readIDFile
    }

    mutating func parse(_ file: SourceFile) {
        let locator = NodeLocator(file)
        let parser: Parser
        do {
            parser = try Parser(yaml: file.text, resolver: .basic)
        } catch {
            report(yamlError: error, locator)
            return
        }
        var index = 0
        while true {
            let root: Node?
            do {
                root = try parser.nextRoot()
            } catch {
                report(yamlError: error, locator)
                return
            }
            guard let root else { break }
            index += 1
            parseDocument(root, locator, file: file.path)
        }
    }

    private mutating func report(yamlError error: any Error, _ locator: NodeLocator) {
        if let yaml = error as? YamlError {
            switch yaml {
            case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                // YAML never indents with tabs, and the parser's own message never says so.
                for line in [mark.line, context?.mark.line].compactMap({ $0 }) {
                    if let column = locator.tabInIndentation(line: line) {
                        diagnostics.error(
                            at: locator.location(line: line, column: column),
                            "a tab in the indentation: YAML indents with spaces only",
                            hint: "replace the tab with spaces (and set your editor to insert spaces in YAML files)")
                        return
                    }
                }
                var message = "invalid YAML: \(problem)"
                if let context {
                    message += " (\(context.text) that starts at line \(context.mark.line), column \(context.mark.column))"
                }
                diagnostics.error(
                    at: locator.location(line: mark.line, column: mark.column), message,
                    hint: "check indentation, colons and quotes near here")
                return
            case .duplicatedKeysInMapping(let duplicates, let context):
                for key in duplicates {
                    let location =
                        locator.nextOccurrence(ofKey: key, after: context.mark)
                        ?? locator.location(line: context.mark.line, column: context.mark.column)
                    diagnostics.error(
                        at: location, "duplicate key '\(key)' (first at line \(context.mark.line))",
                        hint: "remove one of them; a mapping has each key once")
                }
                return
            case .reader(let problem, _, _, _):
                diagnostics.error(at: locator.location(line: 1, column: 1), "invalid YAML: \(problem)", hint: "the file must be UTF-8 text")
                return
            default:
                break
            }
        }
        diagnostics.error(at: locator.location(line: 1, column: 1), "invalid YAML: \(error)")
    }

    private mutating func parseDocument(_ root: Node, _ locator: NodeLocator, file: String) {
        if root.isNull { return }  // an empty document, e.g. a trailing `---`
        guard let reader = MappingReader(root, locator, context: "a document", &diagnostics) else { return }
        misspelledKeys = []
        guard let kindNode = reader["kind"] else {
            diagnostics.error(
                at: locator.location(of: root), "document has no 'kind'",
                hint: "start it with `kind:` and one of \(LanguageSchema.kinds.joined(separator: ", "))")
            return
        }
        guard let kind = kindNode.scalar?.string, LanguageSchema.kinds.contains(kind) else {
            let text = kindNode.scalar?.string ?? ""
            let hint =
                closestMatch(to: text, in: LanguageSchema.kinds).map { "did you mean '\($0)'?" }
                ?? "use one of \(LanguageSchema.kinds.joined(separator: ", "))"
            diagnostics.error(at: locator.location(of: kindNode), "unknown kind '\(text)'", hint: hint)
            return
        }
        switch kind {
        case "Attributes": parseAttributes(reader, locator, file: file)
        case "Layer": parseLayer(reader, locator)
        case "Experiment": parseExperiment(reader, locator, file: file)
        case "Segment": parseSegment(reader, locator, file: file)
        case "Metric": parseMetric(reader, locator)
        default: parseHoldout(reader, locator)
        }
    }

    // MARK: Kinds

    private mutating func parseAttributes(_ reader: MappingReader, _ locator: NodeLocator, file: String) {
        reportUnknownKeys(reader, LanguageSchema.attributesKeys, context: "Attributes")
        declarations.attributeFiles.append(file)
        guard let node = required(reader, "attributes", context: "Attributes"),
            let attributes = MappingReader(node, locator, context: "attributes", &diagnostics)
        else { return }
        for entry in attributes.entries {
            guard let name = validName(entry.keyNode, locator, what: "attribute") else { continue }
            var type: AttributeType?
            var values: [String]?
            var description: String?
            if let typeName = entry.value.scalar?.string {
                type = attributeType(entry.value, typeName, locator)
            } else if let spec = MappingReader(entry.value, locator, context: "attribute '\(name.value)'", &diagnostics) {
                spec.reportUnknownKeys(known: LanguageSchema.attributeKeys, context: "an attribute", &diagnostics)
                if let typeNode = required(spec, "type", context: "attribute '\(name.value)'") {
                    type = attributeType(typeNode, typeNode.scalar?.string ?? "", locator)
                }
                description = optionalString(spec, "description")
                if let valuesNode = spec["values"] {
                    values = stringList(valuesNode, locator, what: "allowed value").map(\.value)
                    if let type, type != .string && type != .stringList {
                        diagnostics.error(
                            at: locator.location(of: spec.keyNode("values")!), "'values' applies only to string and list attributes",
                            hint: "remove it, or change the type")
                    }
                    if values?.isEmpty == true {
                        diagnostics.error(at: locator.location(of: valuesNode), "'values' must list at least one value")
                    }
                }
            }
            guard let type else { continue }
            declarations.attributes.append(AttributeDeclaration(name: name, type: type, allowedValues: values, description: description))
        }
    }

    private mutating func attributeType(_ node: Node, _ name: String, _ locator: NodeLocator) -> AttributeType? {
        if let type = AttributeType(name: name) { return type }
        let names = AttributeType.allCases.map(\.name)
        diagnostics.error(
            at: locator.location(of: node), "unknown attribute type '\(name)'",
            hint: closestMatch(to: name, in: names).map { "did you mean '\($0)'?" } ?? "use one of \(names.joined(separator: ", "))")
        return nil
    }

    private mutating func parseLayer(_ reader: MappingReader, _ locator: NodeLocator) {
        reportUnknownKeys(reader, LanguageSchema.layerKeys, context: "a Layer")
        let name = requiredName(reader, "name", locator, what: "layer")
        let unit = requiredName(reader, "unit", locator, what: "unit type")
        let salt = optionalSalt(reader, locator)
        var parameters: [ParameterDeclaration] = []
        if let paramsNode = reader["params"], !paramsNode.isNull,
            let params = MappingReader(paramsNode, locator, context: "params", &diagnostics)
        {
            for entry in params.entries {
                guard let paramName = validName(entry.keyNode, locator, what: "parameter"),
                    let spec = MappingReader(entry.value, locator, context: "parameter '\(entry.key)'", &diagnostics)
                else { continue }
                spec.reportUnknownKeys(known: LanguageSchema.parameterKeys, context: "a parameter", &diagnostics)
                guard let typeNode = required(spec, "type", context: "parameter '\(entry.key)'") else { continue }
                let typeName = typeNode.scalar?.string ?? ""
                guard let type = ParameterType(name: typeName) else {
                    let names = ParameterType.allCases.map(\.name)
                    diagnostics.error(
                        at: locator.location(of: typeNode), "unknown parameter type '\(typeName)'",
                        hint: closestMatch(to: typeName, in: names).map { "did you mean '\($0)'?" }
                            ?? "use one of \(names.joined(separator: ", "))")
                    continue
                }
                guard let defaultNode = required(spec, "default", context: "parameter '\(entry.key)'") else { continue }
                guard let value = parameterValue(defaultNode, type: type, locator, parameter: entry.key) else { continue }
                parameters.append(
                    ParameterDeclaration(name: paramName, type: type, defaultValue: value, description: optionalString(spec, "description"))
                )
            }
        }
        guard let name, let unit else { return }
        declarations.layers.append(
            LayerDeclaration(
                name: name, unit: unit, salt: salt, description: optionalString(reader, "description"), parameters: parameters,
                acknowledgesReassignment: acknowledgement(reader, locator)))
    }

    private mutating func parseExperiment(_ reader: MappingReader, _ locator: NodeLocator, file: String) {
        reportUnknownKeys(reader, LanguageSchema.experimentKeys, context: "an Experiment")
        let name = requiredName(reader, "name", locator, what: "experiment")
        let layer = requiredName(reader, "layer", locator, what: "layer")
        let owner = requiredString(reader, "owner", locator, context: "an Experiment")
        if let owner, owner.trimmingCharacters(in: .whitespaces).isEmpty, let node = reader["owner"] {
            diagnostics.error(at: locator.location(of: node), "'owner' is empty", hint: "set it to a person or team address")
        }
        var status: Located<ExperimentStatus>?
        var statusValid = true
        if let statusNode = required(reader, "status", context: "an Experiment") {
            let text = statusNode.scalar?.string ?? ""
            if let value = ExperimentStatus(name: text) {
                status = Located(value, at: locator.location(of: statusNode))
            } else {
                let names = ExperimentStatus.allCases.map(\.name)
                statusValid = false
                // Keep checking the rest as a draft; the error already prevents any output.
                status = Located(.draft, at: locator.location(of: statusNode))
                diagnostics.error(
                    at: locator.location(of: statusNode), "unknown status '\(text)'",
                    hint: closestMatch(to: text, in: names).map { "did you mean '\($0)'?" } ?? "use one of \(names.joined(separator: ", "))"
                )
            }
        }
        let start = reader["start"].flatMap { timestamp($0, locator) }
        let stop = reader["stop"].flatMap { timestamp($0, locator) }
        let traffic = reader["traffic"].flatMap { percentage($0, locator, what: "traffic", plainNumbersArePercent: false) }
        var targeting: Located<String>?
        var targetingLocator: (@Sendable (Int) -> SourceLocation)?
        if let node = reader["targeting"], !node.isNull {
            if let text = node.scalar?.string, !text.trimmingCharacters(in: .whitespaces).isEmpty {
                targeting = Located(text, at: locator.location(of: node))
                targetingLocator = locator.scalarLocator(for: node)
            } else {
                diagnostics.error(
                    at: locator.location(of: node), "'targeting' must be an expression", hint: "for example: country == \"US\"")
            }
        }
        let segments = reader["segments"].map { nameList($0, locator, what: "segment") } ?? []
        var variants: [VariantDeclaration] = []
        if let variantsNode = required(reader, "variants", context: "an Experiment") {
            if let sequence = variantsNode.sequence, !sequence.isEmpty {
                for element in sequence {
                    if let variant = parseVariant(element, locator) { variants.append(variant) }
                }
            } else {
                diagnostics.error(
                    at: locator.location(of: variantsNode), "'variants' must be a list of at least one variant",
                    hint: "for example:\n    variants:\n      - name: control\n        weight: 50%")
            }
        }
        var overrides: [(variant: Located<String>, units: [Located<String>])] = []
        if let node = reader["overrides"], !node.isNull, let map = MappingReader(node, locator, context: "overrides", &diagnostics) {
            for entry in map.entries {
                guard let variant = validName(entry.keyNode, locator, what: "variant") else { continue }
                overrides.append((variant, unitIDList(entry.value, locator)))
            }
        }
        let salt = optionalSalt(reader, locator)
        var restart: Located<Int>?
        if let node = reader["restart"] {
            if let value = node.scalar.flatMap({ Int($0.string) }), value >= 0 {
                restart = Located(value, at: locator.location(of: node))
            } else {
                diagnostics.error(
                    at: locator.location(of: node), "'restart' must be a whole number (0, 1, 2, ...)",
                    hint: "bump it by one for a fresh start")
            }
        }
        let acknowledges = acknowledgement(reader, locator)
        _ = statusValid
        guard let name, let layer, let status else { return }
        declarations.experiments.append(
            ExperimentDeclaration(
                name: name, layer: layer, owner: owner, description: optionalString(reader, "description"), status: status,
                start: start, stop: stop, traffic: traffic, hasTrafficKey: reader["traffic"] != nil || misspelledKeys.contains("traffic"),
                targeting: targeting, targetingLocator: targetingLocator,
                segments: segments, variants: variants, overrides: overrides, salt: salt, restart: restart,
                acknowledgesReassignment: acknowledges, file: file, locator: locator))
    }

    private mutating func parseVariant(_ node: Node, _ locator: NodeLocator) -> VariantDeclaration? {
        guard let reader = MappingReader(node, locator, context: "a variant", &diagnostics) else { return nil }
        reportUnknownKeys(reader, LanguageSchema.variantKeys, context: "a variant")
        let name = requiredName(reader, "name", locator, what: "variant")
        let weight = required(reader, "weight", context: "a variant").flatMap {
            percentage($0, locator, what: "weight", plainNumbersArePercent: true)
        }
        var parameters: [(name: Located<String>, value: ParameterReadings)] = []
        if let paramsNode = reader["params"], !paramsNode.isNull,
            let params = MappingReader(paramsNode, locator, context: "variant params", &diagnostics)
        {
            for entry in params.entries {
                if let paramName = validName(entry.keyNode, locator, what: "parameter") {
                    func read(_ type: ParameterType) -> Result<ParameterValue, Diagnostic> {
                        Self.parameterValue(entry.value, type: type, locator, parameter: paramName.value)
                    }
                    parameters.append(
                        (paramName, ParameterReadings(string: read(.string), number: read(.number), bool: read(.bool), json: read(.json))))
                }
            }
        }
        guard let name, let weight else { return nil }
        return VariantDeclaration(
            name: name, weight: weight, description: optionalString(reader, "description"), parameterValues: parameters)
    }

    private mutating func parseSegment(_ reader: MappingReader, _ locator: NodeLocator, file: String) {
        reportUnknownKeys(reader, LanguageSchema.segmentKeys, context: "a Segment")
        let name = requiredName(reader, "name", locator, what: "segment")
        let unit = reader["unit"].flatMap { validName($0, locator, what: "unit type") }
        var rule: Located<String>?
        var ruleLocator: (@Sendable (Int) -> SourceLocation)?
        if let node = reader["rule"], !node.isNull {
            if let text = node.scalar?.string, !text.trimmingCharacters(in: .whitespaces).isEmpty {
                rule = Located(text, at: locator.location(of: node))
                ruleLocator = locator.scalarLocator(for: node)
            } else {
                diagnostics.error(at: locator.location(of: node), "'rule' must be a targeting expression")
            }
        }
        var ids: [String] = []
        var seen = Set<String>()
        if let node = reader["ids"] {
            for id in unitIDList(node, locator) where seen.insert(id.value).inserted { ids.append(id.value) }
        }
        var idsFile: Located<String>?
        if let node = reader["idsFile"] {
            if let path = node.scalar?.string, !path.isEmpty {
                idsFile = Located(path, at: locator.location(of: node))
                switch readIDFile(file, path) {
                case .success(let fileIDs):
                    for id in fileIDs where seen.insert(id.value).inserted { ids.append(id.value) }
                case .failure(var diagnostic):
                    if diagnostic.location?.file == file { diagnostic.location = locator.location(of: node) }
                    diagnostics.append(diagnostic)
                }
            } else {
                diagnostics.error(at: locator.location(of: node), "'idsFile' must be a path relative to this file")
            }
        }
        if let name, rule == nil, reader["ids"] == nil, idsFile == nil {
            diagnostics.error(
                at: name.location, "segment '\(name.value)' has neither a rule nor ids", hint: "add `rule:`, `ids:` or `idsFile:`")
        }
        if let name, unit == nil, reader["ids"] != nil || idsFile != nil {
            diagnostics.error(
                at: name.location, "segment '\(name.value)' lists ids but has no 'unit'",
                hint: "add `unit: user_id` (the unit type of the ids)")
        }
        guard let name else { return }
        declarations.segments.append(
            SegmentDeclaration(
                name: name, unit: unit, rule: rule, ruleLocator: ruleLocator, ids: ids, idsFile: idsFile,
                description: optionalString(reader, "description"), acknowledgesReassignment: acknowledgement(reader, locator)))
    }

    private mutating func parseHoldout(_ reader: MappingReader, _ locator: NodeLocator) {
        reportUnknownKeys(reader, LanguageSchema.holdoutKeys, context: "a Holdout")
        let name = requiredName(reader, "name", locator, what: "holdout")
        let unit = requiredName(reader, "unit", locator, what: "unit type")
        let traffic = required(reader, "traffic", context: "a Holdout").flatMap {
            percentage($0, locator, what: "traffic", plainNumbersArePercent: false)
        }
        let layers = reader["layers"].map { nameList($0, locator, what: "layer") }
        guard let name, let unit, let traffic else { return }
        declarations.holdouts.append(
            HoldoutDeclaration(
                name: name, unit: unit, traffic: traffic, salt: optionalSalt(reader, locator), layers: layers,
                description: optionalString(reader, "description"), acknowledgesReassignment: acknowledgement(reader, locator)))
    }

    private mutating func parseMetric(_ reader: MappingReader, _ locator: NodeLocator) {
        reportUnknownKeys(reader, LanguageSchema.metricKeys, context: "a Metric")
        let name = requiredName(reader, "name", locator, what: "metric")
        var type: MetricType?
        if let node = required(reader, "type", context: "a Metric") {
            type = choice(node, locator, what: "metric type", MetricType.self)
        }
        let direction = reader["direction"].map { choice($0, locator, what: "direction", MetricDirection.self) } ?? .increase
        let role = reader["role"].map { choice($0, locator, what: "role", MetricRole.self) } ?? .primary
        let event = reader["event"].flatMap { validName($0, locator, what: "event") }
        let numerator = reader["numerator"].flatMap { validName($0, locator, what: "metric") }
        let denominator = reader["denominator"].flatMap { validName($0, locator, what: "metric") }
        if type == .ratio {
            for key in ["numerator", "denominator"] where reader[key] == nil {
                _ = required(reader, key, context: "a ratio Metric")
            }
            for key in ["event", "window"] {
                guard let node = reader.keyNode(key) else { continue }
                diagnostics.error(
                    at: locator.location(of: node),
                    "'\(key)' does not apply to a ratio: it divides the values of its numerator and denominator",
                    hint: "set it on the metrics the ratio divides")
            }
        } else if let type {
            for key in ["numerator", "denominator"] {
                guard let node = reader.keyNode(key) else { continue }
                diagnostics.error(
                    at: locator.location(of: node), "'\(key)' applies only to ratio metrics; this one is \(type.rawValue)",
                    hint: "remove it, or make the metric `type: ratio`")
            }
        }
        var window: Int64?
        if let node = reader["window"], !node.isNull {
            window = node.scalar.flatMap { MetricWindow.seconds($0.string) }
            if window == nil {
                diagnostics.error(
                    at: locator.location(of: node), "'window' \(node.scalar?.string ?? "") is not a duration",
                    hint: "write a whole number and s, m, h or d, at most 366d: e.g. 7d, 24h or 30m")
            }
        }
        guard let name, let type, let direction, let role else { return }
        declarations.metrics.append(
            MetricDeclaration(
                name: name, type: type, event: event, numerator: numerator, denominator: denominator, direction: direction, role: role,
                windowSeconds: window, description: optionalString(reader, "description")))
    }

    /// One of an enumeration's names; reports the node and returns nil otherwise.
    private mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ node: Node, _ locator: NodeLocator, what: String, _: Choice.Type
    ) -> Choice? where Choice.RawValue == String {
        let text = node.scalar?.string ?? ""
        if let value = Choice(rawValue: text) { return value }
        let names = Choice.allCases.map(\.rawValue)
        diagnostics.error(
            at: locator.location(of: node), "unknown \(what) '\(text)'",
            hint: closestMatch(to: text, in: names).map { "did you mean '\($0)'?" } ?? "use one of \(names.joined(separator: ", "))")
        return nil
    }

    // MARK: Field readers

    /// `acknowledge: [reassignment]`, on the declaration whose change moves enrolled units.
    private mutating func acknowledgement(_ reader: MappingReader, _ locator: NodeLocator) -> Bool {
        var acknowledges = false
        if let node = reader["acknowledge"] {
            for item in nameList(node, locator, what: "acknowledgement") {
                if item.value == "reassignment" {
                    acknowledges = true
                } else {
                    diagnostics.error(at: item.location, "unknown acknowledgement '\(item.value)'", hint: "the only one is 'reassignment'")
                }
            }
        }
        return acknowledges
    }

    private mutating func reportUnknownKeys(_ reader: MappingReader, _ known: [String], context: String) {
        reader.reportUnknownKeys(known: known, context: context, &diagnostics)
        for entry in reader.entries where !known.contains(entry.key) {
            if let suggestion = closestMatch(to: entry.key, in: known) { misspelledKeys.insert(suggestion) }
        }
    }

    private mutating func required(_ reader: MappingReader, _ key: String, context: String) -> Node? {
        let found = reader[key]
        if found == nil && !misspelledKeys.isEmpty && misspelledKeys.contains(key) { return nil }
        guard let node = found, !node.isNull else {
            let location = reader.keyNode(key).map { reader.locator.location(of: $0) } ?? reader.locator.location(of: reader.node)
            diagnostics.error(at: location, "\(context) needs '\(key)'", hint: "add `\(key):`")
            return nil
        }
        return node
    }

    private mutating func requiredString(_ reader: MappingReader, _ key: String, _ locator: NodeLocator, context: String) -> String? {
        guard let node = required(reader, key, context: context) else { return nil }
        guard let text = node.scalar?.string else {
            diagnostics.error(at: locator.location(of: node), "'\(key)' must be text")
            return nil
        }
        return text
    }

    private func optionalString(_ reader: MappingReader, _ key: String) -> String? {
        guard let node = reader[key], !node.isNull else { return nil }
        return node.scalar?.string
    }

    private mutating func requiredName(_ reader: MappingReader, _ key: String, _ locator: NodeLocator, what: String) -> Located<String>? {
        guard let node = required(reader, key, context: "this document") else { return nil }
        return validName(node, locator, what: what)
    }

    /// A name: 1-128 characters of letters, digits, `_ - . : /`, starting with a letter or digit.
    private mutating func validName(_ node: Node, _ locator: NodeLocator, what: String) -> Located<String>? {
        guard let text = node.scalar?.string else {
            diagnostics.error(at: locator.location(of: node), "a \(what) name must be text")
            return nil
        }
        guard Self.isValidName(text) else {
            diagnostics.error(
                at: locator.location(of: node), "invalid \(what) name '\(text)'",
                hint: "use 1-128 letters, digits, '-', '_', '.', ':' or '/', starting with a letter or digit")
            return nil
        }
        return Located(text, at: locator.location(of: node))
    }

    static func isValidName(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...128).contains(bytes.count) else { return false }
        guard let first = bytes.first, first.isASCIIAlphanumeric else { return false }
        return bytes.allSatisfy { $0.isASCIIAlphanumeric || "_-.:/".utf8.contains($0) }
    }

    private mutating func optionalSalt(_ reader: MappingReader, _ locator: NodeLocator) -> Located<String>? {
        guard let node = reader["salt"], !node.isNull else { return nil }
        guard let text = node.scalar?.string, !text.isEmpty, text.utf8.count <= Bucketing.maxSaltLength, !text.utf8.contains(0) else {
            diagnostics.error(at: locator.location(of: node), "'salt' must be 1-\(Bucketing.maxSaltLength) bytes of text without NUL")
            return nil
        }
        return Located(text, at: locator.location(of: node))
    }

    private mutating func nameList(_ node: Node, _ locator: NodeLocator, what: String) -> [Located<String>] {
        guard let sequence = node.sequence else {
            diagnostics.error(
                at: locator.location(of: node), "expected a list of \(what) names", hint: "write [a, b] or one `- name` per line")
            return []
        }
        return sequence.compactMap { validName($0, locator, what: what) }
    }

    private mutating func stringList(_ node: Node, _ locator: NodeLocator, what: String) -> [Located<String>] {
        guard let sequence = node.sequence else {
            diagnostics.error(at: locator.location(of: node), "expected a list of \(what)s", hint: "write [a, b] or one `- value` per line")
            return []
        }
        return sequence.compactMap { element in
            guard let text = element.scalar?.string else {
                diagnostics.error(at: locator.location(of: element), "each \(what) must be text")
                return nil
            }
            return Located(text, at: locator.location(of: element))
        }
    }

    private mutating func unitIDList(_ node: Node, _ locator: NodeLocator) -> [Located<String>] {
        stringList(node, locator, what: "unit id").filter { id in
            guard !id.value.isEmpty, id.value.utf8.count <= Bucketing.maxUnitIDLength else {
                diagnostics.error(at: id.location, "a unit id must be 1-\(Bucketing.maxUnitIDLength) bytes")
                return false
            }
            return true
        }
    }

    /// A percentage in basis points: `20%`, `0.05%`; plain numbers too when `plainNumbersArePercent`.
    private mutating func percentage(_ node: Node, _ locator: NodeLocator, what: String, plainNumbersArePercent: Bool) -> Located<Int>? {
        let location = locator.location(of: node)
        guard let raw = node.scalar?.string else {
            diagnostics.error(at: location, "'\(what)' must be a percentage such as 20%")
            return nil
        }
        var text = Substring(raw).utf8
        while let first = text.first, first == 32 || first == 9 { text = text.dropFirst() }
        while let last = text.last, last == 32 || last == 9 { text = text.dropLast() }
        if text.last == UInt8(ascii: "%") {
            text = text.dropLast()
        } else if !plainNumbersArePercent {
            let shown = String(Substring(text))
            diagnostics.error(
                at: location, "'\(what)' must be a percentage such as 20%", hint: "write '\(shown)%' if you mean \(shown) percent")
            return nil
        }
        guard let basisPoints = Self.basisPoints(text) else {
            diagnostics.error(
                at: location, "'\(what)' \(node.scalar?.string ?? "") is not a valid percentage",
                hint: "use a number from 0% to 100% with at most two decimals, e.g. 12.5%")
            return nil
        }
        guard basisPoints <= Bucketing.bucketCount else {
            diagnostics.error(at: location, "'\(what)' is over 100%")
            return nil
        }
        return Located(basisPoints, at: location)
    }

    /// `"12.34"` → 1234; nil when not a non-negative decimal with at most two fraction digits.
    static func basisPoints(_ text: String) -> Int? {
        basisPoints(text.utf8[...])
    }

    static func basisPoints(_ text: Substring.UTF8View) -> Int? {
        var whole = 0
        var wholeDigits = 0
        var fraction = 0
        var fractionDigits = 0
        var seenPoint = false
        for byte in text {
            if byte == UInt8(ascii: ".") {
                guard !seenPoint, wholeDigits > 0 else { return nil }
                seenPoint = true
            } else if byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                if seenPoint {
                    fractionDigits += 1
                    guard fractionDigits <= 2 else { return nil }
                    fraction = fraction * 10 + Int(byte - UInt8(ascii: "0"))
                } else {
                    wholeDigits += 1
                    guard wholeDigits <= 5 else { return nil }
                    whole = whole * 10 + Int(byte - UInt8(ascii: "0"))
                }
            } else {
                return nil
            }
        }
        guard wholeDigits > 0, !seenPoint || fractionDigits > 0 else { return nil }
        return whole * 100 + (fractionDigits == 1 ? fraction * 10 : fraction)
    }

    private mutating func timestamp(_ node: Node, _ locator: NodeLocator) -> Located<Int64>? {
        guard let text = node.scalar?.string, let seconds = RFC3339.parse(text) else {
            diagnostics.error(
                at: locator.location(of: node), "'\(node.scalar?.string ?? "")' is not an RFC 3339 time",
                hint: "write e.g. 2026-12-01T09:00:00Z or 2026-12-01T09:00:00+01:00")
            return nil
        }
        return Located(seconds, at: locator.location(of: node))
    }

    /// A parameter value of `type`, as canonical JSON; reports and returns nil on a mismatch.
    mutating func parameterValue(_ node: Node, type: ParameterType, _ locator: NodeLocator, parameter: String) -> ParameterValue? {
        switch Self.parameterValue(node, type: type, locator, parameter: parameter) {
        case .success(let value): return value
        case .failure(let diagnostic):
            diagnostics.append(diagnostic)
            return nil
        }
    }

    /// A parameter value of `type`, as canonical JSON, or the diagnostic for a mismatch.
    static func parameterValue(_ node: Node, type: ParameterType, _ locator: NodeLocator, parameter: String) -> Result<
        ParameterValue, Diagnostic
    > {
        let location = locator.location(of: node)
        switch type {
        case .string:
            guard let scalar = node.scalar, !node.isNull || scalar.style != .plain else {
                return .failure(
                    Diagnostic(at: location, "parameter '\(parameter)' is a string; this value is not", hint: "quote it: \"...\""))
            }
            return .success(ParameterValue(type: .string, json: CanonicalJSON.string(scalar.string)))
        case .number:
            guard let text = node.scalar?.string, let json = CanonicalJSON.number(text) else {
                return .failure(
                    Diagnostic(
                        at: location, "parameter '\(parameter)' is a number; '\(node.scalar?.string ?? "…")' is not",
                        hint: "write e.g. 10 or 2.5"))
            }
            return .success(ParameterValue(type: .number, json: json))
        case .bool:
            guard let text = node.scalar?.string, text == "true" || text == "false" else {
                return .failure(
                    Diagnostic(
                        at: location, "parameter '\(parameter)' is a bool; '\(node.scalar?.string ?? "…")' is not",
                        hint: "write true or false"))
            }
            return .success(ParameterValue(type: .bool, json: text))
        case .json:
            return CanonicalJSON.fromYAML(node, locator: locator).map { ParameterValue(type: .json, json: $0) }
        }
    }
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (self >= UInt8(ascii: "a") && self <= UInt8(ascii: "z")) || (self >= UInt8(ascii: "A") && self <= UInt8(ascii: "Z"))
            || (self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9"))
    }
}

extension String {
    /// The text without leading and trailing bytes of `set` (ASCII whitespace), working on UTF-8.
    func trimmingCharacters(in set: CharacterSetLite) -> String {
        let utf8 = self.utf8
        guard let first = utf8.firstIndex(where: { !set.contains($0) }) else { return "" }
        let last = utf8.lastIndex(where: { !set.contains($0) })!
        return String(self[first...last])
    }
}

/// The ASCII whitespace sets the compiler trims, without importing Foundation here.
struct CharacterSetLite: Sendable {
    let bytes: [UInt8]
    func contains(_ byte: UInt8) -> Bool { bytes.contains(byte) }
    static let whitespaces = CharacterSetLite(bytes: [32, 9])
    static let whitespacesAndNewlines = CharacterSetLite(bytes: [32, 9, 10, 13])
}
