import AllotCore
import AllotExposures
import AllotHTTP

/// The OpenFeature Remote Evaluation Protocol (`../shared/specs/ofrep-openapi.yaml`):
/// `POST /ofrep/v1/evaluate/flags/{key}` and the bulk `POST /ofrep/v1/evaluate/flags`.
///
/// A flag is a parameter; its value is the parameter's value for the unit (only the parameter's
/// layer is evaluated for a single flag). Reason and variant:
///
/// An experiment *decides* a flag for a unit when it holds the unit in the parameter's layer and
/// one of its variants sets the parameter (its control arm, which sets nothing, still counts).
///
/// | outcome of the deciding experiment | `reason` | `variant` |
/// | --- | --- | --- |
/// | `split` | `SPLIT` | the variant's name |
/// | `override` | `TARGETING_MATCH` | the variant's name |
/// | `targeting_miss`, `holdout` | `STATIC` | `default` |
/// | `paused`, `concluded`, `scheduled` | `DISABLED` | `default` |
/// | no deciding experiment | `STATIC` | `default` |
///
/// `metadata` carries `bundleVersion` and `layer`, with a deciding experiment `experiment`
/// and `allotReason` (Allot's own reason, e.g. `targeting_miss`), and when the context had
/// attributes of the wrong type `ignoredAttributes` (`name: reason; …`; also in the bulk
/// answer's own metadata).
extension EdgeHandler {
    mutating func ofrep(_ request: borrowing HTTPRequest, _ response: inout HTTPResponseWriter) {
        let prefix: StaticString = "/ofrep/v1/evaluate/flags"
        let path = request.path
        if path.count == prefix.utf8CodeUnitCount {
            response.route = route(.ofrepBulk)
            guard request.method == .post else { return ofrepMethodNotAllowed(&response) }
            return evaluateAll(request, &response)
        }
        guard path[prefix.utf8CodeUnitCount] == UInt8(ascii: "/") else {
            response.writeError(.notFound, code: "not_found", message: "no route for \(request.pathString)")
            return
        }
        response.route = route(.ofrepFlag)
        guard request.method == .post else { return ofrepMethodNotAllowed(&response) }
        let encodedKey = UnsafeRawBufferPointer(rebasing: path[(prefix.utf8CodeUnitCount + 1)...])
        scratch.removeAll(keepingCapacity: true)
        guard HTTPQuery.decode(encodedKey, into: &scratch, plusAsSpace: false) else {
            return ofrepFailure(&response, .badRequest, key: encodedKey, code: "PARSE_ERROR", "the flag key has a malformed percent escape")
        }
        evaluateOne(request, key: scratch, &response)
    }

    private mutating func evaluateOne(_ request: borrowing HTTPRequest, key: [UInt8], _ response: inout HTTPResponseWriter) {
        guard let served = shared.slot.current() else {
            return ofrepFailure(&response, .serviceUnavailable, key: nil, code: "GENERAL", "no verified bundle is loaded yet", retry: true)
        }
        let bundle = served.bundle
        guard let parameter = key.withUnsafeBytes({ bundle.parameterIndex(named: $0) }) else {
            return key.withUnsafeBytes {
                ofrepFailure(&response, .notFound, key: $0, code: "FLAG_NOT_FOUND", "flag '\(text($0))' was not found")
            }
        }
        do {
            try readContext(request.body, served: served)
        } catch {
            return key.withUnsafeBytes { ofrepFailure(&response, .badRequest, key: $0, code: error.code, error.message) }
        }
        let catalog = served.catalog
        let layer = catalog.parameterLayers[parameter]
        let unitType = catalog.layerUnitTypes[layer]
        guard unitType >= 0, seen[unitType] else {
            let message = missingUnitMessage(catalog, unitType: unitType, flag: key)
            return key.withUnsafeBytes { ofrepFailure(&response, .badRequest, key: $0, code: "TARGETING_KEY_MISSING", message) }
        }
        let outcome = bundle.evaluate(input!, now: Self.now(), layer: layer)
        response.setContentType("application/json")
        let ignored = ignoredAttributesSummary(bundle)
        writeEvaluation(served, parameter: parameter, outcome: outcome, ignored: ignored, into: &response.body)
        // The experiment that decides the flag (see `writeEvaluation`) is the exposure.
        if exposures != nil, let outcome, catalog.experiment(outcome.experiment, sets: parameter) {
            exposures!.begin(catalog.exposureNames)
            exposures!.add(flag: parameter, input: input!, outcome: outcome)
            exposures!.commit()
        }
    }

