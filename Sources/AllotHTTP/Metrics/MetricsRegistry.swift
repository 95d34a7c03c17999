import Synchronization

/// Prometheus metrics: counters, gauges and fixed-bucket histograms, with labels, rendered in the
/// text exposition format (version 0.0.4).
///
/// Register metrics at setup (`counter`, `gauge`, `histogram`: each name and label set once; asking
/// again returns the same metric). Update them through a `MetricsShard`: a worker thread makes its
/// own with `makeShard()`, anything else uses `shared`. `render()` sums the shards.
public final class MetricsRegistry: Sendable {
    enum Kind: String {
        case counter, gauge, histogram
    }

    struct Child {
        let labels: [(String, String)]
        let slot: Int
        let bounds: [Double]
        /// Histograms: `bounds` in storage the registry owns, for the `Histogram` handle.
        let boundsPointer: UnsafeMutablePointer<Double>?
    }

    struct Family {
        let name: String
        let help: String
        let kind: Kind
        var children: [Child]
    }

    struct State: ~Copyable {
        var families: [Family] = []
        var familyIndex: [String: Int] = [:]
        var nextSlot = 0
        var shards: [MetricsShard] = []
        var boundStorage: [UnsafeMutablePointer<Double>] = []
    }

    let capacity: Int
    let state: Mutex<State>
    /// The shard any thread may update (atomic read-modify-write).
    public let shared: MetricsShard

    /// A registry with room for `slotCapacity` slots per shard (a counter takes 1, a gauge 2, a
    /// histogram its bucket count + 2).
    public init(slotCapacity: Int = 8192) {
        capacity = slotCapacity
        shared = MetricsShard(capacity: slotCapacity, singleWriter: false)
        var initial = State()
        initial.shards = [shared]
        state = Mutex(initial)
    }

    deinit {
        state.withLock { state in
            for storage in state.boundStorage { storage.deallocate() }
        }
    }

    /// A new shard for one thread, which alone may update it.
    public func makeShard() -> MetricsShard {
        let shard = MetricsShard(capacity: capacity, singleWriter: true)
        state.withLock { $0.shards.append(shard) }
        return shard
    }

    /// The counter `name` with `labels`.
    public func counter(_ name: String, help: String, labels: [(String, String)] = []) -> Counter {
        Counter(slot: register(name, help: help, kind: .counter, labels: labels, bounds: []).slot)
    }

    /// The gauge `name` with `labels`.
    public func gauge(_ name: String, help: String, labels: [(String, String)] = []) -> Gauge {
        Gauge(slot: register(name, help: help, kind: .gauge, labels: labels, bounds: []).slot)
    }

    /// The histogram `name` with `labels` and bucket upper bounds `buckets` (ascending; `+Inf`
    /// is implicit).
    public func histogram(_ name: String, help: String, buckets: [Double], labels: [(String, String)] = []) -> Histogram {
        let bounds = buckets.filter { $0.isFinite }.sorted()
        let (slot, pointer) = register(name, help: help, kind: .histogram, labels: labels, bounds: bounds)
        return Histogram(slot: slot, bounds: UnsafePointer(pointer!), boundCount: bounds.count)
    }

    /// Sets `gauge` to `value` (the shard deltas still add to it).
    public func set(_ gauge: Gauge, _ value: Double) {
        shared.store(slot: gauge.setSlot, value.bitPattern)
    }

    /// The current value of `counter`, summed over shards.
    public func value(of counter: Counter) -> UInt64 {
        state.withLock { state in state.shards.reduce(0) { $0 &+ $1.load(slot: counter.slot) } }
    }

    /// The current value of `gauge`.
    public func value(of gauge: Gauge) -> Double {
        state.withLock { state in gaugeValue(slot: gauge.slot, shards: state.shards) }
    }

    /// The number of observations and their sum.
    public func value(of histogram: Histogram) -> (count: UInt64, sum: Double) {
        state.withLock { state in
            var count: UInt64 = 0
            var sum = 0.0
            for shard in state.shards {
                for bucket in 0...histogram.boundCount { count &+= shard.load(slot: histogram.slot + bucket) }
                sum += Double(bitPattern: shard.load(slot: histogram.slot + histogram.boundCount + 1))
            }
            return (count, sum)
        }
    }

    private func gaugeValue(slot: Int, shards: [MetricsShard]) -> Double {
        var delta: Int64 = 0
        for shard in shards { delta &+= Int64(bitPattern: shard.load(slot: slot)) }
        return Double(delta) + Double(bitPattern: shared.load(slot: slot + 1))
    }

