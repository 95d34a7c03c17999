import AllotCore

@testable import AllotCompiler

/// The attributes, unit types and segments the targeting tests compile against.
enum TargetingFixtures {
    /// Sorted by name, so an attribute's index is its position, as in a bundle.
    static let attributes: [(name: String, type: AttributeType, allowed: [String]?)] = [
        ("age", .number, nil),
        ("app_version", .semver, nil),
        ("country", .string, ["CA", "DE", "FR", "GB", "US"]),
        ("email", .string, nil),
        ("is_beta", .bool, nil),
        ("is_employee", .bool, nil),
        ("os_version", .semver, nil),
        ("roles", .stringList, ["admin", "dev", "qa"]),
        ("score", .number, nil),
        ("tags", .stringList, nil),
    ]
    static let unitTypes = ["device_id", "user_id"]
    /// In bundle order. `staff` lists user ids, `devices` device ids; `beta_rule` is the rule `is_beta`.
    static let segments: [(name: String, unitType: String?)] = [("staff", "user_id"), ("beta_rule", nil), ("devices", "device_id")]
    static let staffIDs = ["u1", "u3"]
    static let deviceIDs = ["d1"]

    static let environment: TargetingEnvironment = {
        var attributes: [String: TargetingEnvironment.Attribute] = [:]
        for (index, attribute) in Self.attributes.enumerated() {
            attributes[attribute.name] = .init(index: index, type: attribute.type, allowedValues: attribute.allowed)
        }
        var segments: [String: TargetingEnvironment.Segment] = [:]
        for (index, segment) in Self.segments.enumerated() {
            segments[segment.name] = .init(index: index, unitType: segment.unitType)
        }
        return TargetingEnvironment(attributes: attributes, unitTypes: Set(unitTypes), segments: segments)
    }()

    static func index(of attribute: String) -> Int {
        attributes.firstIndex { $0.name == attribute }!
    }

    static func type(of attribute: String) -> AttributeType {
        attributes.first { $0.name == attribute }!.type
    }
}

/// Locations as if the expression were a YAML value starting at column 1 of line 1.
func locateOnLine1(_ offset: Int) -> SourceLocation {
    SourceLocation(file: "test.yaml", line: 1, column: offset + 1)
}

/// A string pool keyed by bytes (not by Swift string equality, which is canonical equivalence).
struct TestStringPool {
    private(set) var bytes: [UInt8] = []
    private var offsets: [[UInt8]: UInt32] = [:]
    private(set) var internCalls: [String] = []

    mutating func intern(_ text: String) -> (offset: UInt32, length: UInt32) {
        internCalls.append(text)
        let utf8 = Array(text.utf8)
        if let offset = offsets[utf8] { return (offset, UInt32(utf8.count)) }
        let offset = UInt32(bytes.count)
        bytes += utf8
        offsets[utf8] = offset
        return (offset, UInt32(utf8.count))
    }

    func string(offset: UInt32, length: UInt32) -> String {
        String(decoding: bytes[Int(offset)..<Int(offset + length)], as: UTF8.self)
    }
}

enum Targeting {
    static func check(_ source: String, environment: TargetingEnvironment = TargetingFixtures.environment) -> Result<
        TargetingExpression, CompilationFailed
    > {
        TargetingCompiler.check(source, environment: environment, locate: locateOnLine1)
    }

    static func compile(
        _ source: String, environment: TargetingEnvironment = TargetingFixtures.environment, pool: inout TestStringPool
    ) -> Result<CompiledTargeting, CompilationFailed> {
        TargetingCompiler.compile(source, environment: environment, locate: locateOnLine1, intern: { pool.intern($0) })
    }

    static func compile(_ source: String, environment: TargetingEnvironment = TargetingFixtures.environment) -> Result<
        CompiledTargeting, CompilationFailed
    > {
        var pool = TestStringPool()
        return compile(source, environment: environment, pool: &pool)
    }

    /// The diagnostics of a source that must fail.
    static func diagnostics(_ source: String, environment: TargetingEnvironment = TargetingFixtures.environment) -> [Diagnostic] {
        switch check(source, environment: environment) {
        case .success: return []
        case .failure(let failure): return failure.diagnostics
        }
    }

    /// The canonical text of a source that must check, or the rendered diagnostics.
    static func canonical(_ source: String, environment: TargetingEnvironment = TargetingFixtures.environment) -> String {
        switch check(source, environment: environment) {
        case .success(let expression): return expression.description
        case .failure(let failure): return "FAILED: " + failure.diagnostics.map { "\($0) [\($0.hint ?? "")]" }.joined(separator: "; ")
        }
    }
}
