internal import AllotCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Parses metric events, one line at a time, at the byte level (docs/analysis.md, "Metric events"):
/// CSV with a header naming `unit_id`, `metric`, `value` and `timestamp` (in any order; other
/// columns ignored; RFC 4180 quoting), or NDJSON objects with those members. `timestamp` is
/// milliseconds since the epoch or an RFC 3339 time; `value` is a number, or empty / null / absent
/// for 1.
struct EventParser {
    let format: EventFormat
    let source: String
    private var scanner = FlatJSONScanner()
    /// CSV: the columns of the four fields, once the header is read.
    private var columns: (unit: Int, metric: Int, value: Int, timestamp: Int)?
    private var fields: [(start: Int, end: Int, quoted: Bool)] = []

    init(format: EventFormat, source: String) {
        self.format = format
        self.source = source
    }

    mutating func parse(_ line: UnsafeRawBufferPointer, line number: Int, _ analyzer: Analyzer) throws {
        var line = line
        if let last = line.last, last == 13 { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
        if line.isEmpty { return }
        switch format {
        case .ndjson: try parseJSON(line, number, analyzer)
        case .csv: try parseCSV(line, number, analyzer)
        }
    }

    private func fail(_ number: Int, _ message: String) -> AnalysisError {
        .invalid("\(source):\(number): \(message) (docs/analysis.md, \"Metric events\")")
    }

    // MARK: NDJSON

    private mutating func parseJSON(_ line: UnsafeRawBufferPointer, _ number: Int, _ analyzer: Analyzer) throws {
        var unit: [UInt8]?
        var metric: [UInt8]?
        var value = 1.0
        var timestamp: Int64?
        var problem: String?
        do {
            try scanner.scan(line) { (name, member) in
                if name.equals("unit_id") {
                    guard case .string(let bytes) = member, !bytes.isEmpty else {
                        throw FlatJSONScanner.Failure(offset: 0, message: "'unit_id' must be a non-empty string")
                    }
                    unit = Array(bytes)
                } else if name.equals("metric") {
                    guard case .string(let bytes) = member else {
                        throw FlatJSONScanner.Failure(offset: 0, message: "'metric' must be a string")
                    }
                    metric = Array(bytes)
                } else if name.equals("value") {
                    switch member {
                    case .number(let text):
                        guard let number = Self.double(text) else {
                            throw FlatJSONScanner.Failure(offset: 0, message: "'value' is not a number")
                        }
                        value = number
                    case .null: value = 1
                    default: throw FlatJSONScanner.Failure(offset: 0, message: "'value' must be a number or null")
                    }
                } else if name.equals("timestamp") {
                    switch member {
                    case .number(let text): timestamp = Analyzer.integer(text)
                    case .string(let text): timestamp = Self.time(text)
                    default: break
                    }
                    if timestamp == nil { problem = "'timestamp' must be milliseconds since the epoch or an RFC 3339 time" }
                }
            }
        } catch let failure as FlatJSONScanner.Failure {
            throw fail(number, failure.message)
        }
        if let problem { throw fail(number, problem) }
        guard let unit, let metric, let timestamp else { throw fail(number, "an event needs unit_id, metric and timestamp") }
        unit.withUnsafeBytes { unitBytes in
            metric.withUnsafeBytes { metricBytes in
                analyzer.event(unit: unitBytes, metric: metricBytes, value: value, timestamp: timestamp)
            }
        }
    }

    // MARK: CSV

    private mutating func parseCSV(_ line: UnsafeRawBufferPointer, _ number: Int, _ analyzer: Analyzer) throws {
        try split(line, number)
        guard let columns else {
            // The header.
            var names: [String] = []
            for field in fields { names.append(text(line, field)) }
            func column(_ name: String) throws -> Int {
                guard let index = names.firstIndex(of: name) else {
                    throw fail(number, "the header has no '\(name)' column (it has \(names.joined(separator: ", ")))")
                }
                return index
            }
            let timestampColumn = try column("timestamp")
            self.columns = (try column("unit_id"), try column("metric"), names.firstIndex(of: "value") ?? -1, timestampColumn)
            return
        }
        let needed = max(columns.unit, columns.metric, columns.value, columns.timestamp)
        guard fields.count > needed else { throw fail(number, "\(fields.count) fields; the header has more") }
        let unitField = fields[columns.unit]
        let metricField = fields[columns.metric]
        guard unitField.end > unitField.start else { throw fail(number, "an empty unit_id") }
        var value = 1.0
        if columns.value >= 0 {
            let field = fields[columns.value]
            if field.end > field.start {
                guard let parsed = Self.double(UnsafeRawBufferPointer(rebasing: line[field.start..<field.end])) else {
                    throw fail(number, "'\(text(line, field))' is not a number")
                }
                value = parsed
            }
        }
        let timeField = fields[columns.timestamp]
        let timeBytes = UnsafeRawBufferPointer(rebasing: line[timeField.start..<timeField.end])
        guard let timestamp = Analyzer.integer(timeBytes) ?? Self.time(timeBytes) else {
            throw fail(number, "'\(text(line, timeField))' is not a time: give milliseconds since the epoch or an RFC 3339 time")
        }
        if unitField.quoted || metricField.quoted {
            let unit = Array(text(line, unitField).utf8)
            let metric = Array(text(line, metricField).utf8)
            unit.withUnsafeBytes { u in
                metric.withUnsafeBytes { m in analyzer.event(unit: u, metric: m, value: value, timestamp: timestamp) }
            }
        } else {
            analyzer.event(
                unit: UnsafeRawBufferPointer(rebasing: line[unitField.start..<unitField.end]),
                metric: UnsafeRawBufferPointer(rebasing: line[metricField.start..<metricField.end]), value: value, timestamp: timestamp)
        }
    }

    /// Splits a CSV line into field ranges; a quoted field's range is inside its quotes.
    private mutating func split(_ line: UnsafeRawBufferPointer, _ number: Int) throws {
        fields.removeAll(keepingCapacity: true)
        var i = 0
        let count = line.count
        while true {
            if i < count, line[i] == UInt8(ascii: "\"") {
                var k = i + 1
                while true {
                    guard k < count else { throw fail(number, "an unterminated quoted field") }
                    if line[k] == UInt8(ascii: "\"") {
                        if k + 1 < count, line[k + 1] == UInt8(ascii: "\"") {
                            k += 2
                            continue
                        }
                        break
                    }
                    k += 1
                }
                fields.append((i + 1, k, true))
                i = k + 1
                guard i == count || line[i] == UInt8(ascii: ",") else { throw fail(number, "text after a quoted field") }
            } else {
                var k = i
                while k < count, line[k] != UInt8(ascii: ",") { k += 1 }
                fields.append((i, k, false))
                i = k
            }
            if i >= count { return }
            i += 1  // the comma
        }
    }

    /// A field's text, quotes undone.
    private func text(_ line: UnsafeRawBufferPointer, _ field: (start: Int, end: Int, quoted: Bool)) -> String {
        let raw = String(decoding: UnsafeRawBufferPointer(rebasing: line[field.start..<field.end]), as: UTF8.self)
        return field.quoted ? raw.replacingOccurrences("\"\"", with: "\"") : raw
    }

    // MARK: Values

    /// A decimal number, correctly rounded (strtod), or nil. Not NaN or infinite.
    static func double(_ text: UnsafeRawBufferPointer) -> Double? {
        guard !text.isEmpty, text.count < 64 else { return nil }
        for byte in text where !FlatJSONScanner.isNumberByte(byte) { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: text.count + 1) { buffer -> Double? in
            for k in 0..<text.count { buffer[k] = CChar(bitPattern: text[k]) }
            buffer[text.count] = 0
            var end: UnsafeMutablePointer<CChar>?
            let value = strtod(buffer.baseAddress!, &end)
            guard let end, end == buffer.baseAddress! + text.count, value.isFinite else { return nil }
            return value
        }
    }

    /// Milliseconds of an RFC 3339 time.
    static func time(_ text: UnsafeRawBufferPointer) -> Int64? {
        guard text.count >= 10, text.count <= 40 else { return nil }
        return RFC3339.parse(String(decoding: text, as: UTF8.self)).map { $0 * 1000 }
    }
}

extension String {
    func replacingOccurrences(_ target: String, with replacement: String) -> String {
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
