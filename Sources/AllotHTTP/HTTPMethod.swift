/// The request method. Methods the engine does not know arrive as `.other`; the raw token is
/// `HTTPRequest.methodBytes`, and the handler decides (typically 501 or 405).
public enum HTTPMethod: UInt8, Sendable, Hashable, CustomStringConvertible {
    case get, head, post, put, delete, options, patch, trace, connect, other

    public var description: String {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .delete: "DELETE"
        case .options: "OPTIONS"
        case .patch: "PATCH"
        case .trace: "TRACE"
        case .connect: "CONNECT"
        case .other: "OTHER"
        }
    }

    /// Recognises the method token (case-sensitive, as RFC 9110 says).
    static func parse(_ p: UnsafePointer<UInt8>, _ length: Int) -> HTTPMethod {
        @inline(__always) func equals(_ literal: StaticString) -> Bool {
            literal.utf8CodeUnitCount == length && memcmp(p, literal.utf8Start, length) == 0
        }
        switch length {
        case 3: return equals("GET") ? .get : equals("PUT") ? .put : .other
        case 4: return equals("POST") ? .post : equals("HEAD") ? .head : .other
        case 5: return equals("PATCH") ? .patch : equals("TRACE") ? .trace : .other
        case 6: return equals("DELETE") ? .delete : .other
        case 7: return equals("OPTIONS") ? .options : equals("CONNECT") ? .connect : .other
        default: return .other
        }
    }
}

/// HTTP/1.0 or HTTP/1.1. Other versions are answered with 505 before a handler runs.
public enum HTTPVersion: UInt8, Sendable, Hashable, CustomStringConvertible {
    case http10, http11

    public var description: String { self == .http10 ? "HTTP/1.0" : "HTTP/1.1" }
}

#if canImport(Glibc)
    import Glibc
#endif
