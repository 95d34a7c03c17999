import AllotTestSupport
import Foundation
import Testing

/// `allot status` never reports a region as fine without checking who signed its manifest.
@Suite(.serialized)
struct StatusCommandTests {
    /// Two local regions with version 1 published, signed by `keys/signing.key`.
    static func published() async throws -> (directory: URL, keys: (secret: String, public: String)) {
        let directory = try CLI.temporaryDirectory()
        try CLI.copySamples(to: directory)
        let keys = try await CompileCommandTests.keys(in: directory)
        let compiled = try await CLI.run(
            ["compile", "--version", "1", "--created-at", "0", "--signing-key", keys.secret, "--output", "v1.bundle"], in: directory)
        guard compiled.status == 0 else { throw CLIError(message: compiled.output) }
        let published = try await CLI.run(
            ["publish", "v1.bundle", "--store", "us", "--store", "eu", "--signing-key", keys.secret], in: directory)
        guard published.status == 0 else { throw CLIError(message: published.output) }
        return (directory, keys)
    }

    @Test func theTrustedKeyIsRequired() async throws {
        let (directory, _) = try await Self.published()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try await CLI.run(["status", "--store", "us", "--store", "eu"], in: directory)
        #expect(result.status == 64, "\(result.output)")
        #expect(result.stderr.contains("--trusted-key"), "\(result.stderr)")
        #expect(result.stdout.isEmpty, "nothing that looks like a report: \(result.stdout)")
        let help = try await CLI.run(["status", "--help"])
        #expect(help.stdout.contains("--trusted-key <file> ..."), "\(help.stdout)")
        #expect(!help.stdout.contains("[--trusted-key"), "shown as required: \(help.stdout)")
    }

    @Test func manifestsSignedByAnotherKeyAreNotFine() async throws {
        let (directory, keys) = try await Self.published()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trusted = try await CLI.run(["status", "--store", "us", "--store", "eu", "--trusted-key", keys.public], in: directory)
        #expect(trusted.status == 0, "\(trusted.output)")
        #expect(trusted.stdout.contains("all 2 regions agree"))
        try await CLI.run(["keygen", "--out", "other"], in: directory)
        let untrusted = try await CLI.run(
            ["status", "--store", "us", "--store", "eu", "--trusted-key", "other/signing.pub"], in: directory)
        #expect(untrusted.status != 0, "\(untrusted.output)")
        #expect(untrusted.stdout.contains("INVALID"), "\(untrusted.stdout)")
    }
}
