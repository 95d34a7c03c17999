import AllotCore
import AllotExposures
import AllotHTTP

/// The native API: `GET /v1/assign?…`, `POST /v1/assign`, `POST /v1/assign/batch`. Each answer is
/// the document `allot assign --json` prints for the same request (`LoadedBundle.writeAnswer`).
extension EdgeHandler {
    /// `GET /v1/assign?user_id=u1&country=US&tags=a&tags=b`.
    ///
    /// Keys naming a declared unit type are unit ids; keys naming a declared attribute are parsed
    /// by its declared type (numbers in decimal, `true`/`false`, versions, lists as repeated keys
    /// and/or comma-separated values). Other keys are ignored, so a client keeps working when an
    /// experiment (and the attribute it used) is removed. A value of the wrong type makes the
    /// attribute present but unusable (the answer's `ignored_attributes` names it). A repeated
    /// unit or scalar attribute, a bad unit id or a malformed percent escape is a 400.
    mutating func assignFromQuery(_ request: borrowing HTTPRequest, _ response: inout HTTPResponseWriter) {
        guard let served = shared.slot.current() else { return notReady(&response) }
        let bundle = served.bundle
        prepare(for: bundle)
        if let failure = Self.readQuery(
            request.query, bundle: bundle, input: &input!, scratch: &scratch, seen: &seen, lists: &listAttributes)
        {
            response.writeError(.badRequest, code: failure.code.rawValue, message: failure.message)
            return
        }
        bundle.evaluate(input!, now: Self.now(), into: &outcomes)
        response.setContentType("application/json")
        Self.writeAnswer(bundle, outcomes, input: input!, into: &response)
        // HEAD sends no answer: nobody was exposed to anything.
        if request.method != .head { logExposures(.native, served) }
    }

    /// `POST /v1/assign` with `{"units":{…},"attributes":{…}}` (`EvaluationInput.setJSON` rules).
    mutating func assignFromBody(_ request: borrowing HTTPRequest, _ response: inout HTTPResponseWriter) {
        guard let served = shared.slot.current() else { return notReady(&response) }
        let bundle = served.bundle
        prepare(for: bundle)
        do {
            try input!.setJSON(request.body, bundle: bundle)
        } catch {
            response.writeError(.badRequest, code: error.code.rawValue, message: error.message)
            return
        }
        bundle.evaluate(input!, now: Self.now(), into: &outcomes)
        response.setContentType("application/json")
        Self.writeAnswer(bundle, outcomes, input: input!, into: &response)
        logExposures(.native, served)
    }

    /// Appends the answer (`LoadedBundle.writeAnswer`) to the body. Without ignored attributes,
    /// the common case, it is written in place into room for its bound: answers at scale are
    /// kilobytes, and appending them to `body` would fill that room with zeroes first.
    @inline(__always)
    static func writeAnswer(
        _ bundle: LoadedBundle, _ outcomes: [Outcome], input: borrowing EvaluationInput, into response: inout HTTPResponseWriter
    ) {
        guard input.ignoredAttributes.isEmpty else {
            return bundle.writeAnswer(outcomes, input: input, into: &response.body)
        }
        response.appendBody(maxLength: bundle.answerBound(outcomes.count)) { room in
            guard let written = bundle.writeAnswer(outcomes, to: room) else {
                preconditionFailure("an answer is longer than its bound")
            }
            return written
        }
    }

