import AllotCore
import ArgumentParser
import Foundation

/// Times on the command line (`--at`, `--created-at`): unix seconds, an RFC 3339 time or a plain
/// date (midnight UTC), read by the same `RFC3339` as the experiment files' `start` and `stop`.
enum TimeArgument {
    static let help = "unix seconds, an RFC 3339 time or a date"

    /// The `transform:` of a time option: a value that is not a time is a usage error.
    static func parse(_ text: String) throws -> Int64 {
        guard let seconds = Int64(text) ?? RFC3339.parse(text) else {
            throw ValidationError(
                "'\(text)' is not a time: give unix seconds, an RFC 3339 time (2026-12-01T09:00:00Z) or a date (2026-12-01)")
        }
        return seconds
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970) }

    static func format(_ seconds: Int64) -> String { RFC3339.format(seconds) }
}

/// Lengths of time on the command line (`--expires-in`, `--max-staleness`): seconds, or a number
/// with `s`, `m`, `h` or `d` (`90s`, `15m`, `6h`, `3d`).
enum DurationArgument {
    static let help = "seconds, or a number with s, m, h or d"

    static func parse(_ text: String) throws -> Int64 {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        var number = Substring(text)
        var unit: Int64 = 1
        if let last = number.last, let factor = units[last] {
            unit = factor
            number = number.dropLast()
        }
        guard let value = Int64(number), value > 0, value <= Int64.max / unit else {
            throw ValidationError("'\(text)' is not a length of time: give seconds, or a number with s, m, h or d (90s, 15m, 6h, 3d)")
        }
        return value * unit
    }
}
