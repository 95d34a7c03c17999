import AllotTestSupport
import Foundation
import Testing

/// Every time flag reads what experiment files accept (RFC 3339 or a plain date), through the
/// one `RFC3339` reader, and a value that is not a time is a usage error.
@Suite(.serialized)
struct TimeFlagTests {
    /// `lint --at` with a plain date finds what the same midnight in RFC 3339 finds: the sample's
    /// express-pay experiment stops on 2027-02-01.
    @Test func lintAtAPlainDate() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try CLI.copySamples(to: directory)
        let date = try await CLI.run(["lint", "--at", "2027-03-01"], in: directory)
        #expect(date.status == 0, "\(date.output)")
        #expect(date.stdout.contains("'express-pay-north-america' is running but its stop time has passed"), "\(date.stdout)")
        let full = try await CLI.run(["lint", "--at", "2027-03-01T00:00:00Z"], in: directory)
        let seconds = try await CLI.run(["lint", "--at", "1803859200"], in: directory)
        #expect(date.output == full.output && full.output == seconds.output)
        let before = try await CLI.run(["lint", "--at", "2027-01-31"], in: directory)
        #expect(!before.stdout.contains("express-pay-north-america"), "\(before.stdout)")
    }

    @Test(arguments: [
        ["lint", "--at"], ["diff", "main", "--at"], ["compile", "--check", "--created-at"],
        ["assign", "--bundle", "x.bundle", "--trusted-key", "x.pub", "--unit", "user_id=u", "--at"],
    ])
    func notATimeIsAUsageError(arguments: [String]) async throws {
        // Refused while reading the command line, before any file is read.
        for value in ["2027-13-01", "yesterday", "2027-03-01 00:00"] {
            let result = try await CLI.run(arguments + [value])
            #expect(result.status == 64, "\(arguments) \(value): \(result.output)")
            #expect(result.stderr.contains("'\(value)' is not a time"), "\(result.stderr)")
        }
    }

    /// A created-at no calendar can write (any Int64 is allowed in a bundle) is shown as unix
    /// seconds by every command, never a crash.
    @Test(arguments: ["-9223372036854775808", "9223372036854775807"])
    func extremeCreatedAtIsShownNotTrapped(seconds: String) async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try CLI.copySamples(to: directory)
        let keys = try await CompileCommandTests.keys(in: directory)
        let compiled = try await CLI.run(
            ["compile", "--version", "4", "--created-at=\(seconds)", "--signing-key", keys.secret, "--output", "x.bundle"], in: directory)
        #expect(compiled.status == 0, "\(compiled.output)")
        #expect(compiled.stdout.contains("created-at \(seconds),"), "\(compiled.stdout)")
        for arguments in [["verify", "x.bundle"], ["inspect", "x.bundle"], ["inspect", "x.bundle", "--format", "json"]] {
            let result = try await CLI.run(arguments + ["--trusted-key", keys.public], in: directory)
            #expect(result.status == 0, "\(arguments): \(result.output)")
            #expect(result.stdout.contains(seconds), "\(arguments): \(result.stdout)")
        }
    }

    @Test func createdAtAcceptsADate() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try CLI.copySamples(to: directory)
        let keys = try await CompileCommandTests.keys(in: directory)
        let compiled = try await CLI.run(
            ["compile", "--version", "4", "--created-at", "2026-12-01", "--signing-key", keys.secret, "--output", "x.bundle"], in: directory
        )
        #expect(compiled.status == 0, "\(compiled.output)")
        #expect(compiled.stdout.contains("created-at 2026-12-01T00:00:00Z"), "\(compiled.stdout)")
        let assigned = try await CLI.run(
            ["assign", "--bundle", "x.bundle", "--trusted-key", keys.public, "--unit", "user_id=alice", "--at", "2026-12-02", "--json"],
            in: directory)
        #expect(assigned.status == 0, "\(assigned.output)")
    }
}
