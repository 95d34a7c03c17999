/// Bucket indices in the order they were claimed, stored as ranges. Claim order matters: ramping
/// down releases the most recently claimed buckets first, so the longest-enrolled units stay.
public struct BucketList: Equatable, Sendable, CustomStringConvertible {
    /// Ranges in claim order; never empty ranges, adjacent ones merged.
    public private(set) var ranges: [ClosedRange<Int>] = []

    public init() {}

    public init(_ ranges: [ClosedRange<Int>]) {
        for range in ranges { append(range) }
    }

    /// The number of buckets.
    public var count: Int { ranges.reduce(0) { $0 + $1.count } }

    public var isEmpty: Bool { ranges.isEmpty }

    /// Every bucket, in claim order.
    public var buckets: [Int] { ranges.flatMap { Array($0) } }

    /// Appends a range (merging it into the last one when contiguous).
    public mutating func append(_ range: ClosedRange<Int>) {
        if let last = ranges.last, last.upperBound + 1 == range.lowerBound {
            ranges[ranges.count - 1] = last.lowerBound...range.upperBound
        } else {
            ranges.append(range)
        }
    }

    public mutating func append(_ bucket: Int) { append(bucket...bucket) }

    public mutating func append(contentsOf other: BucketList) {
        for range in other.ranges { append(range) }
    }

    /// Removes and returns the `count` most recently claimed buckets, in claim order.
    public mutating func removeLast(_ count: Int) -> BucketList {
        var remaining = count
        var removed: [ClosedRange<Int>] = []
        while remaining > 0, let last = ranges.last {
            if last.count <= remaining {
                removed.append(last)
                remaining -= last.count
                ranges.removeLast()
            } else {
                let split = last.upperBound - remaining + 1
                removed.append(split...last.upperBound)
                ranges[ranges.count - 1] = last.lowerBound...(split - 1)
                remaining = 0
            }
        }
        return BucketList(removed.reversed())
    }

    /// Removes and returns the `count` earliest claimed buckets, in claim order.
    public mutating func removeFirst(_ count: Int) -> BucketList {
        var remaining = count
        var removed = BucketList()
        while remaining > 0, let first = ranges.first {
            if first.count <= remaining {
                removed.append(first)
                remaining -= first.count
                ranges.removeFirst()
            } else {
                let split = first.lowerBound + remaining
                removed.append(first.lowerBound...(split - 1))
                ranges[0] = split...first.upperBound
                remaining = 0
            }
        }
        return removed
    }

    /// `0-1999, 2500, 3000-3099`
    public var description: String {
        ranges.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ", ")
    }

    /// Parses `description`'s format; nil when malformed or out of `0..<limit`.
    public init?(text: String, limit: Int) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return }
        for part in trimmed.split(separator: ",") {
            let bounds = part.trimmingCharacters(in: .whitespaces).split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let low = Int(bounds[0]), let high = Int(bounds[bounds.count - 1]),
                low >= 0, low <= high, high < limit
            else { return nil }
            append(low...high)
        }
    }
}

extension Substring {
    func trimmingCharacters(in set: CharacterSetLite) -> String { String(self).trimmingCharacters(in: set) }
}
