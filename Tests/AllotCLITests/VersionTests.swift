import AllotTestSupport
import Foundation
import Testing

/// `allot --version`: the version from its one place (AllotVersion.swift; release builds are
/// stamped after linking, tested by AllotDeployTests), then the formats the build writes, checked
/// against a bundle it wrote.
struct VersionTests {
    static let source = Repository.root.appendingPathComponent("Sources/allot/Support/AllotVersion.swift")

    @Test func versionAndFormats() async throws {
        let sourceText = try String(contentsOf: Self.source, encoding: .utf8)
        let version = try #require(sourceText.firstMatch(of: #/static let number = "([^"]+)"/#)?.1)
        let result = try await CLI.run(["--version"])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "\(version) (development build: not stamped with a commit)", "\(result.stdout)")

        // The envelope and payload format numbers are the ones in a bundle this build writes.
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try CLI.copySamples(to: directory)
        let keys = try await CompileCommandTests.keys(in: directory)
        let compiled = try await CLI.run(
            ["compile", "--signing-key", keys.secret, "--version", "1", "--created-at", "0", "--output", "b.bundle"], in: directory)
        #expect(compiled.status == 0)
        let bytes = [UInt8](try Data(contentsOf: directory.appendingPathComponent("b.bundle")))
        let envelope = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect(lines.contains("bundle envelope format \(envelope) (reads and writes)"), "\(lines)")
        #expect(lines.contains { $0.hasPrefix("bundle payload format ") })
        #expect(lines.contains { $0.hasPrefix("manifest format allot-manifest/") })
    }
}
