import AllotCore
import AllotExposures
import AllotHTTP

#if canImport(Glibc)
    import Glibc
#endif

/// What every worker's handler shares: the bundle slot, metrics and the route settings.
final class EdgeShared: Sendable {
    let slot: BundleSlot
    let bundleMetrics: BundleMetrics
    let maxBatchRequests: Int
    let exposures: ExposureLog?
    /// For readiness: staleness against `--max-staleness`.
    let poller: BundlePoller?

    init(slot: BundleSlot, bundleMetrics: BundleMetrics, maxBatchRequests: Int, exposures: ExposureLog?, poller: BundlePoller? = nil) {
        self.poller = poller
        self.slot = slot
        self.bundleMetrics = bundleMetrics
        self.maxBatchRequests = maxBatchRequests
        self.exposures = exposures
    }
}

/// The route labels of `allot serve`, in the order registered with `HTTPServerMetrics`.
public enum EdgeRoute: String, CaseIterable, Sendable {
    case assign
    case assignBatch = "assign_batch"
    case ofrepFlag = "ofrep_flag"
    case ofrepBulk = "ofrep_bulk"
    case bundle
    case healthz
    case readyz
    case metrics
}

/// The handler of one worker thread: routes requests to the native, OFREP and status endpoints
/// and evaluates with this thread's reusable input and buffers, so a warm worker answers without
/// allocating or taking any lock but the bundle slot's.
///
/// Every request reads the current bundle once, at its start, and uses that reference to the end.
struct EdgeHandler: HTTPHandler {
    let shared: EdgeShared
    let routes: [HTTPRoute]

    /// The evaluator's input, made for the first bundle and reshaped for later ones.
    var input: EvaluationInput?
    var outcomes: [Outcome] = []
    /// Decoded query pairs, request keys and values.
    var scratch: [UInt8] = []
    var keyScratch: [UInt8] = []
    var valueScratch: [UInt8] = []
    var targetingKey: [UInt8] = []
    /// Per unit type, then per attribute: whether the request named it (duplicate detection,
    /// and which units an OFREP context carries).
    var seen: [Bool] = []
    /// List attributes named in a query (their repeated keys are gathered in a second pass).
    var listAttributes: [Int] = []
    /// Per layer, the index of its outcome in `outcomes`, or -1.
    var outcomeByLayer: [Int] = []
    /// This worker's side of the exposure log, when there is one.
    var exposures: ExposureRecorder?

    init(shared: EdgeShared, context: HTTPWorkerContext) {
        self.shared = shared
        self.routes = EdgeRoute.allCases.map { context.serverMetrics.route($0.rawValue) }
        exposures = shared.exposures?.makeRecorder(shard: context.metrics)
        outcomes.reserveCapacity(64)
        scratch.reserveCapacity(1024)
        keyScratch.reserveCapacity(64)
        valueScratch.reserveCapacity(256)
        targetingKey.reserveCapacity(64)
        listAttributes.reserveCapacity(8)
    }

    @inline(__always)
    func route(_ route: EdgeRoute) -> HTTPRoute {
        switch route {
        case .assign: routes[0]
        case .assignBatch: routes[1]
        case .ofrepFlag: routes[2]
        case .ofrepBulk: routes[3]
        case .bundle: routes[4]
        case .healthz: routes[5]
        case .readyz: routes[6]
        case .metrics: routes[7]
        }
    }

    mutating func handle(_ request: borrowing HTTPRequest, _ response: inout HTTPResponseWriter) {
        if request.pathEquals("/v1/assign") {
            response.route = route(.assign)
            switch request.method {
            case .get, .head: assignFromQuery(request, &response)
            case .post: assignFromBody(request, &response)
            default: methodNotAllowed(&response, allow: "GET, HEAD, POST")
            }
        } else if request.pathHasPrefix("/ofrep/v1/evaluate/flags") {
            ofrep(request, &response)
        } else if request.pathEquals("/v1/assign/batch") {
            response.route = route(.assignBatch)
            guard request.method == .post else { return methodNotAllowed(&response, allow: "POST") }
            assignBatch(request, &response)
        } else if request.pathEquals("/healthz") {
            response.route = route(.healthz)
            guard request.method == .get || request.method == .head else { return methodNotAllowed(&response, allow: "GET, HEAD") }
            health(&response)
        } else if request.pathEquals("/readyz") {
            response.route = route(.readyz)
            guard request.method == .get || request.method == .head else { return methodNotAllowed(&response, allow: "GET, HEAD") }
            readiness(&response)
        } else if request.pathEquals("/metrics") {
            response.route = route(.metrics)
            guard request.method == .get || request.method == .head else { return methodNotAllowed(&response, allow: "GET, HEAD") }
            metrics(&response)
        } else if request.pathEquals("/v1/bundle") {
            response.route = route(.bundle)
            guard request.method == .get || request.method == .head else { return methodNotAllowed(&response, allow: "GET, HEAD") }
            bundleInfo(&response)
        } else {
            response.writeError(.notFound, code: "not_found", message: "no route for \(request.pathString)")
        }
    }

    // MARK: Shared steps

    /// The input, reset and shaped for `bundle`, with `seen` cleared for its names.
    @inline(__always)
    mutating func prepare(for bundle: LoadedBundle) {
        if input == nil {
            input = EvaluationInput(for: bundle)
        } else {
            input!.reset(for: bundle)
        }
        let names = bundle.payload.unitTypeCount + bundle.payload.attributeCount
        if seen.count != names {
            seen = Array(repeating: false, count: names)
        } else {
            for i in 0..<names { seen[i] = false }
        }
        listAttributes.removeAll(keepingCapacity: true)
    }

    func methodNotAllowed(_ response: inout HTTPResponseWriter, allow: StaticString) {
        response.writeError(.methodNotAllowed, code: "method_not_allowed", message: "use \(allow)")
        response.addHeader("Allow", allow)
    }

    /// 503 before the first verified bundle is mapped.
    func notReady(_ response: inout HTTPResponseWriter) {
        response.writeError(.serviceUnavailable, code: "not_ready", message: "no verified bundle is loaded yet")
        response.setRetryAfter(seconds: 1)
    }

    /// The evaluation time: the wall clock in unix seconds (schedules are in UTC seconds).
    @inline(__always)
    static func now() -> Int64 {
        Int64(time(nil))
    }
}
