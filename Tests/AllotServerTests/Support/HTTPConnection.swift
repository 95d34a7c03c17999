import AllotTestSupport
import Foundation

/// One keep-alive HTTP/1.1 connection over `RawClient`: formats requests, reads responses.
/// Blocking: use it from `onThread`.
final class HTTPConnection {
    let client: RawClient
    let port: Int

    /// Reads wait up to `timeout` seconds: a debug-build server under a full suite's load can be
    /// slow to answer, and no test here asserts that one does not.
    init(port: Int, timeout: Int = 30) throws {
        self.port = port
        client = try RawClient(port: port, timeout: timeout)
    }

    func request(_ method: String, _ target: String, body: [UInt8]? = nil, headers: [(String, String)] = []) throws -> RawResponse {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\nContent-Type: application/json\r\n" }
        head += "\r\n"
        try client.send(Array(head.utf8) + (body ?? []))
        return method == "HEAD" ? try client.readHeadResponse() : try client.readResponse()
    }

    func get(_ target: String, headers: [(String, String)] = []) throws -> RawResponse {
        try request("GET", target, headers: headers)
    }

    func post(_ target: String, _ body: String, headers: [(String, String)] = []) throws -> RawResponse {
        try request("POST", target, body: Array(body.utf8), headers: headers)
    }

    /// One request on a fresh connection.
    static func get(port: Int, _ target: String) throws -> RawResponse {
        try HTTPConnection(port: port).get(target)
    }

    static func post(port: Int, _ target: String, _ body: String, headers: [(String, String)] = []) throws -> RawResponse {
        try HTTPConnection(port: port).post(target, body, headers: headers)
    }
}

extension RawResponse {
    /// The body parsed as a JSON object.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])) as? [String: Any] ?? [:]
    }

    /// `error.code` of a native error body.
    var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
}

/// Percent-encodes a query component (everything but unreserved characters).
func queryEncode(_ text: String) -> String {
    var output = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            output.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            output += String(format: "%%%02X", byte)
        }
    }
    return output
}