    private mutating func evaluateAll(_ request: borrowing HTTPRequest, _ response: inout HTTPResponseWriter) {
        guard let served = shared.slot.current() else {
            return ofrepFailure(&response, .serviceUnavailable, key: nil, code: "GENERAL", "no verified bundle is loaded yet", retry: true)
        }
        let bundle = served.bundle
        do {
            try readContext(request.body, served: served)
        } catch {
            return ofrepFailure(&response, .badRequest, key: nil, code: error.code, error.message)
        }
        let catalog = served.catalog
        let unitCount = bundle.payload.unitTypeCount
        guard seen[0..<unitCount].contains(true) else {
            let message = "the context has no targetingKey (nor any unit id: \(catalog.unitTypeNames.joined(separator: ", ")))"
            return ofrepFailure(&response, .badRequest, key: nil, code: "TARGETING_KEY_MISSING", message)
        }
        bundle.evaluate(input!, now: Self.now(), into: &outcomes)
        let layerCount = bundle.payload.layerCount
        if outcomeByLayer.count != layerCount {
            outcomeByLayer = Array(repeating: -1, count: layerCount)
        } else {
            for i in 0..<layerCount { outcomeByLayer[i] = -1 }
        }
        for (index, outcome) in outcomes.enumerated() { outcomeByLayer[Int(outcome.layer)] = index }

        let ignored = ignoredAttributesSummary(bundle)
        var body = response.body
        response.body = []
        body.removeAll(keepingCapacity: true)
        ResponseJSON.append(#"{"flags":["#, to: &body)
        for (position, parameter) in catalog.parametersByName.enumerated() {
            if position > 0 { body.append(UInt8(ascii: ",")) }
            let layer = catalog.parameterLayers[parameter]
            let unitType = catalog.layerUnitTypes[layer]
            guard unitType >= 0, seen[unitType] else {
                ResponseJSON.append(#"{"key":""#, to: &body)
                body.append(contentsOf: catalog.parameterNames[parameter])
                ResponseJSON.append(#"","errorCode":"TARGETING_KEY_MISSING","errorDetails":"#, to: &body)
                let message = missingUnitMessage(catalog, unitType: unitType, flag: catalog.parameterNames[parameter])
                ResponseJSON.appendString(message, to: &body)
                body.append(UInt8(ascii: "}"))
                continue
            }
            let index = outcomeByLayer[layer]
            writeEvaluation(served, parameter: parameter, outcome: index >= 0 ? outcomes[index] : nil, ignored: ignored, into: &body)
        }
        ResponseJSON.append(#"],"metadata":{"bundleVersion":"#, to: &body)
        appendDecimal(bundle.version, to: &body)
        appendIgnored(ignored, to: &body)
        ResponseJSON.append("}}", to: &body)

        // The ETag names this exact answer: the bundle version and a hash of the document (the
        // answer depends on the context and, through schedules, on time).
        var tag = "\"\(bundle.version)-"
        let hash = body.withUnsafeBytes { XXH3.hash64($0) }
        let hex = String(hash, radix: 16)
        tag += String(repeating: "0", count: 16 - hex.count) + hex + "\""
        response.addHeader("ETag", tag)
        response.setContentType("application/json")
        if let ifNoneMatch = request.header("If-None-Match"), Self.matches(ifNoneMatch, tag: tag) {
            response.status = .notModified
            body.removeAll(keepingCapacity: true)
        }
        response.body = body
        logExposures(.ofrepBulk, served)
    }

    /// The context's attributes of the wrong type, as `name: reason; …`, or nil when there are none.
    private func ignoredAttributesSummary(_ bundle: LoadedBundle) -> String? {
        guard !input!.ignoredAttributes.isEmpty else { return nil }
        return bundle.ignoredAttributesSummary(input!)
    }

    /// `,"ignoredAttributes":"…"` when the context had attributes of the wrong type.
    private func appendIgnored(_ ignored: String?, to body: inout [UInt8]) {
        guard let ignored else { return }
        ResponseJSON.append(#","ignoredAttributes":"#, to: &body)
        ResponseJSON.appendString(ignored, to: &body)
    }

    /// `{"key":…,"value":…,"reason":…,"variant":…,"metadata":{…}}` for one flag (see the type's
    /// documentation for the reason and variant); `ignored` (see `ignoredAttributesSummary`) goes
    /// into the metadata.
    private func writeEvaluation(_ served: ServedBundle, parameter: Int, outcome: Outcome?, ignored: String?, into body: inout [UInt8]) {
        let catalog = served.catalog
        let bundle = served.bundle
        // The experiment holding the unit decides this flag only if one of its variants sets it.
        let deciding = outcome.flatMap { catalog.experiment($0.experiment, sets: parameter) ? $0 : nil }
        ResponseJSON.append(#"{"key":""#, to: &body)
        body.append(contentsOf: catalog.parameterNames[parameter])
        ResponseJSON.append(#"","value":"#, to: &body)
        bundle.withParameterValue(parameter, outcome: outcome) { body.append(contentsOf: $0) }
        ResponseJSON.append(#","reason":""#, to: &body)
        switch deciding?.reason {
        case .split: ResponseJSON.append("SPLIT", to: &body)
        case .override: ResponseJSON.append("TARGETING_MATCH", to: &body)
        case .paused, .concluded, .scheduled: ResponseJSON.append("DISABLED", to: &body)
        case .targetingMiss, .holdout, .notEnrolled, nil: ResponseJSON.append("STATIC", to: &body)
        }
        ResponseJSON.append(#"","variant":""#, to: &body)
        if let deciding, deciding.reason.isEnrolled, let variant = catalog.variantName(deciding) {
            body.append(contentsOf: variant)
        } else {
            ResponseJSON.append("default", to: &body)
        }
        ResponseJSON.append(#"","metadata":{"bundleVersion":"#, to: &body)
        appendDecimal(bundle.version, to: &body)
        ResponseJSON.append(#","layer":""#, to: &body)
        body.append(contentsOf: catalog.layerNames[catalog.parameterLayers[parameter]])
        body.append(UInt8(ascii: "\""))
        if let deciding {
            ResponseJSON.append(#","experiment":""#, to: &body)
            body.append(contentsOf: catalog.experimentNames[Int(deciding.experiment)])
            ResponseJSON.append(#"","allotReason":""#, to: &body)
            body.append(contentsOf: deciding.reason.name.utf8)
            body.append(UInt8(ascii: "\""))
        }
        appendIgnored(ignored, to: &body)
        ResponseJSON.append("}}", to: &body)
    }

    private func missingUnitMessage(_ catalog: BundleCatalog, unitType: Int, flag: some Sequence<UInt8>) -> String {
        let name = String(decoding: Array(flag), as: UTF8.self)
        guard unitType >= 0 else { return "flag '\(name)' has no unit type" }
        let unit = catalog.unitTypeNames[unitType]
        if unitType == catalog.targetingUnit {
            return "flag '\(name)' is assigned by \(unit): the context needs a targetingKey"
        }
        return "flag '\(name)' is assigned by \(unit): the context needs a '\(unit)' key"
    }

    /// An OFREP error document: `{"key":…,"errorCode":…,"errorDetails":…}` (no key for bulk and
    /// general errors).
    private func ofrepFailure(
        _ response: inout HTTPResponseWriter, _ status: HTTPStatus, key: UnsafeRawBufferPointer?, code: StaticString, _ details: String,
        retry: Bool = false
    ) {
        response.status = status
        response.clearBody()
        response.setContentType("application/json")
        if retry { response.setRetryAfter(seconds: 1) }
        response.body.append(UInt8(ascii: "{"))
        if let key {
            ResponseJSON.append(#""key":"#, to: &response.body)
            // Request bytes: invalid UTF-8 is replaced, so the error document stays valid JSON.
            ResponseJSON.appendString(String(decoding: key, as: UTF8.self), to: &response.body)
            response.body.append(UInt8(ascii: ","))
        }
        ResponseJSON.append(#""errorCode":""#, to: &response.body)
        ResponseJSON.append(code, to: &response.body)
        ResponseJSON.append(#"","errorDetails":"#, to: &response.body)
        ResponseJSON.appendString(details, to: &response.body)
        response.body.append(UInt8(ascii: "}"))
    }

    private func ofrepMethodNotAllowed(_ response: inout HTTPResponseWriter) {
        ofrepFailure(&response, .methodNotAllowed, key: nil, code: "GENERAL", "use POST")
        response.addHeader("Allow", "POST")
    }

    private func text(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }

    /// Whether an `If-None-Match` value (`*`, or a comma-separated list of tags, weak or strong)
    /// names `tag`.
    static func matches(_ header: UnsafeRawBufferPointer, tag: String) -> Bool {
        let value = String(decoding: header, as: UTF8.self)
        for item in value.split(separator: ",") {
            var candidate = item.trimmingSpaces()
            if candidate == "*" { return true }
            if candidate.hasPrefix("W/") { candidate = candidate.dropFirst(2) }
            if candidate == tag { return true }
        }
        return false
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var result = self
        while result.first == " " || result.first == "\t" { result.removeFirst() }
        while result.last == " " || result.last == "\t" { result.removeLast() }
        return result
    }
}
