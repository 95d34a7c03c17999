/// How a metric turns a unit's events into the unit's value (docs/analysis.md, "Metrics").
public enum MetricType: String, Sendable, CaseIterable {
    /// 1 if the unit has any event of the metric in its attribution window, else 0.
    case conversion
    /// The sum of the values of the unit's events (0 without events).
    case sum
    /// The mean value per event: the sum of the values over the number of events, pooled over the
    /// variant's units (a ratio of per-unit sum to per-unit count, by the delta method).
    case mean
    /// The ratio of two other metrics' totals (`numerator` / `denominator`), by the delta method.
    case ratio
}

/// Which way a metric is better.
public enum MetricDirection: String, Sendable, CaseIterable {
    case increase
    case decrease
}

/// What a metric is for in a decision.
public enum MetricRole: String, Sendable, CaseIterable {
    /// What the experiment was run to move.
    case primary
    /// What must not get worse.
    case guardrail
}

/// `kind: Metric`: how to turn metric events into a per-unit value. Not part of the bundle: read
/// by `allot analyze`.
public struct MetricDeclaration: Sendable {
    public var name: Located<String>
    public var type: MetricType
    /// For `ratio`: the metrics whose totals are divided.
    /// The `metric` of the events it reads (default: its name); several metrics can read one event.
    public var event: Located<String>?
    public var numerator: Located<String>?
    public var denominator: Located<String>?
    public var direction: MetricDirection
    public var role: MetricRole
    /// Events count only this many seconds after the unit's first exposure (nil: no limit).
    public var windowSeconds: Int64?
    public var description: String?

    /// The `metric` value of the events this metric reads.
    public var eventName: String { event?.value ?? name.value }

    public init(
        name: Located<String>, type: MetricType, event: Located<String>? = nil, numerator: Located<String>? = nil,
        denominator: Located<String>? = nil,
        direction: MetricDirection = .increase, role: MetricRole = .primary, windowSeconds: Int64? = nil, description: String? = nil
    ) {
        self.name = name
        self.type = type
        self.event = event
        self.numerator = numerator
        self.denominator = denominator
        self.direction = direction
        self.role = role
        self.windowSeconds = windowSeconds
        self.description = description
    }
}

/// Attribution windows: a whole number and a unit, `30m`, `24h`, `7d`.
public enum MetricWindow {
    /// Seconds in `text`, or nil when it is not a positive duration of at most 366 days.
    public static func seconds(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, let unit = bytes.last else { return nil }
        let digits = bytes.dropLast()
        guard digits.count <= 6, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        let number = digits.reduce(Int64(0)) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
        let scale: Int64
        switch unit {
        case UInt8(ascii: "s"): scale = 1
        case UInt8(ascii: "m"): scale = 60
        case UInt8(ascii: "h"): scale = 3600
        case UInt8(ascii: "d"): scale = 86400
        default: return nil
        }
        let seconds = number * scale
        guard seconds > 0, seconds <= 366 * 86400 else { return nil }
        return seconds
    }
}
