/// Why a unit got (or did not get) a variant of an experiment.
public enum Reason: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Enrolled by the hash split.
    case split = 0
    /// Forced into a variant by an override.
    case override = 1
    /// In the experiment's buckets but failed its targeting or segments: gets the defaults.
    case targetingMiss = 2
    /// Not in the experiment's buckets (reported when an experiment is asked about by name).
    case notEnrolled = 3
    /// In the experiment's buckets but held out: gets the defaults.
    case holdout = 4
    /// In a paused experiment's buckets: gets the defaults.
    case paused = 5
    /// In buckets last owned by a concluded experiment: gets the defaults.
    case concluded = 6
    /// In the experiment's buckets outside its start/stop window: gets the defaults.
    case scheduled = 7

    /// The name in JSON answers.
    public var name: String { jsonName.description }

    /// The name in JSON answers, as static text the answer writer copies.
    public var jsonName: StaticString {
        switch self {
        case .split: return "split"
        case .override: return "override"
        case .targetingMiss: return "targeting_miss"
        case .notEnrolled: return "not_enrolled"
        case .holdout: return "holdout"
        case .paused: return "paused"
        case .concluded: return "concluded"
        case .scheduled: return "scheduled"
        }
    }

    /// `jsonName` followed by the `"}` that closes an answer's assignment entry.
    package var jsonNameClosingEntry: StaticString {
        switch self {
        case .split: return "split\"}"
        case .override: return "override\"}"
        case .targetingMiss: return "targeting_miss\"}"
        case .notEnrolled: return "not_enrolled\"}"
        case .holdout: return "holdout\"}"
        case .paused: return "paused\"}"
        case .concluded: return "concluded\"}"
        case .scheduled: return "scheduled\"}"
        }
    }

    public var description: String { name }

    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// Whether the unit receives the variant's parameters.
    public var isEnrolled: Bool { self == .split || self == .override }
}

/// What one layer decided for a unit: the experiment whose buckets (or overrides) hold it, the
/// variant if enrolled, and why. Layers where no experiment holds the unit produce no outcome.
///
/// Only evaluation makes outcomes (the initializer and setters are not public), so the indices in
/// one name records of the bundle that made it; the bundle's readers still check them (one
/// compare each) against an outcome carried over to another bundle.
public struct Outcome: Sendable, Equatable {
    /// The layer's index in the bundle.
    public package(set) var layer: Int32
    /// The experiment's index in the bundle.
    public package(set) var experiment: Int32
    /// The variant's index within the experiment, or -1 when the unit gets the defaults.
    public package(set) var variant: Int32
    public package(set) var reason: Reason

    package init(layer: Int32, experiment: Int32, variant: Int32, reason: Reason) {
        self.layer = layer
        self.experiment = experiment
        self.variant = variant
        self.reason = reason
    }
}
