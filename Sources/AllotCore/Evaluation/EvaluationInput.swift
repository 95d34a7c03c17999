/// The units and attributes of one request, laid out for the evaluator.
///
/// Reusable: `reset` keeps every buffer's capacity, so a server thread that owns one input
/// evaluates request after request without allocating. Unit ids and string values are copied into
/// one byte arena and referred to by position.
public struct EvaluationInput: Sendable {
    /// A byte range of the arena.
    struct Span: Sendable {
        var start: Int32
        var count: Int32
        static let absent = Span(start: 0, count: -1)
        var isAbsent: Bool { count < 0 }
    }

    /// A typed attribute value.
    enum Value: Sendable {
        case missing
        case string(Span)
        case number(Double)
        case bool(Bool)
        case semver(major: UInt64, minor: UInt64, patch: UInt64, prerelease: Span)
        case list(first: Int32, count: Int32)
        /// An IP address, IPv4 as IPv4-mapped IPv6 (`IPAddress`), as its high and low 64 bits
        /// (two words rather than a `UInt128`, which would give every value 16-byte alignment).
        case ip(high: UInt64, low: UInt64)
        /// A datetime, in unix seconds.
        case time(Int64)
        /// Carried by the request but not of the attribute's declared type: `has(x)` is true and
        /// every predicate reading it is false (see `ignoredAttributes`).
        case unusable
    }

    /// An attribute the request carried with a value of the wrong type, which evaluation ignored.
    public struct IgnoredAttribute: Sendable, Equatable {
        /// The attribute's index in the bundle.
        public var attribute: Int
        /// The attribute's declared type, which the value did not have.
        public var expected: AttributeType

        public init(attribute: Int, expected: AttributeType) {
            self.attribute = attribute
            self.expected = expected
        }

        /// Why the value was ignored, e.g. `expected a number`.
        public var reason: StaticString {
            switch expected {
            case .string: return "expected a string"
            case .number: return "expected a number"
            case .bool: return "expected true or false"
            case .semver: return "expected a version such as \"5.2.0\""
            case .stringList: return "expected an array of strings"
            case .ip: return "expected an IP address such as \"192.0.2.1\" or \"2001:db8::1\""
            case .datetime: return "expected an RFC 3339 time such as \"2026-12-01T09:00:00Z\""
            }
        }
    }

    var arena: [UInt8] = []
    var units: [Span]
    var values: [Value]
    var listItems: [Span] = []
    /// The attributes the request carried with a value of the wrong type, in the order met; each
    /// at most once. Such an attribute is present but unusable: every rule reading it does not match.
    public private(set) var ignoredAttributes: [IgnoredAttribute] = []
    /// Where `setJSON` decodes member names and strings; kept for the next request.
    var jsonScratch = JSONScratch()

    /// An empty input shaped for `bundle` (its unit types and attributes).
    public init(for bundle: LoadedBundle) {
        self.units = Array(repeating: .absent, count: bundle.payload.unitTypeCount)
        self.values = Array(repeating: .missing, count: bundle.payload.attributeCount)
        arena.reserveCapacity(1024)
        listItems.reserveCapacity(16)
    }

    /// Clears the input for the next request and reshapes it for `bundle`, keeping capacity.
    public mutating func reset(for bundle: LoadedBundle) {
        arena.removeAll(keepingCapacity: true)
        listItems.removeAll(keepingCapacity: true)
        ignoredAttributes.removeAll(keepingCapacity: true)
        let unitCount = bundle.payload.unitTypeCount
        let attributeCount = bundle.payload.attributeCount
        if units.count != unitCount {
            units = Array(repeating: .absent, count: unitCount)
        } else {
            for i in 0..<unitCount { units[i] = .absent }
        }
        if values.count != attributeCount {
            values = Array(repeating: .missing, count: attributeCount)
        } else {
            for i in 0..<attributeCount { values[i] = .missing }
        }
    }

    private mutating func store(_ bytes: UnsafeRawBufferPointer) -> Span {
        let start = arena.count
        arena.append(contentsOf: bytes)
        return Span(start: Int32(start), count: Int32(bytes.count))
    }

    /// Sets the id of unit type `index`. Returns false (and leaves the unit absent) when the id is
    /// empty or longer than `Bucketing.maxUnitIDLength` bytes.
    @discardableResult
    public mutating func setUnit(_ index: Int, id: UnsafeRawBufferPointer) -> Bool {
        guard id.count > 0, id.count <= Bucketing.maxUnitIDLength else { return false }
        units[index] = store(id)
        return true
    }

    /// Sets a string attribute (also used for the text form of semver attributes; see `setAttribute(_:text:type:)`).
    public mutating func setString(_ index: Int, _ bytes: UnsafeRawBufferPointer) {
        values[index] = .string(store(bytes))
    }

    /// Sets a number attribute.
    public mutating func setNumber(_ index: Int, _ value: Double) {
        values[index] = .number(value)
    }

    /// Sets a bool attribute.
    public mutating func setBool(_ index: Int, _ value: Bool) {
        values[index] = .bool(value)
    }

    /// Sets a semver attribute from its text. Returns false when the text is not a version.
    @discardableResult
    public mutating func setSemver(_ index: Int, text: UnsafeRawBufferPointer) -> Bool {
        guard let parsed = Semver.parse(text) else { return false }
        let pre = store(UnsafeRawBufferPointer(rebasing: text[parsed.prereleaseStart..<(parsed.prereleaseStart + parsed.prereleaseLength)]))
        values[index] = .semver(major: parsed.major, minor: parsed.minor, patch: parsed.patch, prerelease: pre)
        return true
    }

