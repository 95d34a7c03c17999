import AllotTestSupport
import Foundation
import Testing

/// The shell examples of README.md and docs/*.md, run the way a reader types them, by
/// `Tests/Journeys/doc_tests.py` (the convention is in docs/cli.md, "Documentation tests"):
/// `sh` blocks run in a scratch clone, `console` blocks checked against the output they show.
@Suite(.serialized)
struct DocumentationTests {
    static var pages: [String] {
        let docs = (try? FileManager.default.contentsOfDirectory(atPath: Repository.root.appendingPathComponent("docs").path)) ?? []
        return ["README.md"] + docs.filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
    }

    static let harness = Repository.root.appendingPathComponent("Tests/Journeys/doc_tests.py").path
    static var binaries: String { (AllotBinary.path as NSString).deletingLastPathComponent }

    static func run(_ pages: [String], in repository: String = Repository.root.path) async throws -> ProcessResult {
        try await runProcess(
            "/usr/bin/env", ["python3", harness, "--repository", repository, "--bin", binaries] + pages, removing: ["ALLOT_SIGNING_KEY"])
    }

    /// Every page at once (one clone, copied per page); each failure names its file and line.
    @Test func examplesWork() async throws {
        #expect(Self.pages.count >= 10)
        let result = try await Self.run(Self.pages)
        #expect(result.status == 0, "\(result.stderr)")
    }

    /// The harness itself, on pages in a scratch repository: a failing command is reported with
    /// its file, line and command; a console block whose output differs shows both; untagged
    /// commands are refused; skipped blocks do not run.
    @Test func failuresNameTheFileLineAndCommand() async throws {
        let folder = Scratch.folder("doc-probe")
        defer { Scratch.remove(folder) }
        try FileManager.default.copyItem(
            atPath: Repository.root.appendingPathComponent("experiments").path, toPath: folder + "/experiments")
        _ = try await runProcess("/usr/bin/env", ["git", "init", "-q", folder])
        let probe = """
            # Probe

            ```sh
            export GREETING=hello
            cd experiments
            ```

            ```console
            $ echo "$GREETING from $(basename "$PWD")"
            hello from experiments
            $ printf 'a\\nb\\nc\\n'
            a
            ...
            c
            $ false
            [1]
            ```

            <!-- doc-test: skip (it would fail) -->
            ```sh
            exit 7
            ```

            ```sh
            true
            allot compile --no-such-flag
            echo never
            ```

            <!-- doc-test: cleanup -->
            ```sh
            touch "\(folder)/cleaned-up"
            ```

            """
        try probe.write(toFile: folder + "/probe.md", atomically: true, encoding: .utf8)
        let failing = try await Self.run(["probe.md"], in: folder)
        #expect(failing.status == 1)
        #expect(
            failing.stderr.contains("doc test failed: probe.md:26: `allot compile --no-such-flag` failed with exit status 64"),
            "\(failing.stderr)")
        #expect(failing.stderr.contains("error: unknown option '--no-such-flag'"))
        #expect(failing.stderr.components(separatedBy: "doc test failed").count == 2, "only that one: \(failing.stderr)")
        // The page's cleanup ran although a block before it failed.
        #expect(FileManager.default.fileExists(atPath: folder + "/cleaned-up"))

        try "# Probe\n\n```\nallot compile\n```\n".write(toFile: folder + "/probe.md", atomically: true, encoding: .utf8)
        let untagged = try await Self.run(["probe.md"], in: folder)
        #expect(untagged.status == 1)
        #expect(untagged.stderr.contains("probe.md:3: an untagged block that looks like commands"), "\(untagged.stderr)")

        try "# Probe\n\n```console\n$ echo one\ntwo\n```\n".write(toFile: folder + "/probe.md", atomically: true, encoding: .utf8)
        let different = try await Self.run(["probe.md"], in: folder)
        #expect(different.status == 1)
        #expect(
            different.stderr.contains("probe.md:4: `echo one` printed something else\n--- the document shows:\ntwo\n--- it printed:\none"),
            "\(different.stderr)")

        // A `\` at the end of a command line continues it on the next `> ` line: one command.
        try "# Probe\n\n```console\n$ printf '%s-%s\\n' one \\\n> two\none-two\n```\n".write(
            toFile: folder + "/probe.md", atomically: true, encoding: .utf8)
        let continued = try await Self.run(["probe.md"], in: folder)
        #expect(continued.status == 0, "\(continued.stderr)")
    }
}
