public import AllotCompiler
internal import AllotCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Streams exposure records and then metric events through fixed per-unit state and computes the
/// results (docs/analysis.md). Memory grows with the distinct units exposed, not with the records
/// or events read: each record updates its unit's slot, each event its unit's accumulators.
///
/// Use: `addExposures...` for every segment, then `addEvents...` for every events file, then
/// `report()`. Not `Sendable`: one thread feeds an analyzer.
public final class Analyzer {
    public let options: AnalysisOptions
    let experiments: [ExperimentState]
    /// Experiment name → index in `experiments`.
    private var experimentNames = UnitTable()
    let metrics: [MetricDeclaration]
    /// Event names (`metric` in the events) → index into `eventChannels`.
    private var eventNames = UnitTable()
    /// Per event name: the channels (metrics other than ratios) that read it.
    private var eventChannels: [[Int]] = []
    /// Per channel: its metric and attribution window (ms).
    private var channelMetric: [Int] = []
    private var channelWindow: [Int64?] = []
    private var scanner = FlatJSONScanner()
    private var eventsStarted = false
    var counters = InputCounters()

    /// One experiment's units.
    final class ExperimentState {
        let spec: ExperimentSpec
        let variantNames: [[UInt8]]
        var units = UnitTable()
        /// Per unit, together so that a record touches one cache line: first exposure (ms),
        /// variant index (-1 before a non-bulk record), flags.
        struct UnitState {
            var first: Int64 = .max
            var variant: Int16 = -1
            var flags: UInt8 = 0
        }
        var unitStates: [UnitState] = []
        /// Per unit and channel (slot = unit * channels + channel): sum of values at 2 slot, number
        /// of events at 2 slot + 1.
        var accumulators: [Double] = []
        /// The same before the first exposure (CUPED's covariate), when CUPED is on.
        var preAccumulators: [Double] = []

        func sum(_ slot: Int) -> Double { accumulators.isEmpty ? 0 : accumulators[2 * slot] }
        func count(_ slot: Int) -> Double { accumulators.isEmpty ? 0 : accumulators[2 * slot + 1] }
        func preSum(_ slot: Int) -> Double { preAccumulators.isEmpty ? 0 : preAccumulators[2 * slot] }
        func preCount(_ slot: Int) -> Double { preAccumulators.isEmpty ? 0 : preAccumulators[2 * slot + 1] }
        var records = 0

        init(_ spec: ExperimentSpec) {
            self.spec = spec
            variantNames = spec.variants.map { Array($0.name.utf8) }
        }

        static let counted: UInt8 = 1  // a non-bulk record (or any record with --include-bulk)
        static let multiple: UInt8 = 2
        static let overridden: UInt8 = 4
        static let unknownVariant: UInt8 = 8

        func variantIndex(_ bytes: UnsafeRawBufferPointer) -> Int? {
            for (index, name) in variantNames.enumerated() where name.count == bytes.count {
                if name.withUnsafeBytes({ memcmpBytes($0.baseAddress, bytes.baseAddress!, bytes.count) }) { return index }
            }
            return nil
        }

    }

    /// Counts of what the inputs held that the results leave out.
    struct InputCounters {
        var exposureRecords = 0
        var exposureFiles = 0
        var defaultsIgnored = 0
        var otherExperiments = 0
        var outsideWindow = 0
        var eventRecords = 0
        var eventFiles = 0
        var eventsUnknownMetric = 0
        var eventsUnexposedUnit = 0
        var eventsOutsideWindow = 0
        var eventsPreExposure = 0
        var eventsAttributed = 0
    }

    public init(experiments: [ExperimentSpec], metrics: [MetricDeclaration], options: AnalysisOptions = AnalysisOptions()) {
        self.options = options
        self.experiments = experiments.map(ExperimentState.init)
        self.metrics = metrics
        for experiment in experiments {
            Array(experiment.name.utf8).withUnsafeBytes { _ = experimentNames.insert($0) }
        }
        for (index, metric) in metrics.enumerated() where metric.type != .ratio {
            let event = Array(metric.eventName.utf8).withUnsafeBytes { eventNames.insert($0) }
            if event.inserted { eventChannels.append([]) }
            eventChannels[event.index].append(channelMetric.count)
            channelMetric.append(index)
            channelWindow.append(metric.windowSeconds.map { $0 * 1000 })
        }
    }

    // MARK: Exposures

    /// Reads one exposure segment file (a zstd frame of records), streaming.
    public func addExposureSegment(path: String) throws {
        let decompressor = try zstd { try ZstdDecompressor() }
        var lines = LineReader(maxLineBytes: options.maxLineBytes)
        var failure: (any Error)?
        do {
            try ChunkedFile.read(path) { chunk in
                try zstd {
                    try decompressor.decompress(chunk) { plain in
                        do {
                            try lines.feed(plain) { try self.exposure($0, number: $1, source: path) }
                            return true
                        } catch {
                            failure = error
                            return false
                        }
                    }
                }
            }
        } catch {
            throw failure.map { Self.describe($0, source: path) } ?? Self.describe(error, source: path)
        }
        guard decompressor.frameComplete else { throw AnalysisError.invalid("\(path): the zstd frame is cut short") }
        try lines.finish { try self.exposure($0, number: $1, source: path) }
        counters.exposureFiles += 1
    }

