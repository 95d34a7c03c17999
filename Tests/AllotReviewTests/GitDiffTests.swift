import AllotCompiler
import AllotCore
import AllotTestSupport
import Foundation
import Testing

@testable import AllotReview

/// `allot diff REV REV` on a real git repository made for the test, through the library and
/// through the built `allot` binary.
@Suite(.serialized)
struct GitDiffTests {
    static let first =
        BruteForceTests.base + BruteForceTests.experiment("a", traffic: "20%") + BruteForceTests.experiment("b", traffic: "30%")
    static let second =
        BruteForceTests.base + BruteForceTests.experiment("a", traffic: "50%")
        + BruteForceTests.experiment(
            "b", traffic: "30%",
            variants: "  - { name: control, weight: 40% }\n  - { name: treatment, weight: 60%, params: { color: red } }\n")

    @discardableResult
    static func run(_ executable: String, _ arguments: [String], in directory: String, environment: [String: String] = [:]) async throws
        -> ProcessResult
    {
        try await runProcess(executable, arguments, environment: environment, directory: directory)
    }

    static func git(_ arguments: [String], in directory: String) async throws {
        let result = try await run(
            "/usr/bin/env", ["git"] + arguments, in: directory,
            environment: [
                "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@example.com",
            ])
        guard result.status == 0 else { throw FixtureError(message: "git \(arguments): \(result.stderr)") }
    }

    /// Writes experiment files and the lock `allot compile` would write, and commits them.
    static func commit(_ yaml: String, in repository: String, message: String) async throws {
        let directory = repository + "/experiments"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try yaml.write(toFile: directory + "/main.yaml", atomically: true, encoding: .utf8)
        guard case .success(let output) = Compiler.compile(directory: directory, version: 1, createdAt: 0) else {
            throw FixtureError(message: "does not compile")
        }
        try output.lock.text.write(toFile: directory + "/allot.lock", atomically: true, encoding: .utf8)
        try await git(["add", "-A"], in: repository)
        try await git(["commit", "-q", "-m", message], in: repository)
    }

    /// A repository with a commit without experiments, then `first`, then `second`.
    static func makeRepository() async throws -> String {
        let repository = Scratch.folder("git")
        try await git(["init", "-q", "-b", "main"], in: repository)
        try "an app\n".write(toFile: repository + "/README", atomically: true, encoding: .utf8)
        try await git(["add", "-A"], in: repository)
        try await git(["commit", "-q", "-m", "start"], in: repository)
        try await commit(first, in: repository, message: "first experiments")
        try await commit(second, in: repository, message: "ramp a, reweight b")
        return repository
    }

