/// The layout of a decompressed bundle payload, shared by the writer (the compiler) and the reader.
///
/// `docs/bundle-format.md` is the normative description; this file is its single source of truth in
/// code. Everything is little-endian. Records are fixed-size; references into variable-size data are
/// `(offset: u32, length: u32)` pairs relative to the start of the section they point into.
public enum PayloadFormat {
    /// "ALLOTPAY": the first eight bytes of every payload.
    public static let magic: [UInt8] = Array("ALLOTPAY".utf8)
    /// The newest payload format version this code reads and writes. Versions 1 and 2 share one
    /// layout and differ only in the bucketing scheme they fix (`BucketingScheme`): version 1 is
    /// scheme 1, version 2 scheme 2. Readers accept exactly `versions`.
    public static let version: UInt32 = 2
    /// Every payload format version this code reads.
    public static let versions: ClosedRange<UInt32> = 1...2
    /// Bytes before the section directory: magic, version, section count, bundle version, created-at.
    public static let headerLength = 32
    /// Bytes per section directory entry: id, offset, length, reserved (all u32).
    public static let directoryEntryLength = 16
    /// Every section starts at a multiple of this.
    public static let sectionAlignment = 8

    /// Section ids, in the order they appear in a payload.
    public enum Section: UInt32, CaseIterable, Sendable {
        case strings = 1
        case unitTypes = 2
        case attributes = 3
        case layers = 4
        case bucketTables = 5
        case experiments = 6
        case variants = 7
        case parameterValues = 8
        case variantRuns = 9
        case parameters = 10
        case parameterIndex = 11
        case json = 12
        case targeting = 13
        case segments = 14
        case idEntries = 15
        case holdouts = 16
        case u32Lists = 17

        /// Bytes per record, for sections that are arrays of fixed-size records; nil for byte blobs.
        public var recordLength: Int? {
            switch self {
            case .strings, .json, .targeting: return nil
            case .unitTypes: return UnitTypeRecord.length
            case .attributes: return AttributeRecord.length
            case .layers: return LayerRecord.length
            case .bucketTables: return 2
            case .experiments: return ExperimentRecord.length
            case .variants: return VariantRecord.length
            case .parameterValues: return ParameterValueRecord.length
            case .variantRuns: return VariantRunRecord.length
            case .parameters: return ParameterRecord.length
            case .parameterIndex: return 4
            case .segments: return SegmentRecord.length
            case .idEntries: return IDEntryRecord.length
            case .holdouts: return HoldoutRecord.length
            case .u32Lists: return 4
            }
        }
    }

    /// `name: StrRef` (8).
    public enum UnitTypeRecord {
        public static let length = 8
        public static let name = 0
    }

    /// `name: StrRef, type: u8, reserved: u8[3]` (12).
    public enum AttributeRecord {
        public static let length = 12
        public static let name = 0
        public static let type = 8
    }

    /// A layer (56 bytes).
    public enum LayerRecord {
        public static let length = 56
        public static let name = 0  // StrRef
        public static let salt = 8  // StrRef
        public static let unitType = 16  // u32
        public static let firstExperiment = 20  // u32
        public static let experimentCount = 24  // u32
        public static let firstParameter = 28  // u32
        public static let parameterCount = 32  // u32
        public static let defaultsFragment = 36  // JSONRef
        public static let firstOverride = 44  // u32, into idEntries
        public static let overrideCount = 48  // u32
        public static let holdoutMask = 52  // u32: bit i set = holdout i applies
    }

    /// An experiment (104 bytes).
    public enum ExperimentRecord {
        public static let length = 104
        public static let name = 0  // StrRef
        public static let salt = 8  // StrRef
        public static let owner = 16  // StrRef
        public static let layer = 24  // u32
        public static let status = 28  // u8 (ExperimentStatus)
        public static let flags = 29  // u8: bit 0 has start, bit 1 has stop
        public static let start = 32  // i64, unix seconds
        public static let stop = 40  // i64, unix seconds
        public static let firstVariant = 48  // u32
        public static let variantCount = 52  // u32
        public static let firstVariantRun = 56  // u32
        public static let variantRunCount = 60  // u32
        public static let targetingOffset = 64  // u32, into targeting
        public static let targetingLength = 68  // u32, 0 = no targeting
        public static let firstSegmentRef = 72  // u32, into u32Lists
        public static let segmentRefCount = 76  // u32
        public static let trafficBuckets = 80  // u32, layer buckets owned (informational)
        public static let description = 84  // StrRef
        public static let targetingSource = 92  // StrRef: canonical text of the targeting expression
        public static let reserved = 100  // u32, 0
        public static let flagHasStart: UInt8 = 1
        public static let flagHasStop: UInt8 = 2
    }