    /// Appends an element to list attribute `index`, creating the list if the attribute is unset.
    /// Elements of one list must be appended consecutively.
    public mutating func appendListElement(_ index: Int, _ bytes: UnsafeRawBufferPointer) {
        let span = store(bytes)
        listItems.append(span)
        switch values[index] {
        case .list(let first, let count) where Int(first) + Int(count) == listItems.count - 1:
            values[index] = .list(first: first, count: count + 1)
        default:
            values[index] = .list(first: Int32(listItems.count - 1), count: 1)
        }
    }

    /// Marks attribute `index` as carried with a value that is not of its declared type `expected`:
    /// present but unusable (`has(x)` is true, every predicate reading it false), and listed in
    /// `ignoredAttributes`.
    public mutating func setUnusable(_ index: Int, expected: AttributeType) {
        if case .unusable = values[index] { return }
        values[index] = .unusable
        ignoredAttributes.append(IgnoredAttribute(attribute: index, expected: expected))
    }

    /// Marks list attribute `index` as present and empty.
    public mutating func setEmptyList(_ index: Int) {
        values[index] = .list(first: Int32(listItems.count), count: 0)
    }

    /// Sets attribute `index` of declared `type` from text, as query strings carry it: numbers in
    /// decimal, bools as `true`/`false`, semvers as versions, IP addresses as `IPAddress` reads
    /// them, lists as comma-separated elements.
    public mutating func setAttribute(_ index: Int, text: UnsafeRawBufferPointer, type: AttributeType) throws(RequestError) {
        switch type {
        case .string:
            setString(index, text)
        case .number:
            guard let value = parseNumber(text) else { throw RequestError(.badAttribute, "attribute value is not a number") }
            setNumber(index, value)
        case .bool:
            if text.elementsEqual("true".utf8) {
                setBool(index, true)
            } else if text.elementsEqual("false".utf8) {
                setBool(index, false)
            } else {
                throw RequestError(.badAttribute, "attribute value is not true or false")
            }
        case .semver:
            guard setSemver(index, text: text) else { throw RequestError(.badAttribute, "attribute value is not a semantic version") }
        case .datetime:
            guard let seconds = RFC3339.parse(text) else { throw RequestError(.badAttribute, "attribute value is not an RFC 3339 time") }
            values[index] = .time(seconds)
        case .ip:
            guard let address = IPAddress.parse(text) else { throw RequestError(.badAttribute, "attribute value is not an IP address") }
            values[index] = .ip(high: UInt64(truncatingIfNeeded: address.value >> 64), low: UInt64(truncatingIfNeeded: address.value))
        case .stringList:
            if text.count == 0 {
                setEmptyList(index)
                return
            }
            var start = 0
            for i in 0...text.count where i == text.count || text[i] == UInt8(ascii: ",") {
                appendListElement(index, UnsafeRawBufferPointer(rebasing: text[start..<i]))
                start = i + 1
            }
        }
    }
}

/// Parses a JSON-style decimal number (`-12`, `3.5`, `1e-3`) without allocating; nil otherwise.
func parseNumber(_ text: UnsafeRawBufferPointer) -> Double? {
    guard text.count > 0, text.count <= 64 else { return nil }
    var index = 0
    if text[index] == UInt8(ascii: "-") { index += 1 }
    let digitsStart = index
    while index < text.count, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") { index += 1 }
    guard index > digitsStart else { return nil }
    if index < text.count, text[index] == UInt8(ascii: ".") {
        index += 1
        let fractionStart = index
        while index < text.count, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") { index += 1 }
        guard index > fractionStart else { return nil }
    }
    if index < text.count, text[index] == UInt8(ascii: "e") || text[index] == UInt8(ascii: "E") {
        index += 1
        if index < text.count, text[index] == UInt8(ascii: "+") || text[index] == UInt8(ascii: "-") { index += 1 }
        let exponentStart = index
        while index < text.count, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") { index += 1 }
        guard index > exponentStart else { return nil }
    }
    guard index == text.count, let value = JSONScanner.parseDouble(text), value.isFinite else { return nil }
    return value
}

/// A request the evaluator cannot take, with a stable code for the JSON error body.
public struct RequestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The code in the JSON error body. A struct around a private enum (like `BundleError.Code`),
    /// so a later version can add a code without breaking a caller's exhaustive `switch`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, CaseIterable {
            case badAttribute = "bad_attribute"
            case badUnit = "bad_unit"
            case malformedJSON = "malformed_json"
            case missingUnit = "missing_unit"
            case badRequest = "bad_request"
            case repeatedParameter = "repeated_parameter"
            case badQuery = "bad_query"
        }

        private let value: Value

        /// The code as the error body writes it, such as `bad_unit`.
        public var rawValue: String { value.rawValue }
        public var description: String { value.rawValue }

        /// Every code this version knows.
        public static var allCases: [Code] { Value.allCases.map(Code.init(value:)) }

        /// An attribute value that cannot be read as its declared type (where that fails the request).
        public static let badAttribute = Code(value: .badAttribute)
        /// A unit id that is empty, too long, or not a string.
        public static let badUnit = Code(value: .badUnit)
        /// A body that is not well-formed JSON.
        public static let malformedJSON = Code(value: .malformedJSON)
        /// No unit id at all.
        public static let missingUnit = Code(value: .missingUnit)
        /// Well-formed JSON of the wrong shape.
        public static let badRequest = Code(value: .badRequest)
        /// A unit or scalar attribute given more than once in a query string.
        public static let repeatedParameter = Code(value: .repeatedParameter)
        /// A query string with a malformed percent escape.
        public static let badQuery = Code(value: .badQuery)
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