    /// Reads one exposure segment held in memory (as read from an object store).
    public func addExposureSegment(bytes: [UInt8], source: String) throws {
        let decompressor = try zstd { try ZstdDecompressor() }
        var lines = LineReader(maxLineBytes: options.maxLineBytes)
        var failure: (any Error)?
        do {
            try bytes.withUnsafeBytes { input in
                try zstd {
                    try decompressor.decompress(input) { plain in
                        do {
                            try lines.feed(plain) { try self.exposure($0, number: $1, source: source) }
                            return true
                        } catch {
                            failure = error
                            return false
                        }
                    }
                }
            }
        } catch {
            throw failure.map { Self.describe($0, source: source) } ?? Self.describe(error, source: source)
        }
        guard decompressor.frameComplete else { throw AnalysisError.invalid("\(source): the zstd frame is cut short") }
        try lines.finish { try self.exposure($0, number: $1, source: source) }
        counters.exposureFiles += 1
    }

    /// Reads uncompressed exposure records (newline-delimited JSON).
    public func addExposureRecords(_ text: UnsafeRawBufferPointer, source: String) throws {
        var lines = LineReader(maxLineBytes: options.maxLineBytes)
        do {
            try lines.feed(text) { try self.exposure($0, number: $1, source: source) }
            try lines.finish { try self.exposure($0, number: $1, source: source) }
        } catch {
            throw Self.describe(error, source: source)
        }
        counters.exposureFiles += 1
    }

