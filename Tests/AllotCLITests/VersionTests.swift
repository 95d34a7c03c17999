import AllotTestSupport
import Foundation
import Testing

/// `allot --version`: the version from its one place (BuildStamp.swift), and the formats the
/// build writes, checked against a bundle it wrote.
struct VersionTests {
    static let stamp = Repository.root.appendingPathComponent("Sources/allot/BuildStamp.swift")

    @Test func versionAndFormats() throws {
        let stampText = try String(contentsOf: Self.stamp, encoding: .utf8)
        let version = try #require(stampText.firstMatch(of: #/static let version = "([^"]+)"/#)?.1)
        let result = try CLI.run(["--version"])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "allot \(version) (development build)", "\(result.stdout)")

        // The envelope and payload format numbers are the ones in a bundle this build writes.
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try CLI.copySamples(to: directory)
        let keys = try CompileCommandTests.keys(in: directory)
        let compiled = try CLI.run(
            ["compile", "--signing-key", keys.secret, "--version", "1", "--created-at", "0", "--output", "b.bundle"], in: directory)
        #expect(compiled.status == 0)
        let bytes = [UInt8](try Data(contentsOf: directory.appendingPathComponent("b.bundle")))
        let envelope = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect(lines.contains("bundle envelope format \(envelope) (reads and writes)"), "\(lines)")
        #expect(lines.contains { $0.hasPrefix("bundle payload format ") })
        #expect(lines.contains { $0.hasPrefix("manifest format allot-manifest/") })
    }

    /// The release script writes the same file shape the build reads: regenerating the
    /// development stamp gives the checked-in file byte for byte, and a release stamp carries the
    /// version and the commit.
    @Test func stampScriptAndFileAgree() throws {
        let script = Repository.root.appendingPathComponent("scripts/stamp-build").path
        let development = try runProcess(script, ["--development", "--print"])
        #expect(development.status == 0, "\(development.stderr)")
        #expect(development.stdout == (try String(contentsOf: Self.stamp, encoding: .utf8)))
        let release = try runProcess(script, ["2.3.4", "--print"])
        #expect(release.status == 0, "\(release.stderr)")
        #expect(release.stdout.contains("static let version = \"2.3.4\""))
        #expect(release.stdout.firstMatch(of: #/commit: String\? = "[0-9a-f]{40}"/#) != nil, "\(release.stdout)")
        #expect(release.stdout.firstMatch(of: #/builtAt: String\? = "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"/#) != nil, "\(release.stdout)")
        #expect(try runProcess(script, ["not-a-version", "--print"]).status == 64)
    }
}
