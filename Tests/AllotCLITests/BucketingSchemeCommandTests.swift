import AllotCore
import AllotTestSupport
import Foundation
import Testing

/// Changing the bucketing scheme moves every unit, so it is never implicit: a lock without a
/// scheme stays on scheme 1, a project without a lock starts on scheme 2, and only
/// `--bucketing-scheme` switches, with a warning, refused by `--locked`, and reported by `allot diff`.
@Suite(.serialized)
struct BucketingSchemeCommandTests {
    /// The payload format version of a bundle file (which fixes its scheme), loaded and verified.
    static func scheme(of bundle: URL, publicKey: String) throws -> BucketingScheme {
        let key = try PublicKey(text: try String(contentsOfFile: publicKey, encoding: .utf8))
        return try LoadedBundle.open(envelope: [UInt8](try Data(contentsOf: bundle)), trustedKeys: [key]).payload.bucketingScheme
    }

    @Test func existingLocksKeepSchemeOneAndNewProjectsStartOnSchemeTwo() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try CLI.copySamples(to: directory)
        let keys = try await CompileCommandTests.keys(in: directory)
        let lockURL = directory.appendingPathComponent("experiments/allot.lock")
        let committed = try String(contentsOf: lockURL, encoding: .utf8)
        #expect(!committed.contains("bucketing-scheme"))

        // The committed lock predates schemes: scheme 1, lock untouched.
        let old = try await CLI.run(
            ["compile", "--locked", "--version", "1", "--created-at", "0", "--signing-key", keys.secret, "--output", "old.bundle"],
            in: directory)
        #expect(old.status == 0, "\(old.output)")
        #expect(try Self.scheme(of: directory.appendingPathComponent("old.bundle"), publicKey: keys.public) == .saltedID)
        #expect(try String(contentsOf: lockURL, encoding: .utf8) == committed)

        // Without a lock file, the project starts on scheme 2 and the new lock records it.
        try FileManager.default.removeItem(at: lockURL)
        let fresh = try await CLI.run(
            ["compile", "--version", "2", "--created-at", "0", "--signing-key", keys.secret, "--output", "fresh.bundle"], in: directory)
        #expect(fresh.status == 0, "\(fresh.output)")
        #expect(!fresh.stderr.contains("bucketing scheme"), "\(fresh.stderr)")
        #expect(try Self.scheme(of: directory.appendingPathComponent("fresh.bundle"), publicKey: keys.public) == .unitDigest)
        #expect(try String(contentsOf: lockURL, encoding: .utf8).contains("\nbucketing-scheme: 2\n"))
        // ... and stays there: the lock it wrote is current.
        let again = try await CLI.run(["compile", "--locked", "--check"], in: directory)
        #expect(again.status == 0, "\(again.output)")
    }

    @Test func switchingIsExplicitWarnedRefusedWhenLockedAndShownByDiff() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try CLI.copySamples(to: directory)
        let keys = try await CompileCommandTests.keys(in: directory)
        let lockURL = directory.appendingPathComponent("experiments/allot.lock")
        let committed = try String(contentsOf: lockURL, encoding: .utf8)

        // --locked refuses the switch, names it, and writes nothing.
        let refused = try await CLI.run(["compile", "--locked", "--check", "--bucketing-scheme", "2"], in: directory)
        #expect(refused.status == 1, "\(refused.output)")
        #expect(refused.stderr.contains("bucketing scheme 1 → 2: every unit"), "\(refused.stderr)")
        #expect(try String(contentsOf: lockURL, encoding: .utf8) == committed)

        let bad = try await CLI.run(["compile", "--check", "--bucketing-scheme", "3"], in: directory)
        #expect(bad.status == 64 && bad.stderr.contains("--bucketing-scheme must be 1 or 2"), "\(bad.output)")

        // The explicit switch warns, records the scheme and keeps every experiment's buckets.
        let switched = try await CLI.run(
            [
                "compile", "--bucketing-scheme", "2", "--version", "3", "--created-at", "0", "--signing-key", keys.secret, "--output",
                "new.bundle",
            ], in: directory)
        #expect(switched.status == 0, "\(switched.output)")
        #expect(switched.stderr.contains("warning: bucketing scheme 1 → 2"), "\(switched.stderr)")
        let lock = try String(contentsOf: lockURL, encoding: .utf8)
        #expect(lock == committed.replacingOccurrences(of: "lock-version: 1\n", with: "lock-version: 1\nbucketing-scheme: 2\n"))
        #expect(try Self.scheme(of: directory.appendingPathComponent("new.bundle"), publicKey: keys.public) == .unitDigest)
        let inspect = try await CLI.run(["inspect", "new.bundle", "--trusted-key", keys.public], in: directory)
        #expect(inspect.status == 0 && inspect.stdout.contains("bytes of payload (format 2: bucketing scheme 2)"), "\(inspect.output)")

        // Later compiles keep scheme 2 without the flag.
        let kept = try await CLI.run(["compile", "--locked", "--check"], in: directory)
        #expect(kept.status == 0, "\(kept.output)")

        // allot diff between the committed lock's project and the switched one says every unit may move.
        let oldProject = directory.appendingPathComponent("old-experiments")
        try FileManager.default.copyItem(at: directory.appendingPathComponent("experiments"), to: oldProject)
        try committed.write(to: oldProject.appendingPathComponent("allot.lock"), atomically: true, encoding: .utf8)
        let diff = try await CLI.run(["diff", oldProject.path, directory.appendingPathComponent("experiments").path], in: directory)
        #expect(diff.stdout.contains("bucketing scheme 1 → 2: every layer, experiment and holdout hashes units anew"), "\(diff.output)")
    }
}
