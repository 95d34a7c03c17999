/// What `allot diff` found: the value behind every output format. Encoded as JSON it is the
/// stable, documented interface for tools (`docs/review.md`, "JSON"); every share is a fraction
/// in [0, 1] of all units of the layer's unit type.
public struct DiffReport: Encodable, Sendable {
    /// The JSON schema identifier; bumped only for incompatible changes.
    public static let schemaIdentifier = "allot.diff/1"

    public var schema = DiffReport.schemaIdentifier
    public var old: Side
    public var new: Side
    /// The time start and stop windows are evaluated at (RFC 3339).
    public var evaluatedAt: String
    public var summary: Summary
    /// Experiments that were added, removed, changed, or whose units moved (sorted by name).
    public var experiments: [ExperimentDiff]
    public var parameters: [ParameterDiff]
    public var layers: [LayerDiff]
    public var holdouts: [HoldoutDiff]
    public var segments: [SegmentDiff]
    /// Every experiment that moves or un-enrolls units it had enrolled (for `--fail-on-reassign`).
    public var reassignments: [Reassignment]
    /// Caveats about the numbers (for example salts shared between roles).
    public var notes: [String]

    /// A value before and after; nil where a side does not have it.
    public struct Change<Value: Encodable & Sendable & Equatable>: Encodable, Sendable, Equatable {
        @ExplicitNull public var old: Value?
        @ExplicitNull public var new: Value?

        public init(_ old: Value?, _ new: Value?) {
            self.old = old
            self.new = new
        }

        public var changed: Bool { old != new }

    }

    public struct Side: Encodable, Sendable {
        /// The argument as given: a path or a revision.
        public var label: String
        /// `bundle`, `directory` or `revision`.
        public var kind: String
        /// The commit a revision resolved to.
        @ExplicitNull public var commit: String?
        /// The bundle version (bundles only).
        @ExplicitNull public var version: UInt64?

    }

    public struct Summary: Encodable, Sendable {
        public var experimentsAdded = 0
        public var experimentsRemoved = 0
        public var experimentsChanged = 0
        /// Declarations unchanged, but units moved (holdout, layer or allocation changes).
        public var experimentsAffected = 0
        public var experimentsUnchanged = 0
        public var parametersChanged = 0
        /// Experiments that move or un-enroll enrolled units.
        public var reassigning = 0
        /// Of those, the ones that do not acknowledge it.
        public var unacknowledged = 0
    }

    public struct ExperimentDiff: Encodable, Sendable {
        public var name: String
        /// `added`, `removed`, `changed` (the declaration changed) or `affected` (units moved
        /// because of something else: a holdout, the layer, another experiment).
        public var change: String
        public var layer: Change<String>
        public var unitType: String
        public var status: Change<String>
        /// Share of the layer's buckets the experiment holds.
        public var traffic: Change<Double>
        /// Canonical targeting expressions ("" = everyone).
        public var targeting: Change<String>
        /// When the targeting rule changed, how the new rule relates to the old one, as proved by
        /// `TargetingLogic` over every possible request: `widened` (everyone the old rule matched
        /// still matches, and maybe more), `narrowed` (the reverse), `equivalent` (rewritten,
        /// matches the same requests), `changed` (neither contains the other, or not proved);
        /// nil when the rule did not change. How many units match either rule is not known at
        /// compile time, so this is reported rather than a share.
        public var targetingChange: String?
        public var segments: Change<[String]>
        /// Start and stop times (RFC 3339).
        public var start: Change<String>
        public var stop: Change<String>
        /// The variant salt changed: an explicit fresh start (`restart:` or `salt:`).
        public var freshStart: Bool
        public var owner: Change<String>
        public var variants: [VariantDiff]
        public var overrides: OverrideDiff
        /// Why the experiment enrolls nobody at the evaluation time on each side (`paused`,
        /// `concluded`, `draft`, `not started`, `stopped`), or null when it enrolls.
        public var dormant: Change<String>
        public var impact: Impact
        /// Whether the shares hold only among units that match the targeting or segments.
        public var conditional: Bool
        public var reassigns: Bool
        public var acknowledged: Bool
        /// Changes elsewhere (a holdout, the layer, a segment) that move this experiment's units.
        public var causes: [Cause]
    }

    /// A change outside an experiment that moves its units: the declaration that changed, which
    /// is also where `acknowledge: [reassignment]` goes when the experiment itself did not change.
    public struct Cause: Encodable, Sendable, Equatable {
        /// `holdout`, `layer` or `segment`.
        public var kind: String
        public var name: String
        /// What changed, e.g. `share 5% → 10%`.
        public var change: String
        /// The declaration says `acknowledge: [reassignment]` on the new side.
        public var acknowledged: Bool

