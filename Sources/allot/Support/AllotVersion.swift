import AllotCore
import AllotStore
import CAllotBuildStamp

/// The version of `allot`: the release number, held here and nowhere else, and the build stamp
/// (commit and commit date) that `ops/deploy/release.sh` writes into a release binary after linking
/// (`ops/deploy/stamp-build.py`, docs/deploy.md). `allot --version` prints `description`.
enum AllotVersion {
    /// The release number (semantic versioning). Release tarballs are named after it: the release
    /// script asks the built binary, so the name and the binary cannot disagree.
    static let number = "0.1.0"

    /// `0.1.0 (commit 8f6f648…, 2026-12-04T15:02:11Z)`, or a note that the build was not stamped.
    static var description: String {
        switch BuildStamp.read() {
        case .stamped(let stamp): "\(number) (commit \(stamp.commit), \(stamp.date))"
        case .unstamped: "\(number) (development build: not stamped with a commit)"
        case .unreadable: "\(number) (build stamp unreadable)"
        }
    }

    /// The formats this build reads and writes, one per line after `description`.
    static var formats: [String] {
        [
            "bundle envelope format \(BundleHeader.formatVersion) (reads and writes)",
            "bundle payload format \(PayloadFormat.version) (reads and writes; bucketing scheme 2)",
            "bundle payload format 1 (reads and writes; bucketing scheme 1)",
            "manifest format \(Manifest.format) (reads and writes)",
            "manifest format \(Manifest.formatV1) (reads)",
        ]
    }

    /// `allot --version`: `description` on the first line (what scripts read), then `formats`.
    static var text: String { ([description] + formats).joined(separator: "\n") }
}

/// The commit and date a release binary was built from, read from its `allot_build_stamp` section.
struct BuildStamp: Equatable {
    /// 40 lowercase hex digits, with `-dirty` when the working tree had uncommitted changes.
    var commit: String
    /// The commit's date, RFC 3339 in UTC (`2026-12-04T15:02:11Z`): the same commit gives the same stamp.
    var date: String

    enum Reading: Equatable {
        case stamped(BuildStamp)
        case unstamped
        case unreadable
    }

    /// The stamp of the running binary.
    static func read() -> Reading {
        var bytes = [UInt8](repeating: 0, count: Int(ALLOT_BUILD_STAMP_SIZE))
        let count = bytes.withUnsafeMutableBufferPointer { allot_build_stamp_copy($0.baseAddress, $0.count) }
        return parse(Array(bytes.prefix(count)))
    }

    /// Parses the section's bytes: `key=value` lines ending in LF, then zero bytes to the end. Only
    /// printable ASCII is accepted, `commit` and `date` must both be there and well formed; other
    /// keys are ignored (a later release script may add some).
    static func parse(_ bytes: [UInt8]) -> Reading {
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        guard end > 0 else { return .unstamped }
        guard bytes[end...].allSatisfy({ $0 == 0 }),
            bytes[..<end].allSatisfy({ $0 == 0x0A || (0x20...0x7E).contains($0) }),
            bytes[end - 1] == 0x0A
        else { return .unreadable }
        var fields: [String: String] = [:]
        for line in String(decoding: bytes[..<end], as: UTF8.self).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { return .unreadable }
            fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        guard let commit = fields["commit"], isCommit(commit), let date = fields["date"], isDate(date) else { return .unreadable }
        return .stamped(BuildStamp(commit: commit, date: date))
    }

    private static func isCommit(_ text: String) -> Bool {
        let hex = text.hasSuffix("-dirty") ? text.dropLast(6) : Substring(text)
        return hex.utf8.count == 40 && hex.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    private static func isDate(_ text: String) -> Bool {
        // YYYY-MM-DDTHH:MM:SSZ
        let pattern = Array("dddd-dd-ddTdd:dd:ddZ".utf8)
        let bytes = Array(text.utf8)
        guard bytes.count == pattern.count else { return false }
        return zip(bytes, pattern).allSatisfy { byte, expected in
            expected == UInt8(ascii: "d") ? (0x30...0x39).contains(byte) : byte == expected
        }
    }
}