    /// `POST /v1/assign/batch` with `{"requests":[{…},{…}]}`: `{"version":N,"answers":[…]}`, one
    /// answer per request in order, all from the same bundle. A request that cannot be evaluated
    /// gets `{"error":{"code":…,"message":…}}` in its place; a body that is not this shape, or holds
    /// more than the configured number of requests, is a 400.
    mutating func assignBatch(_ request: borrowing HTTPRequest, _ response: inout HTTPResponseWriter) {
        guard let served = shared.slot.current() else { return notReady(&response) }
        let bundle = served.bundle
        prepare(for: bundle)
        let now = Self.now()
        // The batch's exposures become visible only if the whole batch is answered.
        exposures?.begin(served.catalog.exposureNames)
        defer { exposures?.abandon() }
        var scanner = JSONScanner(request.body)
        var foundRequests = false
        response.setContentType("application/json")
        ResponseJSON.append(#"{"version":"#, to: &response.body)
        appendDecimal(bundle.version, to: &response.body)
        ResponseJSON.append(#","answers":["#, to: &response.body)
        do {
            guard try scanner.beginObject() else { return batchShapeError(&response) }
            repeat {
                try scanner.readKey(into: &keyScratch)
                guard keyScratch.elementsEqual("requests".utf8) else {
                    try scanner.skipValue()
                    continue
                }
                guard !foundRequests else {
                    response.writeError(.badRequest, code: "bad_request", message: "\"requests\" is given twice")
                    return
                }
                foundRequests = true
                guard scanner.peek() == UInt8(ascii: "[") else { return batchShapeError(&response) }
                guard try scanner.beginArray() else { continue }
                var count = 0
                repeat {
                    let range = try scanner.skipValue(depth: 1)
                    count += 1
                    guard count <= shared.maxBatchRequests else {
                        response.writeError(
                            .badRequest, code: "batch_too_large",
                            message: "a batch holds at most \(shared.maxBatchRequests) requests (see --max-batch)")
                        return
                    }
                    if count > 1 { response.body.append(UInt8(ascii: ",")) }
                    do {
                        try input!.setJSON(UnsafeRawBufferPointer(rebasing: request.body[range]), bundle: bundle)
                        bundle.evaluate(input!, now: now, into: &outcomes)
                        Self.writeAnswer(bundle, outcomes, input: input!, into: &response)
                        exposures?.add(.batch, input: input!, outcomes: outcomes)
                    } catch {
                        ErrorBody.write(code: error.code.rawValue.utf8, message: error.message.utf8, into: &response.body)
                    }
                } while try scanner.nextElement()
            } while try scanner.nextMember()
            try scanner.finish()
        } catch {
            response.writeError(.badRequest, code: "malformed_json", message: error.message)
            return
        }
        guard foundRequests else { return batchShapeError(&response) }
        ResponseJSON.append("]}", to: &response.body)
        exposures?.commit()
    }

    /// Records the decisions in `outcomes` (one request's) in the exposure log, if there is one.
    @inline(__always)
    mutating func logExposures(_ api: ExposureAPI, _ served: ServedBundle) {
        guard exposures != nil else { return }
        exposures!.begin(served.catalog.exposureNames)
        exposures!.add(api, input: input!, outcomes: outcomes)
        exposures!.commit()
    }

    private func batchShapeError(_ response: inout HTTPResponseWriter) {
        response.writeError(
            .badRequest, code: "bad_request", message: #"the body must be {"requests":[{"units":{...},"attributes":{...}},...]}"#)
    }

    /// Fills `input` from a query string (see `assignFromQuery`). Returns the first failure.
    static func readQuery(
        _ query: UnsafeRawBufferPointer, bundle: LoadedBundle, input: inout EvaluationInput, scratch: inout [UInt8], seen: inout [Bool],
        lists: inout [Int]
    ) -> RequestError? {
        let unitCount = bundle.payload.unitTypeCount
        var failure: RequestError?
        let wellFormed = HTTPQuery.forEachPair(query, scratch: &scratch) { key, value in
            guard failure == nil else { return }
            if let unit = bundle.unitTypeIndex(named: key) {
                guard !seen[unit] else {
                    failure = RequestError(.repeatedParameter, "unit '\(text(key))' is given more than once")
                    return
                }
                seen[unit] = true
                guard input.setUnit(unit, id: value) else {
                    failure = RequestError(.badUnit, "unit '\(text(key))' must be 1-\(Bucketing.maxUnitIDLength) bytes")
                    return
                }
            } else if let attribute = bundle.attributeIndex(named: key) {
                let type = bundle.attributeType(attribute)
                if type == .stringList {
                    if !seen[unitCount + attribute] { lists.append(attribute) }
                    seen[unitCount + attribute] = true
                    return
                }
                guard !seen[unitCount + attribute] else {
                    failure = RequestError(.repeatedParameter, "attribute '\(text(key))' is given more than once")
                    return
                }
                seen[unitCount + attribute] = true
                do throws(RequestError) {
                    try input.setAttribute(attribute, text: value, type: type)
                } catch {
                    // Present but unusable: the rules reading it do not match; the answer says so.
                    input.setUnusable(attribute, expected: type)
                }
            }
        }
        guard wellFormed else { return RequestError(.badQuery, "the query string has a malformed percent escape") }
        if let failure { return failure }
        // Lists: every occurrence of the key, in order, each split on commas.
        for attribute in lists {
            input.setEmptyList(attribute)
            _ = HTTPQuery.forEachPair(query, scratch: &scratch) { key, value in
                guard value.count > 0, bundle.attributeIndex(named: key) == attribute else { return }
                var start = 0
                for i in 0...value.count where i == value.count || value[i] == UInt8(ascii: ",") {
                    input.appendListElement(attribute, UnsafeRawBufferPointer(rebasing: value[start..<i]))
                    start = i + 1
                }
            }
        }
        return nil
    }

    private static func text(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
