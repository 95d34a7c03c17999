/// A built-in handler that answers every GET or HEAD with the same body (405 for other methods):
/// what the benchmark serves, and a smoke test for a deployment.
public struct FixedResponseHandler: HTTPHandler, Sendable {
    public let body: [UInt8]
    public let contentType: StaticString
    public let route: HTTPRoute

    public init(body: [UInt8], contentType: StaticString = "application/json", route: HTTPRoute = .unmatched) {
        self.body = body
        self.contentType = contentType
        self.route = route
    }

    /// A JSON object of exactly `size` bytes (at least 16): `{"ok":true,"pad":"xxx…"}`.
    public static func jsonBody(size: Int) -> [UInt8] {
        let frame = #"{"ok":true,"pad":""}"#.utf8.count
        let padding = max(0, size - frame)
        return Array(#"{"ok":true,"pad":""#.utf8) + Array(repeating: UInt8(ascii: "x"), count: padding) + Array(#""}"#.utf8)
    }

    public mutating func handle(_ request: borrowing HTTPRequest, _ response: inout HTTPResponseWriter) {
        response.route = route
        guard request.method == .get || request.method == .head else {
            response.writeError(.methodNotAllowed, code: "method_not_allowed", message: "only GET and HEAD are allowed")
            response.addHeader("Allow", "GET, HEAD")
            return
        }
        response.setContentType(contentType)
        body.withUnsafeBytes { response.write($0) }
    }
}