    @Test func revisionsCompileLikeTheirFiles() async throws {
        let repository = try await Self.makeRepository()
        defer { try? FileManager.default.removeItem(atPath: repository) }
        let old = try GitSnapshot.compile(revision: "HEAD~1", experiments: repository + "/experiments")
        let new = try GitSnapshot.compile(revision: "HEAD", experiments: repository + "/experiments")
        guard case .revision("HEAD~1", let commit, "experiments") = old.origin else { throw FixtureError(message: "\(old.origin)") }
        #expect(commit.count == 40)
        let fromGit = BundleDiff.compare(old: old, new: new, at: 0)
        let (a, b) = try Fixture.change(Self.first, Self.second)
        let fromFiles = BundleDiff.compare(old: a.snapshot, new: b.snapshot, at: 0)
        #expect(
            TextReport.render(fromGit).split(separator: "\n").dropFirst() == TextReport.render(fromFiles).split(separator: "\n").dropFirst()
        )
        #expect(fromGit.experiments.map(\.name) == ["a", "b"])
        #expect(fromGit.experiments[0].impact.newlyEnrolled == 0.3)
        #expect(fromGit.reassignments.map(\.experiment) == ["b"])
    }

    @Test func aRevisionWithoutExperimentsIsEmpty() async throws {
        let repository = try await Self.makeRepository()
        defer { try? FileManager.default.removeItem(atPath: repository) }
        let old = try GitSnapshot.compile(revision: "HEAD~2", experiments: repository + "/experiments")
        #expect(old.contents.experiments.isEmpty && old.contents.layers.isEmpty)
        let report = BundleDiff.compare(
            old: old, new: try GitSnapshot.compile(revision: "HEAD", experiments: repository + "/experiments"), at: 0)
        #expect(report.summary.experimentsAdded == 2 && report.reassignments.isEmpty)
        #expect(throws: ReviewError.self) { try GitSnapshot.compile(revision: "no-such-branch", experiments: repository + "/experiments") }
    }

    static var binary: String? { AllotBinary.available ? AllotBinary.path : nil }

    @Test func commandLineDiffOfTwoRevisions() async throws {
        guard let allot = Self.binary else {
            Issue.record(Comment(rawValue: AllotBinary.missing))
            return
        }
        let repository = try await Self.makeRepository()
        defer { try? FileManager.default.removeItem(atPath: repository) }

        let json = try await Self.run(allot, ["diff", "HEAD~1", "HEAD", "--format", "json", "--at", "0"], in: repository)
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["schema"] as? String == "allot.diff/1")
        let experiments = try #require(object["experiments"] as? [[String: Any]])
        #expect(experiments.compactMap { $0["name"] as? String } == ["a", "b"])
        let impact = try #require(experiments[0]["impact"] as? [String: Any])
        #expect(impact["newlyEnrolled"] as? Double == 0.3)
        #expect((object["old"] as? [String: Any])?["kind"] as? String == "revision")

        // A reweight without acknowledgement fails the guard, and the Markdown report is still written.
        let guarded = try await Self.run(
            allot, ["diff", "main~1", "main", "--fail-on-reassign", "--format", "markdown", "--output", "report.md", "--at", "0"],
            in: repository)
        #expect(guarded.status == 1)
        #expect(guarded.stderr.contains("--fail-on-reassign): b"), "\(guarded.stderr)")
        let markdown = try String(contentsOfFile: repository + "/report.md", encoding: .utf8)
        #expect(markdown.hasPrefix(MarkdownReport.marker) && markdown.contains("| ⛔ | `b` |"), "\(markdown)")

        // One argument: against the working tree; acknowledging makes the guard pass.
        try (Self.second.replacingOccurrences(of: "name: b\n", with: "name: b\nacknowledge: [reassignment]\n"))
            .write(toFile: repository + "/experiments/main.yaml", atomically: true, encoding: .utf8)
        let acknowledged = try await Self.run(allot, ["diff", "HEAD~1", "--fail-on-reassign", "--at", "0"], in: repository)
        #expect(acknowledged.status == 0, "\(acknowledged.stderr)")
        #expect(acknowledged.stdout.contains("ok b: acknowledged"), "\(acknowledged.stdout)")

        let missing = try await Self.run(allot, ["diff", "no-such-branch", "HEAD"], in: repository)
        #expect(missing.status == 2)
        #expect(
            missing.stderr.contains("'no-such-branch' is not a bundle file, an experiments directory or a git revision"),
            "\(missing.stderr)")
    }

    @Test func commandLineDiffOfBundles() async throws {
        guard let allot = Self.binary else {
            Issue.record(Comment(rawValue: AllotBinary.missing))
            return
        }
        let directory = Scratch.folder("bundles")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (old, new) = try Fixture.change(Self.first, Self.second)
        try Data(old.envelope).write(to: URL(fileURLWithPath: directory + "/1.bundle"))
        try Data(new.envelope).write(to: URL(fileURLWithPath: directory + "/2.bundle"))
        try Fixture.key.publicKey.fileText.write(toFile: directory + "/signing.pub", atomically: true, encoding: .utf8)

        let untrusted = try await Self.run(allot, ["diff", "1.bundle", "2.bundle"], in: directory)
        #expect(untrusted.status == 64 && untrusted.stderr.contains("--trusted-key"), "\(untrusted.stderr)")
        let text = try await Self.run(allot, ["diff", "1.bundle", "2.bundle", "--trusted-key", "signing.pub", "--at", "0"], in: directory)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.hasPrefix("allot diff 1.bundle (version 1) → 2.bundle (version 2)"), "\(text.stdout)")
        #expect(text.stdout.contains("FAIL b: cannot be acknowledged"), "\(text.stdout)")
    }

    @Test func commandLineLint() async throws {
        guard let allot = Self.binary else {
            Issue.record(Comment(rawValue: AllotBinary.missing))
            return
        }
        let directory = Scratch.folder("lint")
        try FileManager.default.createDirectory(atPath: directory + "/experiments", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try (BruteForceTests.base + BruteForceTests.experiment("idle", traffic: "0%"))
            .write(toFile: directory + "/experiments/main.yaml", atomically: true, encoding: .utf8)
        let relaxed = try await Self.run(allot, ["lint"], in: directory)
        #expect(relaxed.status == 0)
        #expect(
            relaxed.stdout.hasPrefix("experiments/main.yaml:24:10: warning: experiment 'idle' is running at 0% traffic"),
            "\(relaxed.stdout)")
        #expect(relaxed.stderr.contains("1 warning"))
        let strict = try await Self.run(allot, ["lint", "--strict", "--format", "github"], in: directory)
        #expect(strict.status == 1)
        #expect(strict.stdout.hasPrefix("::warning file=experiments/main.yaml,line=24,col=10,"), "\(strict.stdout)")
        try "kind: Nonsense\n".write(toFile: directory + "/experiments/bad.yaml", atomically: true, encoding: .utf8)
        let broken = try await Self.run(allot, ["lint"], in: directory)
        #expect(broken.status == 2 && broken.stderr.contains("error"), "\(broken.stderr)")
    }
}
