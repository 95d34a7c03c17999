public import AllotCore

/// What a targeting expression may refer to: the declared attributes, unit types and segments, with
/// the indices the bundle gives them.
public struct TargetingEnvironment: Sendable {
    /// A declared request attribute.
    public struct Attribute: Sendable {
        /// The attribute's index in the bundle's attribute table (fits the bytecode's u16 field).
        public var index: Int
        public var type: AttributeType
        /// The enumeration of allowed values; honoured for string and list attributes only.
        public var allowedValues: [String]?

        public init(index: Int, type: AttributeType, allowedValues: [String]? = nil) {
            self.index = index
            self.type = type
            self.allowedValues = allowedValues
        }
    }

    /// A segment the expression may use.
    public struct Segment: Sendable {
        /// The segment's index in the bundle's segment table.
        public var index: Int
        /// The unit type of the segment's id list, if it has one: `u in segment(...)` must name it.
        public var unitType: String?

        public init(index: Int, unitType: String? = nil) {
            self.index = index
            self.unitType = unitType
        }
    }

    public var attributes: [String: Attribute]
    /// The declared unit types, e.g. `user_id`, `device_id`.
    public var unitTypes: Set<String>
    public var segments: [String: Segment]

    public init(attributes: [String: Attribute], unitTypes: Set<String>, segments: [String: Segment] = [:]) {
        self.attributes = attributes
        self.unitTypes = unitTypes
        self.segments = segments
    }
}
