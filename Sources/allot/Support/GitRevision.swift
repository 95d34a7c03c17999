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
