import AllotCore
import AllotStore

/// What this build of `allot` is, for `allot --version`, `/v1/bundle`-style reports and logs.
///
/// The version and build facts live in one place, `BuildStamp.swift`, which holds nothing else:
/// a release build regenerates it (`scripts/stamp-build VERSION`) before compiling; the checked-in
/// copy describes a development build.
enum BuildInfo {
    static var version: String { BuildStamp.version }
    /// The commit the release was built from, when stamped.
    static var commit: String? { BuildStamp.commit }
    /// When the release was built (RFC 3339), when stamped.
    static var builtAt: String? { BuildStamp.builtAt }

    /// The formats this build reads and writes.
    static var formats: [(name: String, value: String)] {
        [
            ("bundle envelope format", "\(BundleHeader.formatVersion)"),
            ("bundle payload format", "\(PayloadFormat.version)"),
            ("manifest format", Manifest.format),
        ]
    }

    /// `allot --version`: the version on the first line (what scripts read), then the formats.
    static var text: String {
        var first = "allot \(version)"
        if let commit {
            first += " (commit \(commit.prefix(12))\(builtAt.map { ", built \($0)" } ?? ""))"
        } else {
            first += " (development build)"
        }
        return ([first] + formats.map { "\($0.name) \($0.value) (reads and writes)" }).joined(separator: "\n")
    }
}
