import AllotReview
import Foundation

/// Facts about the git commit the experiments are at, for reproducible defaults: the bundle
/// version defaults to the commit count and created-at to the commit time, never the wall clock.
struct GitRevision {
    var commitCount: UInt64
    var commitTime: Int64
    var isDirty: Bool

    static func current(in directory: String) -> GitRevision? {
        guard let count = Git.output(["rev-list", "--count", "HEAD"], in: directory).flatMap({ UInt64($0) }),
            let time = Git.output(["log", "-1", "--format=%ct"], in: directory).flatMap({ Int64($0) })
        else { return nil }
        let status = Git.output(["status", "--porcelain", "--", "."], in: directory) ?? ""
        return GitRevision(commitCount: count, commitTime: time, isDirty: !status.isEmpty)
    }
}

/// Parses `--created-at`: unix seconds or an RFC 3339 time.
func parseTime(_ text: String) -> Int64? {
    if let seconds = Int64(text) { return seconds }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970) }
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970) }
    return nil
}

func formatTime(_ seconds: Int64) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
}