        /// `holdout 'global' (share 5% → 10%)`.
        public var description: String { "\(kind) '\(name)' (\(change))" }
        /// `holdout 'global'`: the declaration to acknowledge on.
        public var owner: String { "\(kind) '\(name)'" }
    }

    public struct Impact: Encodable, Sendable {
        /// Share of the layer's units enrolled.
        public var enrolled: Change<Double>
        public var newlyEnrolled: Double
        public var unenrolled: Double
        /// Enrolled on both sides, in a variant of another name.
        public var moved: Double
        /// Enrolled on both sides, same variant.
        public var stayed: Double
        public var moves: [Move]
    }

    public struct Move: Encodable, Sendable {
        public var from: String
        public var to: String
        public var share: Double
    }

    public struct VariantDiff: Encodable, Sendable {
        public var name: String
        /// `added`, `removed` or `changed`.
        public var change: String
        /// Share of the experiment's variant buckets.
        public var weight: Change<Double>
        /// Parameter values (JSON text) that differ, by parameter.
        public var parameters: [ValueChange]
    }

    public struct ValueChange: Encodable, Sendable {
        public var name: String
        public var value: Change<String>
    }

    public struct OverrideDiff: Encodable, Sendable {
        /// Units newly forced into a variant.
        public var added: [String]
        /// Units no longer forced.
        public var removed: [String]
        /// Units forced into another variant.
        public var changed: [String]

        public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }
    }

    public struct ParameterDiff: Encodable, Sendable {
        public var name: String
        /// `added`, `removed`, `changed` (type, default or layer) or `affected` (answers change
        /// because experiments changed).
        public var change: String
        public var layer: Change<String>
        public var unitType: String
        public var type: Change<String>
        public var defaultValue: Change<String>
        /// Share of the unit type's units whose answer changes; null when not comparable (added,
        /// removed, or moved to a layer of another unit type).
        @ExplicitNull public var answerChanged: Double?
        /// Whether the share assumes units match the targeting of the experiments involved.
        public var conditional: Bool

        enum CodingKeys: String, CodingKey {
            case name, change, layer, unitType, type, defaultValue = "default", answerChanged, conditional
        }
    }

    public struct LayerDiff: Encodable, Sendable {
        public var name: String
        /// `added`, `removed` or `changed`.
        public var change: String
        public var unitType: Change<String>
        /// The layer salt changed: every unit gets a new bucket.
        public var reshuffled: Bool
        /// Share of buckets held by running and paused experiments.
        public var allocated: Change<Double>
        public var holdouts: Change<[String]>
    }

    public struct HoldoutDiff: Encodable, Sendable {
        public var name: String
        /// `added`, `removed` or `changed`.
        public var change: String
        public var unitType: Change<String>
        /// Share of the unit type held out.
        public var share: Change<Double>
        public var saltChanged: Bool
        public var layers: Change<[String]>
        /// Share of the unit type that enters the holdout / leaves it.
        @ExplicitNull public var newlyHeldOut: Double?
        @ExplicitNull public var released: Double?

    }

    public struct SegmentDiff: Encodable, Sendable {
        public var name: String
        /// `added`, `removed` or `changed`.
        public var change: String
        public var unitType: Change<String>
        public var rule: Change<String>
        public var idsAdded: Int
        public var idsRemoved: Int
        /// Experiments (after the change, else before) whose targeting or segments use it.
        public var usedBy: [String]
    }

    public struct Reassignment: Encodable, Sendable {
        public var experiment: String
        public var layer: String
        /// Shares of the layer's units un-enrolled and moved.
        public var unenrolled: Double
        public var moved: Double
        /// Why, one sentence each.
        public var reasons: [String]
        public var acknowledged: Bool
        /// False when the experiment is gone from the new side, or the new side is a bundle.
        public var canAcknowledge: Bool
        /// Where `acknowledge: [reassignment]` goes: the experiment (`experiment 'name'`) when its
        /// own declaration changed, otherwise every declaration that caused the move
        /// (`holdout 'global'`).
        public var acknowledgeOn: [String]
        /// The changes elsewhere that move its units.
        public var causes: [Cause]
    }

    /// Whether `--fail-on-reassign` fails.
    public var hasUnacknowledgedReassignment: Bool { reassignments.contains { !$0.acknowledged } }
}
