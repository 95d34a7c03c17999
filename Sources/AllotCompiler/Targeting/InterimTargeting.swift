public import AllotCore

// Interim: the targeting language lands on the `targeting` branch with exactly this API.
// Until then every targeting expression is reported as unsupported; nothing is miscompiled.

public struct TargetingEnvironment: Sendable {
    public struct Attribute: Sendable {
        public var index: Int
        public var type: AttributeType
        public var allowedValues: [String]?
        public init(index: Int, type: AttributeType, allowedValues: [String]?) {
            self.index = index
            self.type = type
            self.allowedValues = allowedValues
        }
    }
    public struct Segment: Sendable {
        public var index: Int
        public var unitType: String?
        public init(index: Int, unitType: String?) {
            self.index = index
            self.unitType = unitType
        }
    }
    public var attributes: [String: Attribute]
    public var unitTypes: Set<String>
    public var segments: [String: Segment]
    public init(attributes: [String: Attribute], unitTypes: Set<String>, segments: [String: Segment]) {
        self.attributes = attributes
        self.unitTypes = unitTypes
        self.segments = segments
    }
}

public struct TargetingExpression: Sendable, Equatable, CustomStringConvertible {
    public var description: String
}

public struct CompiledTargeting: Sendable {
    public var code: [UInt8]
    public var expression: TargetingExpression
    public var referencedSegments: [String]
    public var referencedAttributes: [String]
}

public enum TargetingCompiler {
    public static func compile(
        _ source: String, environment: TargetingEnvironment, locate: (Int) -> SourceLocation,
        intern: (String) -> (offset: UInt32, length: UInt32)
    ) -> Result<CompiledTargeting, CompilationFailed> {
        .failure(CompilationFailed([Diagnostic(at: locate(0), "targeting expressions are not supported by this build yet")]))
    }

    public static func check(_ source: String, environment: TargetingEnvironment, locate: (Int) -> SourceLocation)
        -> Result<TargetingExpression, CompilationFailed>
    {
        .failure(CompilationFailed([Diagnostic(at: locate(0), "targeting expressions are not supported by this build yet")]))
    }
}
