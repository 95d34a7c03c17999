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