    private func zstd<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ZstdError where error != .sinkFailed {
            throw AnalysisError.invalid(error.description)
        }
    }

    static func describe(_ error: any Error, source: String) -> AnalysisError {
        switch error {
        case let error as AnalysisError: return error
        case let error as LineReader.TooLong: return .invalid("\(source):\(error.line): a line longer than the limit")
        case let error as ZstdError: return .invalid("\(source): \(error.description)")
        default: return .invalid("\(source): \(error)")
        }
    }

    /// One exposure record.
    private func exposure(_ line: UnsafeRawBufferPointer, number: Int, source: String) throws {
        guard !eventsStarted else { preconditionFailure("exposures are read before events") }
        if line.isEmpty { return }
        counters.exposureRecords += 1
        var ts: Int64?
        var experiment: Int?
        var experimentSeen = false
        var unitRange: UnsafeRawBufferPointer?
        var unitCopy: [UInt8]?
        var variantRange: UnsafeRawBufferPointer?
        var variantCopy: [UInt8]?
        var variantNull = false
        var bulk = false
        var override = false
        do {
            try scanner.scan(line) { (name, value) in
                switch name.count {
                case 2 where name.equals("ts"):
                    guard case .number(let text) = value, let number = Self.integer(text) else {
                        throw FlatJSONScanner.Failure(offset: 0, message: "'ts' must be an integer")
                    }
                    ts = number
                case 4 where name.equals("unit"):
                    guard case .string(let bytes) = value, !bytes.isEmpty else {
                        throw FlatJSONScanner.Failure(offset: 0, message: "'unit' must be a string")
                    }
                    // The slice is only valid during the scan: keep a pointer into the line when it
                    // is one (no escapes), else a copy.
                    if let base = line.baseAddress, let start = bytes.baseAddress, start >= base, start + bytes.count <= base + line.count {
                        unitRange = bytes
                    } else {
                        unitCopy = Array(bytes)
                    }
                case 10 where name.equals("experiment"):
                    guard case .string(let bytes) = value else {
                        throw FlatJSONScanner.Failure(offset: 0, message: "'experiment' must be a string")
                    }
                    experimentSeen = true
                    experiment = experimentNames.index(of: bytes)
                case 7 where name.equals("variant"):
                    switch value {
                    case .string(let bytes):
                        if let base = line.baseAddress, let start = bytes.baseAddress, start >= base,
                            start + bytes.count <= base + line.count
                        {
                            variantRange = bytes
                        } else {
                            variantCopy = Array(bytes)
                        }
                    case .null: variantNull = true
                    default: throw FlatJSONScanner.Failure(offset: 0, message: "'variant' must be a string or null")
                    }
                case 3 where name.equals("api"):
                    if case .string(let bytes) = value, bytes.equals("ofrep_bulk") { bulk = true }
                case 6 where name.equals("reason"):
                    if case .string(let bytes) = value, bytes.equals("override") { override = true }
                default:
                    break
                }
            }
        } catch let failure as FlatJSONScanner.Failure {
            throw AnalysisError.invalid("\(source): record \(number): \(failure.message) (at byte \(failure.offset + 1))")
        }
        guard let ts, experimentSeen, unitRange != nil || unitCopy != nil,
            variantRange != nil || variantCopy != nil || variantNull
        else {
            throw AnalysisError.invalid(
                "\(source): record \(number): an exposure needs ts, unit, experiment and variant (docs/exposures.md)")
        }
        guard variantRange != nil || variantCopy != nil else {
            counters.defaultsIgnored += 1
            return
        }
        guard let experiment else {
            counters.otherExperiments += 1
            return
        }
        if let from = options.from, ts < from {
            counters.outsideWindow += 1
            return
        }
        if let to = options.to, ts >= to {
            counters.outsideWindow += 1
            return
        }
        let state = experiments[experiment]
        state.records += 1
        let inserted: (index: Int, inserted: Bool)
        if let unitRange {
            inserted = state.units.insert(unitRange)
        } else {
            inserted = unitCopy!.withUnsafeBytes { state.units.insert($0) }
        }
        let unit = inserted.index
        if inserted.inserted {
            state.unitStates.append(ExperimentState.UnitState())
        }
        if override { state.unitStates[unit].flags |= ExperimentState.overridden }
        if bulk && !options.includeBulk { return }
        let variantIndex = variantRange.map { state.variantIndex($0) } ?? variantCopy!.withUnsafeBytes { state.variantIndex($0) }
        guard let variant = variantIndex else {
            state.unitStates[unit].flags |= ExperimentState.unknownVariant | ExperimentState.counted
            return
        }
        state.unitStates.withUnsafeMutableBufferPointer { states in
            states[unit].flags |= ExperimentState.counted
            if states[unit].variant < 0 {
                states[unit].variant = Int16(variant)
            } else if Int(states[unit].variant) != variant {
                states[unit].flags |= ExperimentState.multiple
            }
            if ts < states[unit].first { states[unit].first = ts }
        }
    }

    // MARK: Events

    private func startEvents() {
        guard !eventsStarted else { return }
        eventsStarted = true
        let channels = channelMetric.count
        for state in experiments {
            state.accumulators = [Double](repeating: 0, count: state.units.count * channels * 2)
            if options.cupedWindowSeconds != nil {
                state.preAccumulators = [Double](repeating: 0, count: state.units.count * channels * 2)
            }
        }
    }

    /// Reads a metric events file, streaming.
    public func addEvents(path: String, format: EventFormat) throws {
        startEvents()
        var parser = EventParser(format: format, source: path)
        var lines = LineReader(maxLineBytes: options.maxLineBytes)
        do {
            try ChunkedFile.read(path) { chunk in
                try lines.feed(chunk) { try parser.parse($0, line: $1, self) }
            }
            try lines.finish { try parser.parse($0, line: $1, self) }
        } catch {
            throw Self.describe(error, source: path)
        }
        counters.eventFiles += 1
    }

    /// Reads metric events held in memory.
    public func addEvents(_ text: UnsafeRawBufferPointer, format: EventFormat, source: String) throws {
        startEvents()
        var parser = EventParser(format: format, source: source)
        var lines = LineReader(maxLineBytes: options.maxLineBytes)
        do {
            try lines.feed(text) { try parser.parse($0, line: $1, self) }
            try lines.finish { try parser.parse($0, line: $1, self) }
        } catch {
            throw Self.describe(error, source: source)
        }
        counters.eventFiles += 1
    }

    /// One event, attributed to every analysed experiment that exposed its unit before it.
    func event(unit: UnsafeRawBufferPointer, metric: UnsafeRawBufferPointer, value: Double, timestamp: Int64) {
        counters.eventRecords += 1
        guard let event = eventNames.index(of: metric) else {
            counters.eventsUnknownMetric += 1
            return
        }
        let channels = channelMetric.count
        var exposed = false
        var attributed = false
        var covariate = false
        let cupedWindow = options.cupedWindowSeconds.map { $0 * 1000 }
        if let to = options.to, timestamp >= to {
            counters.eventsOutsideWindow += 1
            return
        }
        for state in experiments {
            guard let index = state.units.index(of: unit) else { continue }
            let first = state.unitStates[index].first
            guard first != Int64.max else { continue }
            exposed = true
            guard timestamp >= first else {
                if let cupedWindow, timestamp >= first &- cupedWindow {
                    for channel in eventChannels[event] {
                        state.preAccumulators[2 * (index * channels + channel)] += value
                        state.preAccumulators[2 * (index * channels + channel) + 1] += 1
                    }
                    covariate = true
                }
                continue
            }
            for channel in eventChannels[event] {
                if let window = channelWindow[channel], timestamp >= first &+ window { continue }
                state.accumulators[2 * (index * channels + channel)] += value
                state.accumulators[2 * (index * channels + channel) + 1] += 1
                attributed = true
            }
        }
        if attributed {
            counters.eventsAttributed += 1
        } else if covariate {
            counters.eventsPreExposure += 1
        } else if exposed {
            counters.eventsOutsideWindow += 1
        } else {
            counters.eventsUnexposedUnit += 1
        }
    }

    static func integer(_ text: UnsafeRawBufferPointer) -> Int64? {
        guard !text.isEmpty, text.count <= 18 else { return nil }
        var value: Int64 = 0
        var negative = false
        for (k, byte) in text.enumerated() {
            if k == 0 && byte == UInt8(ascii: "-") {
                negative = true
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        if negative && text.count == 1 { return nil }
        return negative ? -value : value
    }
}