    /// A variant (32 bytes).
    public enum VariantRecord {
        public static let length = 32
        public static let name = 0  // StrRef
        public static let experiment = 8  // u32
        public static let weight = 12  // u32, basis points of the variant space
        public static let paramsFragment = 16  // JSONRef: the layer's parameters with this variant's values
        public static let firstParameterValue = 24  // u32, into parameterValues; the layer's parameterCount entries
        public static let reserved = 28
    }

    /// A variant's value for one parameter (12 bytes).
    public enum ParameterValueRecord {
        public static let length = 12
        public static let value = 0  // JSONRef
        public static let flags = 8  // u32: bit 0 = set by the variant (not the default)
    }

    /// A run of variant buckets `[start, next run's start)` owned by one variant (4 bytes).
    public enum VariantRunRecord {
        public static let length = 4
        public static let start = 0  // u16
        public static let variant = 2  // u16, index within the experiment
    }

    /// A parameter (32 bytes).
    public enum ParameterRecord {
        public static let length = 32
        public static let name = 0  // StrRef
        public static let layer = 8  // u32
        public static let indexInLayer = 12  // u32
        public static let type = 16  // u8 (ParameterType)
        public static let defaultValue = 20  // JSONRef
        public static let reserved = 28
    }

    /// A segment (40 bytes).
    public enum SegmentRecord {
        public static let length = 40
        public static let name = 0  // StrRef
        public static let unitType = 8  // u32, noUnitType when the segment has no id list
        public static let ruleOffset = 12  // u32, into targeting
        public static let ruleLength = 16  // u32, 0 = no rule
        public static let firstID = 20  // u32, into idEntries
        public static let idCount = 24  // u32
        public static let ruleSource = 28  // StrRef: canonical text of the rule
        public static let reserved = 36  // u32, 0
        public static let noUnitType: UInt32 = 0xFFFF_FFFF
    }

    /// An entry of a sorted id table (24 bytes). Tables are sorted by `(hash, bytes)`.
    public enum IDEntryRecord {
        public static let length = 24
        public static let hash = 0  // u64: XXH3_64(id bytes), seed 0
        public static let string = 8  // StrRef
        public static let experiment = 16  // u32: overrides only, the experiment's global index
        public static let variant = 20  // u32: overrides only, the variant's index within its experiment
    }

    /// A holdout (24 bytes).
    public enum HoldoutRecord {
        public static let length = 24
        public static let name = 0  // StrRef
        public static let salt = 8  // StrRef
        public static let unitType = 16  // u32
        public static let shareBuckets = 20  // u32, 0...10,000
    }

    /// At most this many holdouts, so a layer's applicable holdouts fit a 32-bit mask.
    public static let maxHoldouts = 32
}

/// An experiment's lifecycle state.
public enum ExperimentStatus: UInt8, Sendable, CaseIterable {
    case draft = 0
    case running = 1
    case paused = 2
    case concluded = 3

    /// The name used in experiment files and JSON.
    public var name: String {
        switch self {
        case .draft: return "draft"
        case .running: return "running"
        case .paused: return "paused"
        case .concluded: return "concluded"
        }
    }

    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}

/// The type of a request attribute.
public enum AttributeType: UInt8, Sendable, CaseIterable {
    case string = 1
    case number = 2
    case bool = 3
    case semver = 4
    case stringList = 5
    /// An IPv4 or IPv6 address (`IPAddress`), tested with `ip in cidr(...)`.
    case ip = 6
    /// A point in time, as an RFC 3339 timestamp with any offset (`RFC3339`), compared in whole
    /// unix seconds.
    case datetime = 7

    /// The name used in experiment files.
    public var name: String {
        switch self {
        case .string: return "string"
        case .number: return "number"
        case .bool: return "bool"
        case .semver: return "semver"
        case .stringList: return "list"
        case .ip: return "ip"
        case .datetime: return "datetime"
        }
    }

    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}

/// The type of a parameter value.
public enum ParameterType: UInt8, Sendable, CaseIterable {
    case string = 1
    case number = 2
    case bool = 3
    case json = 4

    /// The name used in experiment files.
    public var name: String {
        switch self {
        case .string: return "string"
        case .number: return "number"
        case .bool: return "bool"
        case .json: return "json"
        }
    }

    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}