    private func register(
        _ name: String, help: String, kind: Kind, labels: [(String, String)], bounds: [Double]
    ) -> (slot: Int, bounds: UnsafeMutablePointer<Double>?) {
        precondition(Self.isValidName(name), "metric name \(name) is not [a-zA-Z_:][a-zA-Z0-9_:]*")
        for (label, _) in labels {
            precondition(Self.isValidName(label) && !label.contains(":"), "label name \(label) is not valid")
        }
        return state.withLock { state in
            if let index = state.familyIndex[name] {
                precondition(state.families[index].kind == kind, "metric \(name) registered as \(state.families[index].kind)")
                if let existing = state.families[index].children.first(where: { Self.sameLabels($0.labels, labels) }) {
                    return (existing.slot, existing.boundsPointer)
                }
            }
            let width =
                switch kind {
                case .counter: 1
                case .gauge: 2
                case .histogram: bounds.count + 2
                }
            precondition(state.nextSlot + width <= capacity, "metrics registry is full (\(capacity) slots)")
            let slot = state.nextSlot
            state.nextSlot += width
            var pointer: UnsafeMutablePointer<Double>?
            if kind == .histogram {
                pointer = UnsafeMutablePointer<Double>.allocate(capacity: max(bounds.count, 1))
                pointer!.initialize(repeating: .infinity, count: max(bounds.count, 1))
                for (index, bound) in bounds.enumerated() { pointer![index] = bound }
                state.boundStorage.append(pointer!)
            }
            let child = Child(labels: labels, slot: slot, bounds: bounds, boundsPointer: pointer)
            if let index = state.familyIndex[name] {
                state.families[index].children.append(child)
            } else {
                state.familyIndex[name] = state.families.count
                state.families.append(Family(name: name, help: help, kind: kind, children: [child]))
            }
            return (slot, pointer)
        }
    }

    private static func sameLabels(_ a: [(String, String)], _ b: [(String, String)]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: ":"):
                true
            default: false
            }
        }
    }

    /// The text exposition format of every metric.
    public func render() -> String {
        var output: [UInt8] = []
        render(into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Appends the text exposition format of every metric to `output`.
    public func render(into output: inout [UInt8]) {
        state.withLock { state in
            for family in state.families {
                output.append(contentsOf: "# HELP \(family.name) ".utf8)
                for byte in family.help.utf8 {
                    if byte == UInt8(ascii: "\\") {
                        output.append(contentsOf: #"\\"#.utf8)
                    } else if byte == 0x0A {
                        output.append(contentsOf: #"\n"#.utf8)
                    } else {
                        output.append(byte)
                    }
                }
                output.append(contentsOf: "\n# TYPE \(family.name) \(family.kind.rawValue)\n".utf8)
                for child in family.children {
                    switch family.kind {
                    case .counter:
                        let total = state.shards.reduce(UInt64(0)) { $0 &+ $1.load(slot: child.slot) }
                        Self.sample(family.name, "", child.labels, nil, value: String(total), into: &output)
                    case .gauge:
                        let value = gaugeValue(slot: child.slot, shards: state.shards)
                        Self.sample(family.name, "", child.labels, nil, value: Self.format(value), into: &output)
                    case .histogram:
                        var cumulative: UInt64 = 0
                        var sum = 0.0
                        for bucket in 0...child.bounds.count {
                            for shard in state.shards { cumulative &+= shard.load(slot: child.slot + bucket) }
                            let le = bucket < child.bounds.count ? Self.format(child.bounds[bucket]) : "+Inf"
                            Self.sample(family.name, "_bucket", child.labels, le, value: String(cumulative), into: &output)
                        }
                        for shard in state.shards { sum += Double(bitPattern: shard.load(slot: child.slot + child.bounds.count + 1)) }
                        Self.sample(family.name, "_sum", child.labels, nil, value: Self.format(sum), into: &output)
                        Self.sample(family.name, "_count", child.labels, nil, value: String(cumulative), into: &output)
                    }
                }
            }
        }
    }

    /// Appends one sample line, `name{labels} value`, with labels escaped as `render` escapes
    /// them: for collectors whose series come and go with a bundle, and so live outside the
    /// registry (whose metrics live as long as it does).
    public static func appendSample(_ name: String, labels: [(String, String)], value: Double, into output: inout [UInt8]) {
        sample(name, "", labels, nil, value: format(value), into: &output)
    }

    private static func sample(
        _ name: String, _ suffix: String, _ labels: [(String, String)], _ le: String?, value: String, into output: inout [UInt8]
    ) {
        output.append(contentsOf: name.utf8)
        output.append(contentsOf: suffix.utf8)
        if !labels.isEmpty || le != nil {
            output.append(UInt8(ascii: "{"))
            var first = true
            for (label, labelValue) in labels {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                appendLabel(label, labelValue, into: &output)
            }
            if let le {
                if !first { output.append(UInt8(ascii: ",")) }
                appendLabel("le", le, into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
        output.append(UInt8(ascii: " "))
        output.append(contentsOf: value.utf8)
        output.append(0x0A)
    }

    private static func appendLabel(_ name: String, _ value: String, into output: inout [UInt8]) {
        output.append(contentsOf: name.utf8)
        output.append(contentsOf: "=\"".utf8)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): output.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\""): output.append(contentsOf: #"\""#.utf8)
            case 0x0A: output.append(contentsOf: #"\n"#.utf8)
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    /// A Prometheus float: integers without a fraction, `+Inf`, `-Inf`, `NaN`.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
