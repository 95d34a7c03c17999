#if canImport(Glibc)
    import Glibc
#endif

/// A segment's identity (docs/exposures.md, "Segments" and "Layout in the exposure store"): the
/// server, the process's boot time and a sequence number, fixed when the segment is opened, plus
/// the UTC hour of its records and the region. Its path below the spool's `exposures/` folder and
/// below the store's `exposures/` prefix is the same:
/// `date=YYYY-MM-DD/hour=HH/region=REGION/<server>-<boot>-<seq>.ndjson.zst`.
public struct SegmentName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let server: String
    /// Milliseconds since the epoch when the writing process started (13 digits).
    public let boot: Int64
    /// From 1 within the process.
    public let sequence: Int
    /// Hours since the epoch (UTC) of the segment's records.
    public let hour: Int64
    public let region: String

    public static let suffix = ".ndjson.zst"
    /// The store prefix under which segments are shipped.
    public static let storePrefix = "exposures/"

    public init(server: String, boot: Int64, sequence: Int, hour: Int64, region: String) {
        self.server = server
        self.boot = boot
        self.sequence = sequence
        self.hour = hour
        self.region = region
    }

    /// `<server>-<boot>-<seq>`.
    public var description: String {
        let digits = String(sequence)
        return "\(server)-\(boot)-\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits)"
    }

    /// `<server>-<boot>-<seq>.ndjson.zst`.
    public var fileName: String { description + Self.suffix }

    /// `date=YYYY-MM-DD/hour=HH/region=REGION`.
    public var directory: String {
        var seconds = time_t(hour * 3600)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "date=\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))/hour=\(two(parts.tm_hour))/region=\(region)"
    }

    /// The path below `exposures/`.
    public var relativePath: String { directory + "/" + fileName }

    /// The object key in the exposure store.
    public var key: String { Self.storePrefix + relativePath }

    /// Oldest first: by hour, then boot, then sequence.
    public static func < (a: SegmentName, b: SegmentName) -> Bool {
        (a.hour, a.boot, a.sequence, a.server, a.region) < (b.hour, b.boot, b.sequence, b.server, b.region)
    }

    /// Reads a relative path written by `relativePath`, strictly: anything else (a stray file, a
    /// name edited by hand, a date that does not exist) is nil.
    public init?(relativePath path: String) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].hasPrefix("date="), parts[1].hasPrefix("hour="), parts[2].hasPrefix("region="),
            parts[3].hasSuffix(Self.suffix)
        else { return nil }
        let date = parts[0].dropFirst(5).split(separator: "-", omittingEmptySubsequences: false)
        guard date.count == 3, date[0].count == 4, date[1].count == 2, date[2].count == 2, parts[1].count == 7,
            let year = Int(date[0]), let month = Int(date[1]), let day = Int(date[2]), let hourOfDay = Int(parts[1].dropFirst(5)),
            (1...12).contains(month), (1...31).contains(day), (0...23).contains(hourOfDay)
        else { return nil }
        let region = String(parts[2].dropFirst(7))
        guard ExposureConfiguration.isValidIdentifier(region) else { return nil }
        let stem = parts[3].dropLast(Self.suffix.count)
        let fields = stem.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count >= 3 else { return nil }
        let sequenceText = fields[fields.count - 1]
        let bootText = fields[fields.count - 2]
        let server = fields[0..<(fields.count - 2)].joined(separator: "-")
        guard bootText.count == 13, sequenceText.count >= 6, bootText.allSatisfy(\.isASCIIDigit), sequenceText.allSatisfy(\.isASCIIDigit),
            let boot = Int64(bootText), let sequence = Int(sequenceText), sequence >= 1, ExposureConfiguration.isValidIdentifier(server)
        else { return nil }
        var calendar = tm()
        calendar.tm_year = Int32(year - 1900)
        calendar.tm_mon = Int32(month - 1)
        calendar.tm_mday = Int32(day)
        calendar.tm_hour = Int32(hourOfDay)
        let seconds = Int64(timegm(&calendar))
        let name = SegmentName(server: server, boot: boot, sequence: sequence, hour: seconds / 3600, region: region)
        // The date must exist (no 31 February) and the name must be the one this path would have.
        guard seconds % 3600 == 0, name.relativePath == path else { return nil }
        self = name
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
