import AllotTestSupport
import Foundation
import Testing

/// The commands an experiment owner types in a new clone, literally: from the repository root
/// (or inside `experiments/`), relative paths, default flags.
@Suite(.serialized)
struct FreshCloneTests {
    /// `allot compile --check` with every spelling of the default experiments folder, from the
    /// root; `--experiments .` and a path back through `..` from inside the folder.
    @Test func compileCheckWithRelativePaths() async throws {
        let clone = try await FreshClone.make(paths: ["experiments"])
        defer { clone.remove() }
        let root = URL(fileURLWithPath: clone.path)
        let inside = URL(fileURLWithPath: clone.path + "/experiments")
        let runs: [(arguments: [String], directory: URL)] = [
            (["compile", "--check"], root),
            (["compile", "--check", "--experiments", "experiments"], root),
            (["compile", "--check", "--experiments", "./experiments"], root),
            (["compile", "--check", "--experiments", "experiments/"], root),
            (["compile", "--locked", "--check"], root),
            (["compile", "--experiments", "experiments", "--locked", "--check"], root),
            (["compile", "--check", "--experiments", "."], inside),
            (["compile", "--check", "--experiments", "../experiments"], inside),
        ]
        for run in runs {
            let result = try await CLI.run(run.arguments, in: run.directory)
            #expect(result.status == 0, "\(run.arguments) in \(run.directory.lastPathComponent): \(result.output)")
            #expect(result.stdout.contains("nothing written (--check)"), "\(result.output)")
        }
    }

    /// `allot compile` with no flags but the key: the version is the commit count, created-at the
    /// commit time, the bundle lands in bundles/<version>.bundle and verifies.
    @Test func compileDefaultsItsVersionAndTimeFromTheCommit() async throws {
        let clone = try await FreshClone.make(paths: ["experiments"])
        defer { clone.remove() }
        let directory = URL(fileURLWithPath: clone.path)
        let keys = clone.scratch + "/keys"
        #expect(try await CLI.run(["keygen", "--out", keys]).status == 0)
        let key = try String(contentsOfFile: keys + "/signing.key", encoding: .utf8)
        let compiled = try await CLI.run(["compile", "--locked"], in: directory, environment: ["ALLOT_SIGNING_KEY": key])
        #expect(compiled.status == 0, "\(compiled.output)")
        #expect(compiled.stdout.contains("→ bundles/1.bundle"), "\(compiled.stdout)")
        #expect(!compiled.stderr.contains("uncommitted"), "\(compiled.stderr)")
        let verified = try await CLI.run(["verify", "bundles/1.bundle", "--trusted-key", keys + "/signing.pub"], in: directory)
        #expect(verified.status == 0, "\(verified.output)")
        #expect(verified.stdout.contains("version 1, created-at 2026-12-01T00:00:00Z"), "\(verified.stdout)")
    }

    /// `allot diff main` against the working tree, and `allot diff main HEAD`, from the root.
    @Test func diffAgainstMainFromTheRepositoryRoot() async throws {
        let clone = try await FreshClone.make(paths: ["experiments"])
        defer { clone.remove() }
        let directory = URL(fileURLWithPath: clone.path)
        for arguments in [["diff", "main"], ["diff", "origin/main", "HEAD"], ["diff", "main", "--experiments", "./experiments"]] {
            let result = try await CLI.run(arguments, in: directory)
            #expect(result.status == 0, "\(arguments): \(result.output)")
            #expect(result.stdout.contains("0 added, 0 removed, 0 changed"), "\(arguments): \(result.stdout)")
        }
    }

    /// In a fresh clone, with no flags and no key: check, compile (the committed lock is current, so
    /// nothing changes), and the diff against main; the working tree stays clean.
    @Test func aFreshCloneNeedsNoFlags() async throws {
        let clone = try await FreshClone.make(paths: ["experiments"])
        defer { clone.remove() }
        let directory = URL(fileURLWithPath: clone.path)
        for arguments in [["compile", "--check"], ["compile"], ["diff", "main"], ["lint"]] {
            let result = try await CLI.run(arguments, in: directory)
            #expect(result.status == 0, "allot \(arguments.joined(separator: " ")): \(result.output)")
        }
        #expect(try await clone.git(["status", "--porcelain"]).isEmpty)
    }

    /// Outside git, `--check` writes nothing and so needs neither --version nor --created-at;
    /// writing a bundle still asks for them, and writes nothing until given.
    @Test func compileCheckOutsideGitNeedsNoVersion() async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try CLI.copySamples(to: directory)
        let check = try await CLI.run(["compile", "--check"], in: directory)
        #expect(check.status == 0, "\(check.output)")
        let inside = try await CLI.run(["compile", "--check", "--experiments", "."], in: directory.appendingPathComponent("experiments"))
        #expect(inside.status == 0, "\(inside.output)")
        let keys = try await CompileCommandTests.keys(in: directory)
        let write = try await CLI.run(["compile", "--signing-key", keys.secret], in: directory)
        #expect(write.status != 0)
        #expect(write.stderr.contains("pass --version N"), "\(write.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("bundles").path))
    }
}
