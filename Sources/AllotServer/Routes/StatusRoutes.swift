import AllotCore
import AllotHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// `GET /v1/bundle`, `/healthz`, `/readyz`, `/metrics`.
extension EdgeHandler {
    /// Always 200 while the process serves HTTP.
    func health(_ response: inout HTTPResponseWriter) {
        response.setContentType("application/json")
        response.write(#"{"status":"ok"}"#)
    }

    /// 200 once a verified bundle is mapped, 503 before.
    func readiness(_ response: inout HTTPResponseWriter) {
        response.setContentType("application/json")
        guard let served = shared.slot.current() else {
            response.status = .serviceUnavailable
            response.setRetryAfter(seconds: 1)
            response.write(#"{"status":"not_ready","message":"no verified bundle is loaded yet"}"#)
            return
        }
        if let poller = shared.poller, poller.isStale(now: Self.now()) {
            response.status = .serviceUnavailable
            response.write(
                #"{"status":"stale","message":"the newest verified manifest is older than --max-staleness","staleness_seconds":"#)
            ResponseJSON.appendInteger(poller.staleness(now: Self.now()), to: &response.body)
            response.write(#","version":"#)
            appendDecimal(served.version, to: &response.body)
            response.write("}")
            return
        }
        response.write(#"{"status":"ready","version":"#)
        appendDecimal(served.version, to: &response.body)
        response.write("}")
    }

    /// Prometheus text format: the engine's, the bundle lifecycle's and any other metric of the registry.
    func metrics(_ response: inout HTTPResponseWriter) {
        shared.bundleMetrics.updateAge(shared.slot.current())
        shared.bundleMetrics.updateStale(shared.poller?.isStale(now: Self.now()) ?? false)
        shared.exposures?.updateGauges()
        response.setContentType("text/plain; version=0.0.4; charset=utf-8")
        shared.bundleMetrics.registry.render(into: &response.body)
        shared.exposures?.renderAssignments(into: &response.body)
    }

    /// What is served: version, created-at, key id, age, where it came from.
    func bundleInfo(_ response: inout HTTPResponseWriter) {
        guard let served = shared.slot.current() else { return notReady(&response) }
        let bundle = served.bundle
        let now = Self.now()
        var body: [UInt8] = []
        ResponseJSON.append(#"{"version":"#, to: &body)
        appendDecimal(bundle.version, to: &body)
        ResponseJSON.append(#","created_at":"#, to: &body)
        ResponseJSON.appendString(RFC3339.format(bundle.createdAt), to: &body)
        ResponseJSON.append(#","created_at_unix":"#, to: &body)
        ResponseJSON.appendInteger(bundle.createdAt, to: &body)
        ResponseJSON.append(#","age_seconds":"#, to: &body)
        ResponseJSON.appendInteger(now - bundle.createdAt, to: &body)
        ResponseJSON.append(#","key_id":"#, to: &body)
        ResponseJSON.appendString(bundle.header.keyID.description, to: &body)
        ResponseJSON.append(#","source":"#, to: &body)
        ResponseJSON.appendString(served.source, to: &body)
        ResponseJSON.append(#","installed_at":"#, to: &body)
        ResponseJSON.appendString(RFC3339.format(served.installedAt), to: &body)
        ResponseJSON.append(#","envelope_blake2b":"#, to: &body)
        ResponseJSON.appendString(Hex.encode(served.envelopeHash), to: &body)
        ResponseJSON.append(#","envelope_bytes":"#, to: &body)
        appendDecimal(UInt64(bundle.header.envelopeLength), to: &body)
        ResponseJSON.append(#","payload_bytes":"#, to: &body)
        appendDecimal(UInt64(bundle.header.payloadLength), to: &body)
        ResponseJSON.append(#","layers":"#, to: &body)
        appendDecimal(UInt64(bundle.payload.layerCount), to: &body)
        ResponseJSON.append(#","experiments":"#, to: &body)
        appendDecimal(UInt64(bundle.payload.experimentCount), to: &body)
        ResponseJSON.append(#","parameters":"#, to: &body)
        appendDecimal(UInt64(bundle.payload.parameterCount), to: &body)
        ResponseJSON.append("}", to: &body)
        response.setContentType("application/json")
        response.body.append(contentsOf: body)
    }
}
