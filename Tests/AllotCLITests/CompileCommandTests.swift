import AllotTestSupport
import Foundation
import Testing

@Suite(.serialized)
struct CompileCommandTests {
    static func keys(in directory: URL) async throws -> (secret: String, public: String) {
        try await CLI.run(["keygen", "--out", directory.appendingPathComponent("keys").path])
        return (directory.appendingPathComponent("keys/signing.key").path, directory.appendingPathComponent("keys/signing.pub").path)
    }

    @Test func sampleExperimentsCompileUnderTheCommittedLock() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try CLI.copySamples(to: directory)
        let keys = try await Self.keys(in: directory)
        let result = try await CLI.run(
            [
                "compile", "--locked", "--version", "7", "--created-at", "2026-11-29T00:00:00Z", "--signing-key", keys.secret, "--output",
                "out.bundle",
            ],
            in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("lock unchanged"))
        let verify = try await CLI.run(["verify", "out.bundle", "--trusted-key", keys.public], in: directory)
        #expect(verify.status == 0 && verify.stdout.contains("version 7"))
    }

    @Test func outputIsByteIdenticalForTheSameInputs() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try CLI.copySamples(to: directory)
        let keys = try await Self.keys(in: directory)
        for name in ["a.bundle", "b.bundle"] {
            let result = try await CLI.run(
                ["compile", "--version", "3", "--created-at", "1700000000", "--signing-key", keys.secret, "--output", name], in: directory)
            #expect(result.status == 0, "\(result.stderr)")
        }
        let a = try Data(contentsOf: directory.appendingPathComponent("a.bundle"))
        let b = try Data(contentsOf: directory.appendingPathComponent("b.bundle"))
        #expect(a == b)
        #expect(a.count > 500)
    }

    /// Every golden malformed project: exit 1, diagnostics on stderr, and neither the existing lock
    /// nor the output path touched.
    @Test func failedCompilationsWriteNothing() async throws {
        let golden = CLI.root.appendingPathComponent("Tests/AllotCompilerTests/Golden/diagnostics")
        let cases = try FileManager.default.contentsOfDirectory(atPath: golden.path).filter { !$0.hasPrefix(".") }.sorted()
        #expect(cases.count >= 30)
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = try await Self.keys(in: directory)
        let lockText = "# a lock that must survive\nlock-version: 1\nlayers: {}\n"
        for name in cases {
            let experiments = directory.appendingPathComponent("case-\(name)")
            try FileManager.default.copyItem(at: golden.appendingPathComponent(name), to: experiments)
            try FileManager.default.removeItem(at: experiments.appendingPathComponent("expected.txt"))
            try lockText.write(to: experiments.appendingPathComponent("allot.lock"), atomically: true, encoding: .utf8)
            let output = directory.appendingPathComponent("out-\(name).bundle")
            let result = try await CLI.run([
                "compile", "--experiments", experiments.path, "--version", "1", "--created-at", "0", "--signing-key", keys.secret,
                "--output", output.path,
            ])
            #expect(result.status == 2, "\(name): status \(result.status)")
            #expect(result.stderr.contains(": error: "), "\(name): \(result.stderr)")
            #expect(result.stderr.contains("nothing was written"), "\(name)")
            #expect(!FileManager.default.fileExists(atPath: output.path), "\(name) wrote a bundle")
            #expect(
                try String(contentsOf: experiments.appendingPathComponent("allot.lock"), encoding: .utf8) == lockText,
                "\(name) touched the lock")
        }
    }

    @Test func lockedFailsAndWritesNothingWhenTheLockWouldChange() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try CLI.copySamples(to: directory)
        let keys = try await Self.keys(in: directory)
        let lockURL = directory.appendingPathComponent("experiments/allot.lock")
        let before = try String(contentsOf: lockURL, encoding: .utf8)
        let file = directory.appendingPathComponent("experiments/layers/checkout.yaml")
        let text = try String(contentsOf: file, encoding: .utf8).replacingOccurrences(of: "traffic: 20%", with: "traffic: 25%")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let locked = try await CLI.run(
            ["compile", "--locked", "--version", "2", "--created-at", "0", "--signing-key", keys.secret, "--output", "x.bundle"],
            in: directory)
        #expect(locked.status == 1)
        #expect(locked.stderr.contains("would change"))
        // It says what would change: the ramp's new buckets, nothing else.
        #expect(
            locked.stderr.contains(
                "experiments/allot.lock would change:\n  checkout/green-checkout-button: layer buckets 4000-5999 → 4000-6499 (2000 buckets → 2500 buckets)\n"
            ), "\(locked.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("x.bundle").path))
        #expect(try String(contentsOf: lockURL, encoding: .utf8) == before)
        // Without --locked the ramp is allocated and the lock grows by 5% of never-used buckets.
        let unlocked = try await CLI.run(
            ["compile", "--version", "2", "--created-at", "0", "--signing-key", keys.secret, "--output", "x.bundle"], in: directory)
        #expect(unlocked.status == 0, "\(unlocked.stderr)")
        #expect(try String(contentsOf: lockURL, encoding: .utf8) != before)
    }

    /// Without a key, compile updates the lock only (what an experiment owner runs); asking for a
    /// bundle with --output, or an unreadable key, is a clear error that writes nothing.
    @Test func withoutASigningKeyOnlyTheLockIsWritten() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try CLI.copySamples(to: directory)
        let lockURL = directory.appendingPathComponent("experiments/allot.lock")
        let before = try String(contentsOf: lockURL, encoding: .utf8)
        let file = directory.appendingPathComponent("experiments/layers/checkout.yaml")
        let text = try String(contentsOf: file, encoding: .utf8).replacingOccurrences(of: "traffic: 20%", with: "traffic: 25%")
        try text.write(to: file, atomically: true, encoding: .utf8)

        let asked = try await CLI.run(["compile", "--version", "1", "--created-at", "0", "--output", "x.bundle"], in: directory)
        #expect(asked.status == 64)
        #expect(asked.stderr.contains("no signing key"), "\(asked.stderr)")
        #expect(try String(contentsOf: lockURL, encoding: .utf8) == before)
        let emptySecret = try await CLI.run(
            ["compile", "--output", "x.bundle", "--version", "1", "--created-at", "0"], in: directory,
            environment: ["ALLOT_SIGNING_KEY": ""])
        #expect(emptySecret.status == 64 && emptySecret.stderr.contains("no signing key"), "\(emptySecret.output)")

        let check = try await CLI.run(["compile", "--check"], in: directory)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(try String(contentsOf: lockURL, encoding: .utf8) == before)

        let lockOnly = try await CLI.run(["compile"], in: directory)
        #expect(lockOnly.status == 0, "\(lockOnly.output)")
        #expect(
            lockOnly.stdout.contains("lock updated") && lockOnly.stdout.contains("no bundle written: no signing key"), "\(lockOnly.stdout)")
        #expect(try String(contentsOf: lockURL, encoding: .utf8) != before)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("bundles").path))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("x.bundle").path))
        // The lock it wrote is the one --locked accepts.
        let locked = try await CLI.run(["compile", "--locked", "--check"], in: directory)
        #expect(locked.status == 0, "\(locked.output)")
    }

    @Test func signingKeyFromTheEnvironment() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try CLI.copySamples(to: directory)
        let keys = try await Self.keys(in: directory)
        let text = try String(contentsOfFile: keys.secret, encoding: .utf8)
        let result = try await CLI.run(
            ["compile", "--version", "1", "--created-at", "0", "--output", "env.bundle"], in: directory,
            environment: ["ALLOT_SIGNING_KEY": text])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try await CLI.run(["verify", "env.bundle", "--trusted-key", keys.public], in: directory).status == 0)
    }

    @Test func keygenWritesPrivateAndPublicFilesAndRefusesToOverwrite() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try await CLI.run(["keygen", "--out", "k"], in: directory)
        #expect(first.status == 0)
        let secret = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("k/signing.key").path)
        let publicFile = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("k/signing.pub").path)
        #expect((secret[.posixPermissions] as? Int) == 0o600)
        #expect((publicFile[.posixPermissions] as? Int) == 0o644)
        let again = try await CLI.run(["keygen", "--out", "k"], in: directory)
        #expect(again.status == 3 && again.stderr.contains("already exists"))
    }
}
