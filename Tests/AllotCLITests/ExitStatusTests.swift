import AllotTestSupport
import Foundation
import Testing

/// The exit-status table of docs/cli.md, pinned command by command: each status a command can
/// return, produced for real (a broken file, a refusing store, a store that is down).
@Suite(.serialized)
struct ExitStatusTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var command: String
        var situation: String
        var arguments: [String]
        var status: Int32
        /// Text standard error must contain (for failures).
        var says: String? = nil
        var testDescription: String { "\(command): \(situation) → \(status)" }
    }

    /// A store no one listens on: connections are refused at once.
    static let downStore = "s3://down/prod?endpoint=http://127.0.0.1:9&region=us-east-1"

    static let cases: [Case] = [
        Case(command: "keygen", situation: "new keys", arguments: ["keygen", "--out", "new-keys"], status: 0),
        Case(command: "keygen", situation: "keys exist", arguments: ["keygen", "--out", "keys"], status: 3, says: "already exists"),
        Case(command: "keygen", situation: "no --out", arguments: ["keygen"], status: 64, says: "--out"),
        Case(command: "keygen", situation: "cannot write", arguments: ["keygen", "--out", "/proc/allot-keys"], status: 4),

        Case(command: "compile", situation: "check", arguments: ["compile", "--check", "--version", "1", "--created-at", "0"], status: 0),
        Case(
            command: "compile", situation: "errors in the files", arguments: ["compile", "--check", "--experiments", "broken"], status: 2,
            says: "nothing was written"),
        Case(
            command: "compile", situation: "lock would change",
            arguments: ["compile", "--locked", "--check", "--experiments", "ramped"], status: 1, says: "would change"),
        Case(
            command: "compile", situation: "--output without a key", arguments: ["compile", "--output", "x.bundle", "--version", "1"],
            status: 64, says: "no signing key"),
        Case(
            command: "compile", situation: "cannot write the bundle",
            arguments: [
                "compile", "--signing-key", "keys/signing.key", "--version", "1", "--created-at", "0", "--output", "/proc/x.bundle",
            ],
            status: 4, says: "cannot write"),
        Case(command: "compile", situation: "unknown flag", arguments: ["compile", "--nope"], status: 64, says: "unknown option '--nope'"),

        Case(command: "verify", situation: "valid", arguments: ["verify", "v1.bundle", "--trusted-key", "keys/signing.pub"], status: 0),
        Case(
            command: "verify", situation: "not a bundle", arguments: ["verify", "garbage.bundle", "--trusted-key", "keys/signing.pub"],
            status: 2, says: "is not valid"),
        Case(
            command: "verify", situation: "signed by another key",
            arguments: ["verify", "v1.bundle", "--trusted-key", "other/signing.pub"],
            status: 2, says: "is not valid"),
        Case(command: "verify", situation: "no --trusted-key", arguments: ["verify", "v1.bundle"], status: 64, says: "--trusted-key"),
        Case(
            command: "verify", situation: "an endless key file", arguments: ["verify", "v1.bundle", "--trusted-key", "/dev/zero"],
            status: 2,
            says: "is larger than 64 KiB"),
        Case(
            command: "compile", situation: "an endless signing key file",
            arguments: ["compile", "--signing-key", "/dev/zero", "--version", "1", "--created-at", "0", "--output", "x.bundle"], status: 2,
            says: "is larger than 64 KiB"),

        Case(command: "inspect", situation: "valid", arguments: ["inspect", "v1.bundle", "--trusted-key", "keys/signing.pub"], status: 0),
        Case(
            command: "inspect", situation: "not a bundle", arguments: ["inspect", "garbage.bundle", "--trusted-key", "keys/signing.pub"],
            status: 2),
        Case(
            command: "inspect", situation: "--json and --format text",
            arguments: ["inspect", "v1.bundle", "--trusted-key", "keys/signing.pub", "--json", "--format", "text"], status: 64,
            says: "contradicts"),

        Case(
            command: "assign", situation: "one unit",
            arguments: ["assign", "--bundle", "v1.bundle", "--trusted-key", "keys/signing.pub", "--unit", "user_id=u1"], status: 0),
        Case(
            command: "assign", situation: "a batch line that is not a request",
            arguments: ["assign", "--bundle", "v1.bundle", "--trusted-key", "keys/signing.pub", "--batch", "requests.ndjson"], status: 2,
            says: "1 of 2 requests could not be evaluated"),
        Case(
            command: "assign", situation: "--unit without =",
            arguments: ["assign", "--bundle", "v1.bundle", "--trusted-key", "keys/signing.pub", "--unit", "u1"], status: 64),

        Case(command: "schema", situation: "print", arguments: ["schema"], status: 0),
        Case(command: "schema", situation: "an argument it does not take", arguments: ["schema", "extra"], status: 64),

        Case(
            command: "publish", situation: "new region",
            arguments: ["publish", "v1.bundle", "--store", "fresh", "--signing-key", "keys/signing.key"], status: 0),
        Case(
            command: "publish", situation: "region has a newer version",
            arguments: ["publish", "v1.bundle", "--store", "newer", "--signing-key", "keys/signing.key"], status: 3),
        Case(
            command: "publish", situation: "region down",
            arguments: [
                "publish", "v1.bundle", "--store", downStore, "--signing-key", "keys/signing.key", "--attempts", "1", "--timeout", "2",
            ],
            status: 4),
        Case(
            command: "publish", situation: "not a bundle",
            arguments: ["publish", "garbage.bundle", "--store", "fresh", "--signing-key", "keys/signing.key"], status: 2,
            says: "nothing was published"),
        Case(command: "publish", situation: "no key", arguments: ["publish", "v1.bundle", "--store", "fresh"], status: 64),

        Case(
            command: "status", situation: "regions agree",
            arguments: ["status", "--store", "us", "--store", "eu", "--trusted-key", "keys/signing.pub"], status: 0),
        Case(
            command: "status", situation: "regions disagree",
            arguments: ["status", "--store", "us", "--store", "newer", "--trusted-key", "keys/signing.pub"], status: 1),
        Case(
            command: "status", situation: "manifest signed by an untrusted key",
            arguments: ["status", "--store", "us", "--trusted-key", "other/signing.pub"], status: 2),
        Case(
            command: "status", situation: "region unreachable",
            arguments: ["status", "--store", "us", "--store", downStore, "--trusted-key", "keys/signing.pub", "--attempts", "1"],
            status: 4),
        Case(command: "status", situation: "no --trusted-key", arguments: ["status", "--store", "us"], status: 64, says: "--trusted-key"),

        Case(command: "diff", situation: "no change", arguments: ["diff", "experiments", "experiments"], status: 0),
        Case(
            command: "diff", situation: "units move, unacknowledged",
            arguments: ["diff", "experiments", "reweighted", "--fail-on-reassign"], status: 1, says: "acknowledge: [reassignment]"),
        Case(command: "diff", situation: "a side does not compile", arguments: ["diff", "experiments", "broken"], status: 2),
        Case(
            command: "diff", situation: "bundles without --trusted-key", arguments: ["diff", "v1.bundle", "v1.bundle"], status: 64,
            says: "--trusted-key"),
        Case(
            command: "diff", situation: "cannot write the report",
            arguments: ["diff", "experiments", "experiments", "--output", "/proc/report.md"], status: 4),

        Case(command: "lint", situation: "no warnings", arguments: ["lint", "--at", "2026-12-01"], status: 0),
        Case(command: "lint", situation: "warnings with --strict", arguments: ["lint", "--at", "2027-03-01", "--strict"], status: 1),
        Case(command: "lint", situation: "the files do not compile", arguments: ["lint", "--experiments", "broken"], status: 2),
        Case(command: "lint", situation: "bad threshold", arguments: ["lint", "--layer-full-threshold", "120%"], status: 64),

        Case(command: "serve", situation: "no key at all", arguments: ["serve", "--store", "us"], status: 64, says: "--trusted-key"),
        Case(
            command: "serve", situation: "unreadable key file", arguments: ["serve", "--store", "us", "--trusted-key", "missing.pub"],
            status: 2, says: "cannot read trusted key file"),
        Case(
            command: "serve", situation: "cannot listen",
            arguments: [
                "serve", "--store", "us", "--trusted-key", "keys/signing.pub", "--listen", "192.0.2.1:8080", "--cache-dir", "cache",
            ],
            status: 4, says: "cannot start the server"),

        Case(command: "analyze", situation: "a healthy split", arguments: analyze, status: 0),
        Case(
            command: "analyze", situation: "sample-ratio mismatch",
            arguments: ["analyze", "--exposures", "analysis-srm/exposures", "--events", "analysis-srm/events.csv"], status: 1,
            says: "sample-ratio mismatch in green-checkout-button"),
        Case(
            command: "analyze", situation: "a bad event",
            arguments: ["analyze", "--exposures", "analysis/exposures", "--events", "bad-events.csv"],
            status: 2, says: "bad-events.csv:2: 'lots' is not a number"),
        Case(
            command: "analyze", situation: "experiments that do not compile", arguments: analyze + ["--experiments", "broken"], status: 2,
            says: "do not compile"),
        Case(
            command: "analyze", situation: "exposure store down",
            arguments: ["analyze", "--exposures", downStore, "--events", "analysis/events.csv"],
            status: 4, says: "cannot list"),
        Case(
            command: "analyze", situation: "no --exposures", arguments: ["analyze", "--events", "analysis/events.csv"], status: 64,
            says: "--exposures"),
    ]

    /// A folder with everything the cases need: the samples, keys, a bundle, stores in known states.
    static let analyze = ["analyze", "--exposures", "analysis/exposures", "--events", "analysis/events.csv"]

    static func fixture() async throws -> URL {
        let directory = try CLI.temporaryDirectory()
        try CLI.copySamples(to: directory)
        func run(_ arguments: [String]) async throws {
            let result = try await CLI.run(arguments, in: directory)
            guard result.status == 0 else { throw CLIError(message: "\(arguments): \(result.output)") }
        }
        try await run(["keygen", "--out", "keys"])
        try await run(["keygen", "--out", "other"])
        let compile = ["compile", "--signing-key", "keys/signing.key", "--created-at", "0"]
        try await run(compile + ["--version", "1", "--output", "v1.bundle"])
        try await run(compile + ["--version", "2", "--output", "v2.bundle"])
        try Data("not a bundle".utf8).write(to: directory.appendingPathComponent("garbage.bundle"))
        try Data("{\"units\":{\"user_id\":\"u1\"}}\n{not json\n".utf8).write(to: directory.appendingPathComponent("requests.ndjson"))
        let generator = Repository.root.appendingPathComponent("scripts/generate-analysis-sample").path
        for (folder, share) in [("analysis", "0.5"), ("analysis-srm", "0.6")] {
            let generated = try await runProcess(
                "/usr/bin/env",
                ["python3", generator, directory.appendingPathComponent(folder).path, "--units", "600", "--treatment-share", share])
            guard generated.status == 0 else { throw CLIError(message: "generate-analysis-sample: \(generated.stderr)") }
        }
        try Data("unit_id,metric,value,timestamp\nu-000001,revenue,lots,1764547200000\n".utf8).write(
            to: directory.appendingPathComponent("bad-events.csv"))
        try await run(["publish", "v1.bundle", "--store", "us", "--store", "eu", "--signing-key", "keys/signing.key"])
        try await run(["publish", "v2.bundle", "--store", "newer", "--signing-key", "keys/signing.key"])
        let manager = FileManager.default
        for name in ["broken", "ramped", "reweighted"] {
            try manager.copyItem(at: directory.appendingPathComponent("experiments"), to: directory.appendingPathComponent(name))
        }
        func edit(_ folder: String, _ old: String, _ new: String) throws {
            let file = directory.appendingPathComponent("\(folder)/layers/checkout.yaml")
            let text = try String(contentsOf: file, encoding: .utf8)
            guard text.contains(old) else { throw CLIError(message: "no '\(old)' in \(file.path)") }
            try text.replacingOccurrences(of: old, with: new).write(to: file, atomically: true, encoding: .utf8)
        }
        try edit("broken", "traffic: 20%", "traffic: 120%")
        try edit("ramped", "traffic: 20%", "traffic: 25%")
        try edit(
            "reweighted", "  - name: control\n    weight: 50%\n  - name: green\n    weight: 50%",
            "  - name: control\n    weight: 30%\n  - name: green\n    weight: 70%")
        return directory
    }

    /// Built once (a task, so the cases waiting for it hold no thread); each case works in its own copy.
    static let template = Task { try await fixture() }

    @Test(arguments: cases)
    func exitStatus(_ c: Case) async throws {
        let directory = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.removeItem(at: directory)
        try FileManager.default.copyItem(at: try await Self.template.value, to: directory)
        let result = try await CLI.run(c.arguments, in: directory)
        #expect(result.status == c.status, "\(c.arguments.joined(separator: " ")): \(result.output)")
        if c.status != 0 {
            // One error style: an `error: ` line (after any diagnostics or report), unless the
            // report on standard output says it all (status, publish).
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.contains { $0.hasPrefix("error: ") } || (result.stderr.isEmpty && !result.stdout.isEmpty), "\(result.output)")
            #expect(!result.stderr.contains("Error: "), "\(result.stderr)")
        }
        if let says = c.says { #expect(result.stderr.contains(says), "\(result.stderr)") }
    }

    @Test(arguments: [("compil", "compile"), ("sttus", "status"), ("publsh", "publish"), ("keygne", "keygen"), ("frobnicate", nil)])
    func mistypedCommandsGetADidYouMean(typed: String, meant: String?) async throws {
        let result = try await CLI.run([typed, "--experiments", "x"])
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("error: '\(typed)' is not an allot command; "), "\(result.stderr)")
        if let meant {
            #expect(result.stderr.contains("did you mean '\(meant)'?"), "\(result.stderr)")
        } else {
            #expect(!result.stderr.contains("did you mean"))
        }
        #expect(result.stderr.contains("the commands are keygen, compile,"))
    }

    /// Every command `allot --help` lists has its statuses pinned above.
    @Test func everyCommandIsCovered() async throws {
        let help = try await CLI.run(["--help"])
        let section = try #require(help.stdout.components(separatedBy: "SUBCOMMANDS:").last)
        let commands = section.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let word = line.split(separator: " ").first,
                word.allSatisfy({ $0.isLowercase })
            else { return nil }
            return String(word)
        }
        #expect(commands.count >= 11, "\(commands)")
        let covered = Set(Self.cases.map(\.command))
        for command in commands { #expect(covered.contains(command), "no exit-status case for `allot \(command)`") }
        for command in covered {
            let statuses = Set(Self.cases.filter { $0.command == command }.map(\.status))
            #expect(statuses.contains(64), "\(command) has no usage case")
        }
    }

    /// docs/cli.md's table is the set of statuses the commands use.
    @Test func theDocumentedTableIsTheUsedOne() throws {
        let text = try String(contentsOf: Repository.root.appendingPathComponent("docs/cli.md"), encoding: .utf8)
        let section = try #require(text.components(separatedBy: "## Exit statuses").last?.components(separatedBy: "\n## ").first)
        let documented = section.split(separator: "\n").compactMap { line -> Int32? in
            guard line.hasPrefix("| "), let number = Int32(line.dropFirst(2).prefix { $0.isNumber }) else { return nil }
            return number
        }
        #expect(documented == [0, 1, 2, 3, 4, 64])
        #expect(Set(Self.cases.map(\.status)) == Set(documented))
    }
}
