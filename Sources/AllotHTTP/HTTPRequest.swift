#if canImport(Glibc)
    import Glibc
#endif

/// One request, as views into the connection's read buffer.
///
/// Every `UnsafeRawBufferPointer` it hands out is valid only during the handler call that received
/// the request: do not escape them. Copy (`String(decoding:as:)`, `Array(...)`) what must outlive
/// the call.
public struct HTTPRequest: ~Copyable {
    /// The method; `.other` for tokens the engine does not know (see `methodBytes`).
    public let method: HTTPMethod
    public let version: HTTPVersion
    /// The method token as sent.
    public let methodBytes: UnsafeRawBufferPointer
    /// The request target as sent (path and query, or an absolute URI).
    public let target: UnsafeRawBufferPointer
    /// The path, still percent-encoded: `/v1/assign` for `/v1/assign?user_id=u1`.
    public let path: UnsafeRawBufferPointer
    /// The query after `?`, still encoded; empty when there is none. See `HTTPQuery`.
    public let query: UnsafeRawBufferPointer
    /// The body: Content-Length bytes, or the decoded chunks of a chunked body. Empty if none.
    public let body: UnsafeRawBufferPointer

    let head: UnsafePointer<UInt8>
    let fields: UnsafePointer<HeaderField>
    /// The number of header fields.
    public let headerCount: Int

    init(head: UnsafePointer<UInt8>, parsed: RequestHead, fields: UnsafePointer<HeaderField>, body: UnsafeRawBufferPointer) {
        self.head = head
        self.fields = fields
        self.headerCount = parsed.headerCount
        self.method = parsed.method
        self.version = parsed.version
        self.methodBytes = UnsafeRawBufferPointer(start: head, count: parsed.methodLength)
        self.target = UnsafeRawBufferPointer(start: head + parsed.targetStart, count: parsed.targetLength)
        if parsed.pathStart >= 0 {
            self.path = UnsafeRawBufferPointer(start: head + parsed.pathStart, count: parsed.pathLength)
        } else {
            self.path = UnsafeRawBufferPointer(start: StaticPath.root.utf8Start, count: 1)
        }
        if parsed.queryStart >= 0 {
            self.query = UnsafeRawBufferPointer(start: head + parsed.queryStart, count: parsed.queryLength)
        } else {
            self.query = UnsafeRawBufferPointer(start: head, count: 0)
        }
        self.body = body
    }

    /// The value of the first header field named `name` (ASCII case-insensitive), OWS trimmed.
    public func header(_ name: String) -> UnsafeRawBufferPointer? {
        var name = name
        return name.withUTF8 { wanted in
            for index in 0..<headerCount {
                let field = fields[index]
                guard Int(field.nameLength) == wanted.count else { continue }
                var same = true
                let candidate = head + Int(field.nameStart)
                for i in 0..<wanted.count where RequestHeadParser.lower(candidate[i]) != RequestHeadParser.lower(wanted[i]) {
                    same = false
                    break
                }
                if same { return UnsafeRawBufferPointer(start: head + Int(field.valueStart), count: Int(field.valueLength)) }
            }
            return nil
        }
    }

    /// The value of the first header named `name`, as a String.
    public func headerString(_ name: String) -> String? {
        header(name).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether the first header named `name` equals `value` exactly (no allocation).
    public func header(_ name: String, equals value: String) -> Bool {
        guard let found = header(name) else { return false }
        return value.utf8.elementsEqual(found)
    }

    /// The name and value of header field `index` (0..<headerCount), in the order sent.
    public func header(at index: Int) -> (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        precondition(index >= 0 && index < headerCount, "header index out of range")
        let field = fields[index]
        return (
            UnsafeRawBufferPointer(start: head + Int(field.nameStart), count: Int(field.nameLength)),
            UnsafeRawBufferPointer(start: head + Int(field.valueStart), count: Int(field.valueLength))
        )
    }

    /// The path as a String (still percent-encoded).
    public var pathString: String { String(decoding: path, as: UTF8.self) }

    /// Whether the path equals `literal` exactly, without allocating.
    @inline(__always)
    public func pathEquals(_ literal: StaticString) -> Bool {
        literal.utf8CodeUnitCount == path.count && memcmp(path.baseAddress!, literal.utf8Start, path.count) == 0
    }

    /// Whether the path starts with `prefix`, without allocating.
    @inline(__always)
    public func pathHasPrefix(_ prefix: StaticString) -> Bool {
        prefix.utf8CodeUnitCount <= path.count && memcmp(path.baseAddress!, prefix.utf8Start, prefix.utf8CodeUnitCount) == 0
    }
}

enum StaticPath {
    static let root: StaticString = "/"
}
