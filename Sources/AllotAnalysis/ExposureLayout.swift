public import AllotStore
import Foundation

/// Finds the segments of an exposure store or folder (docs/exposures.md, "Layout in the exposure
/// store"): every `exposures/date=YYYY-MM-DD/hour=HH/region=R/*.ndjson.zst`, skipping partitions
/// wholly outside the analysis window by their key alone.
public enum ExposureLayout {
    /// The largest segment read from an object store (segments are 16 MiB by default).
    public static let maxSegmentBytes = 512 << 20

    /// Whether the partition of `key` (relative to the store root, `exposures/date=…/hour=…/…`) can
    /// hold records in [from, to) (milliseconds); true when the key names no partition.
    public static func partitionOverlaps(_ key: String, from: Int64?, to: Int64?) -> Bool {
        guard let hourStart = partitionStart(key) else { return true }
        if let from, hourStart + 3_600_000 <= from { return false }
        if let to, hourStart >= to { return false }
        return true
    }

    /// The start (ms) of the hour a key's `date=` and `hour=` name.
    static func partitionStart(_ key: String) -> Int64? {
        var date: Substring?
        var hour: Int?
        for part in key.split(separator: "/") {
            if part.hasPrefix("date=") { date = part.dropFirst(5) }
            if part.hasPrefix("hour="), let value = Int(part.dropFirst(5)), (0..<24).contains(value) { hour = value }
        }
        guard let date, let hour, let day = RFC3339Date.parse(String(date)) else { return nil }
        return (day + Int64(hour) * 3600) * 1000
    }

    /// Segment files below a folder: `folder/exposures/...` (a store folder or a spool), or the
    /// folder itself if it has no `exposures` subfolder. Sorted, so runs read in one order.
    public static func localSegments(_ folder: String, from: Int64?, to: Int64?) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw AnalysisError.invalid("exposures folder '\(folder)' does not exist")
        }
        let exposures = (folder as NSString).appendingPathComponent("exposures")
        let root =
            FileManager.default.fileExists(atPath: exposures, isDirectory: &isDirectory) && isDirectory.boolValue ? exposures : folder
        guard let enumerator = FileManager.default.enumerator(atPath: root) else {
            throw AnalysisError.unavailable("cannot list '\(root)'")
        }
        var paths: [String] = []
        for case let relative as String in enumerator where relative.hasSuffix(".ndjson.zst") {
            if partitionOverlaps(relative, from: from, to: to) { paths.append((root as NSString).appendingPathComponent(relative)) }
        }
        return paths.sorted()
    }

    /// Segment keys of an object store, under `exposures/`.
    public static func storeSegments(_ store: any ObjectStore, from: Int64?, to: Int64?) async throws -> [String] {
        do {
            return try await store.list(prefix: "exposures/").map(\.key).filter {
                $0.hasSuffix(".ndjson.zst") && partitionOverlaps($0, from: from, to: to)
            }
        } catch {
            throw AnalysisError.unavailable("cannot list \(store.location): \(error.message)")
        }
    }
}

/// `YYYY-MM-DD` to unix seconds at midnight UTC.
enum RFC3339Date {
    static func parse(_ text: String) -> Int64? {
        let parts = text.split(separator: "-")
        guard parts.count == 3, let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]), (1...12).contains(m),
            (1...31).contains(d)
        else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm).
        let year = m <= 2 ? y - 1 : y
        let era = (year >= 0 ? year : year - 399) / 400
        let yoe = year - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return (era * 146_097 + doe - 719_468) * 86400
    }
}
