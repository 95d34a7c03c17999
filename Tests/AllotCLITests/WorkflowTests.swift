import AllotTestSupport
import Foundation
import Testing

/// `.github/workflows/allot.yml` run as written, step by step, by `Tests/Journeys/run_workflow.py`
/// with GitHub's environment semantics (job and step `env`, secrets only where mapped,
/// `GITHUB_OUTPUT`, `GITHUB_PATH`, `GITHUB_STEP_SUMMARY`, `if:` expressions), in a fresh clone
/// that stands in for `actions/checkout` with `fetch-depth: 0`.
///
/// Not run here, because they need GitHub or a container: the package installation step (this
/// machine has the packages), `actions/cache`, posting the comment (`actions/github-script`, which
/// calls GitHub's API; the test checks the file it would post instead), and the release build,
/// which is replaced by putting the already built `allot` on `GITHUB_PATH`.
@Suite(.serialized)
struct WorkflowTests {
    static let workflow = Repository.root.appendingPathComponent(".github/workflows/allot.yml").path
    static let runner = Repository.root.appendingPathComponent("Tests/Journeys/run_workflow.py").path

    /// A repository of experiments as a team would have it: this repository's experiments and
    /// workflow, and the public key the servers trust committed as keys/signing.pub.
    struct Team {
        let clone: FreshClone
        let keys: String

        init() async throws {
            clone = try await FreshClone.make("workflow", paths: ["experiments", ".github"])
            keys = clone.scratch + "/keys"
            let keygen = try await CLI.run(["keygen", "--out", keys])
            guard keygen.status == 0 else { throw CLIError(message: keygen.output) }
            try FileManager.default.createDirectory(atPath: clone.path + "/keys", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: keys + "/signing.pub", toPath: clone.path + "/keys/signing.pub")
            try await clone.commit("Trust the signing key")
            try await clone.git(["push", "-q", "origin", "HEAD:main"])
        }

        var directory: URL { URL(fileURLWithPath: clone.path) }
        var signingKey: String { get throws { try String(contentsOfFile: keys + "/signing.key", encoding: .utf8) } }

        /// On a branch off main: edits, then `allot compile` (no key: it updates the lock) and a commit,
        /// as an experiment owner would; returns the merge of the branch into main, which is what a
        /// pull_request run checks out.
        func pullRequest(_ branch: String, edits: [(file: String, old: String, new: String)], compile: Bool = true) async throws {
            try await clone.git(["checkout", "-q", "-b", branch, "origin/main"])
            for edit in edits { try clone.edit(edit.file, replacing: edit.old, with: edit.new) }
            if compile {
                let compiled = try await CLI.run(["compile"], in: directory)
                guard compiled.status == 0 else { throw CLIError(message: "allot compile: \(compiled.output)") }
            }
            try await clone.commit("Change \(branch)")
            try await clone.git(["checkout", "-q", "--detach", "origin/main"])
            try await clone.git(["merge", "-q", "--no-ff", "-m", "Merge \(branch) into main", branch])
        }

        /// Merges the branch on main (as the merge button would) and checks main out.
        func merge(_ branch: String) async throws {
            try await clone.git(["checkout", "-q", "-B", "main", "origin/main"])
            try await clone.git(["merge", "-q", "--no-ff", "-m", "Merge \(branch)", branch])
            try await clone.git(["push", "-q", "origin", "main"])
        }

        func remove() { clone.remove() }
    }

    struct Report: Decodable {
        struct Step: Decodable {
            var name: String
            var outcome: String
            var conclusion: String
            var exit: Int?
            var log: String
            var note: String
            var outputs: [String: String]
        }
        struct Job: Decodable {
            var id: String
            var result: String
            var steps: [Step]
        }
        var triggered: Bool
        var trigger: String
        var jobs: [Job]
        var summary: String
        /// The runner's progress log, for failure messages.
        var log = ""
        var status: Int32 = 0

        private enum CodingKeys: String, CodingKey { case triggered, trigger, jobs, summary }

        func job(_ id: String) -> Job? { jobs.first { $0.id == id } }
        func step(_ job: String, _ name: String) -> Step? { self.job(job)?.steps.first { $0.name.hasPrefix(name) } }
    }

    /// Runs the workflow for `event` in the team's clone.
    static func run(
        _ team: Team, event: String, github: [String: String], secrets: [String: String] = [:], variables: [String: String] = [:]
    ) async throws -> Report {
        let folder = team.clone.scratch + "/run-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let context: [String: Any] = ["github": github, "secrets": secrets, "vars": variables]
        try JSONSerialization.data(withJSONObject: context).write(to: URL(fileURLWithPath: folder + "/context.json"))
        let binaries = (AllotBinary.path as NSString).deletingLastPathComponent
        let result = try await runProcess(
            Moto.python,
            [
                runner, workflow, "--event", event, "--workspace", team.clone.path, "--context", folder + "/context.json",
                "--report", folder + "/report.json",
                "--skip", "Install git and the C libraries",
                "--substitute", "Build allot=echo \"\(binaries)\" >> \"$GITHUB_PATH\"",
            ])
        guard result.status != 2, let data = FileManager.default.contents(atPath: folder + "/report.json") else {
            throw CLIError(message: "run_workflow.py failed (\(result.status)):\n\(result.output)")
        }
        var report = try JSONDecoder().decode(Report.self, from: data)
        report.log = result.stderr
        report.status = result.status
        return report
    }

    static func pullRequestContext(_ branch: String) -> [String: String] {
        ["ref": "refs/pull/1/merge", "base_ref": "main", "head_ref": branch]
    }

    static let ramp = (file: "experiments/layers/checkout.yaml", old: "traffic: 20%", new: "traffic: 25%")

    // MARK: Pull requests

    /// A ramp from 20% to 25% with its lock: compile, lint and diff pass, the report is written
    /// for the comment and the job summary, and the publish job does not run.
    @Test func pullRequestWithACommittedLockPasses() async throws {
        let team = try await Team()
        defer { team.remove() }
        try await team.pullRequest("ramp", edits: [Self.ramp])
        let report = try await Self.run(team, event: "pull_request", github: Self.pullRequestContext("ramp"))
        #expect(report.triggered, "\(report.trigger)")
        #expect(report.job("review")?.result == "success", "\(report.log)")
        #expect(report.job("publish")?.result == "skipped")
        for step in ["Compile", "Lint", "Diff against the target branch"] {
            #expect(report.step("review", step)?.outcome == "success", "\(step): \(report.log)")
        }
        #expect(report.step("review", "Diff against the target branch")?.outputs["status"] == "0")
        #expect(report.step("review", "Fail if enrolled units move")?.outcome == "skipped")
        let diff = try String(contentsOfFile: team.clone.path + "/allot-diff.md", encoding: .utf8)
        #expect(diff.hasPrefix("<!-- allot-diff -->"), "the comment step looks for this marker: \(diff.prefix(200))")
        #expect(diff.contains("green-checkout-button"))
        #expect(report.summary.contains("green-checkout-button"), "the report is in the job summary")
        // The comment step's condition held (it needs GitHub, so it is recorded, not run).
        #expect(report.step("review", "Post the report")?.note.contains("needs GitHub") == true)
    }

    /// A pull request that changed an experiment but not the lock fails at the compile step.
    @Test func pullRequestWithoutItsLockFails() async throws {
        let team = try await Team()
        defer { team.remove() }
        try await team.pullRequest("ramp-no-lock", edits: [Self.ramp], compile: false)
        let report = try await Self.run(team, event: "pull_request", github: Self.pullRequestContext("ramp-no-lock"))
        #expect(report.job("review")?.result == "failure")
        let compile = report.step("review", "Compile")
        #expect(compile?.outcome == "failure")
        #expect(compile?.log.contains("allot.lock would change") == true, "\(compile?.log ?? "")")
    }

    /// A reweight moves enrolled units: the report is written and summarised, then the job fails;
    /// with `acknowledge: [reassignment]` on the experiment it passes.
    @Test func pullRequestThatMovesEnrolledUnitsFailsUntilAcknowledged() async throws {
        let team = try await Team()
        defer { team.remove() }
        let reweight = (
            file: "experiments/layers/checkout.yaml",
            old: "  - name: control\n    weight: 50%\n  - name: green\n    weight: 50%",
            new: "  - name: control\n    weight: 30%\n  - name: green\n    weight: 70%"
        )
        try await team.pullRequest("reweight", edits: [reweight])
        let report = try await Self.run(team, event: "pull_request", github: Self.pullRequestContext("reweight"))
        #expect(report.job("review")?.result == "failure", "\(report.log)")
        #expect(report.step("review", "Diff against the target branch")?.outputs["status"] == "1", "\(report.log)")
        #expect(report.step("review", "Fail if enrolled units move")?.outcome == "failure")
        #expect(report.summary.contains("green-checkout-button"))

        try await team.clone.git(["checkout", "-q", "reweight"])
        try team.clone.edit(
            "experiments/layers/checkout.yaml", replacing: "name: green-checkout-button\n",
            with: "name: green-checkout-button\nacknowledge: [reassignment]\n")
        try await team.clone.commit("Acknowledge the reweight")
        try await team.clone.git(["checkout", "-q", "--detach", "origin/main"])
        try await team.clone.git(["merge", "-q", "--no-ff", "-m", "Merge reweight", "reweight"])
        let acknowledged = try await Self.run(team, event: "pull_request", github: Self.pullRequestContext("reweight"))
        #expect(acknowledged.job("review")?.result == "success", "\(acknowledged.log)")
        #expect(acknowledged.step("review", "Diff against the target branch")?.outputs["status"] == "0")
    }

    /// A holdout that grows un-enrolls units of six experiments nobody touched: the job fails
    /// and names the holdout as the place to acknowledge; one acknowledgement there passes.
    @Test func pullRequestGrowingAHoldoutIsAcknowledgedOnTheHoldout() async throws {
        let team = try await Team()
        defer { team.remove() }
        let grow = (file: "experiments/holdouts.yaml", old: "traffic: 2%\n", new: "traffic: 4%\n")
        try await team.pullRequest("holdout", edits: [grow])
        let report = try await Self.run(team, event: "pull_request", github: Self.pullRequestContext("holdout"))
        #expect(report.job("review")?.result == "failure", "\(report.log)")
        let diff = report.step("review", "Diff against the target branch")
        #expect(diff?.outputs["status"] == "1")
        #expect(diff?.log.contains("add `acknowledge: [reassignment]` to holdout 'global-2026'") == true, "\(diff?.log ?? "")")
        #expect(report.summary.contains("units move because of holdout `global-2026` (share 2% → 4%)"), "\(report.summary)")

        try await team.clone.git(["checkout", "-q", "holdout"])
        try team.clone.edit("experiments/holdouts.yaml", replacing: "traffic: 4%\n", with: "traffic: 4%\nacknowledge: [reassignment]\n")
        try await team.clone.commit("Acknowledge the bigger holdout")
        try await team.clone.git(["checkout", "-q", "--detach", "origin/main"])
        try await team.clone.git(["merge", "-q", "--no-ff", "-m", "Merge holdout", "holdout"])
        let acknowledged = try await Self.run(team, event: "pull_request", github: Self.pullRequestContext("holdout"))
        #expect(acknowledged.job("review")?.result == "success", "\(acknowledged.log)")
    }

    // MARK: Main

    /// A merge to main: compile and sign with the secret, publish to three moto regions, and the
    /// status step checks every region with the trusted key. Then every region is checked again
    /// independently.
    @Test(.enabled(if: Moto.available, Moto.skipReason))
    func pushToMainPublishesToEveryRegion() async throws {
        let team = try await Team()
        defer { team.remove() }
        let regions = try await MotoRegions.start(3)
        defer { regions.stop() }
        try await team.pullRequest("ramp", edits: [Self.ramp])
        try await team.merge("ramp")
        let commits = try await team.clone.git(["rev-list", "--count", "HEAD"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let report = try await Self.run(
            team, event: "push", github: ["ref": "refs/heads/main", "before": "HEAD~1"],
            secrets: ["ALLOT_SIGNING_KEY": try team.signingKey, "AWS_ACCESS_KEY_ID": "AKIATEST", "AWS_SECRET_ACCESS_KEY": "test"],
            variables: ["ALLOT_STORES": regions.urls.joined(separator: " ")])
        #expect(report.triggered, "\(report.trigger)")
        #expect(report.job("review")?.result == "skipped")
        #expect(report.job("publish")?.result == "success", "\(report.log)")
        #expect(report.step("publish", "Compile and sign")?.outputs["bundle"] == "bundles/\(commits).bundle")
        let publish = report.step("publish", "Publish to every region")
        #expect(publish?.outcome == "success", "\(publish?.log ?? "")")
        let status = report.step("publish", "Check every region serves it")
        #expect(status?.outcome == "success", "\(status?.log ?? "")")
        #expect(status?.log.contains("all 3 regions agree") == true, "\(status?.log ?? "")")
        #expect(status?.log.contains("not checked") == false, "the status step checks signatures: \(status?.log ?? "")")
        // The secret never shows in a log.
        let key = try team.signingKey.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!report.log.contains(key))
        for line in key.split(separator: "\n") where line.count >= 8 {
            #expect(!report.jobs.flatMap(\.steps).contains { $0.log.contains(line) }, "a step's log shows the secret")
        }

        var arguments = ["status", "--json", "--trusted-key", team.keys + "/signing.pub"]
        for url in regions.urls { arguments += ["--store", url] }
        let check = try await CLI.run(arguments, environment: ["AWS_ACCESS_KEY_ID": "AKIATEST", "AWS_SECRET_ACCESS_KEY": "test"])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.stdout.components(separatedBy: "\"version\" : \(commits)").count - 1 == 3, "\(check.stdout)")
    }

    /// Signed with a key the servers do not trust: the job stops before publishing anything.
    @Test(.enabled(if: Moto.available, Moto.skipReason))
    func pushSignedWithAnUntrustedKeyPublishesNothing() async throws {
        let team = try await Team()
        defer { team.remove() }
        let regions = try await MotoRegions.start(3)
        defer { regions.stop() }
        let other = team.clone.scratch + "/other-keys"
        #expect(try await CLI.run(["keygen", "--out", other]).status == 0)
        try await team.pullRequest("ramp", edits: [Self.ramp])
        try await team.merge("ramp")
        let report = try await Self.run(
            team, event: "push", github: ["ref": "refs/heads/main", "before": "HEAD~1"],
            secrets: [
                "ALLOT_SIGNING_KEY": try String(contentsOfFile: other + "/signing.key", encoding: .utf8),
                "AWS_ACCESS_KEY_ID": "AKIATEST", "AWS_SECRET_ACCESS_KEY": "test",
            ],
            variables: ["ALLOT_STORES": regions.urls.joined(separator: " ")])
        #expect(report.job("publish")?.result == "failure")
        let compile = report.step("publish", "Compile and sign")
        #expect(compile?.outcome == "failure")
        #expect(compile?.log.contains("is not valid") == true, "\(compile?.log ?? "")")
        #expect(report.step("publish", "Publish to every region")?.outcome == "skipped")
        #expect(try await regions.manifestCount() == 0)
    }

    /// A pull request that changes nothing under the workflow's paths does not run it.
    @Test func pathsFilterDecidesWhetherTheWorkflowRuns() async throws {
        let team = try await Team()
        defer { team.remove() }
        try await team.clone.git(["checkout", "-q", "-b", "docs", "origin/main"])
        try "notes\n".write(toFile: team.clone.path + "/NOTES.md", atomically: true, encoding: .utf8)
        try await team.clone.commit("Notes")
        let report = try await Self.run(team, event: "pull_request", github: Self.pullRequestContext("docs"))
        #expect(!report.triggered)
        #expect(report.jobs.isEmpty)
    }
}

/// Three moto servers standing in for three regions' S3, a bucket each.
struct MotoRegions {
    static let names = ["us-east-1", "eu-west-1", "ap-southeast-2"]
    let servers: [ChildProcess]

    static func start(_ count: Int) async throws -> MotoRegions {
        var servers: [ChildProcess] = []
        for _ in 0..<count { servers.append(try await Moto.start()) }
        let regions = MotoRegions(servers: servers)
        let script = """
            import boto3, sys
            for endpoint, region in zip(sys.argv[1::2], sys.argv[2::2]):
                s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id="AKIATEST", aws_secret_access_key="test")
                config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
                s3.create_bucket(Bucket="allot-" + region, **config)
            """
        let arguments = servers.indices.flatMap { ["http://127.0.0.1:\(servers[$0].port)", names[$0]] }
        let result = try await runProcess(Moto.python, ["-c", script] + arguments)
        guard result.status == 0 else { throw CLIError(message: "cannot create the buckets: \(result.output)") }
        return regions
    }

    var urls: [String] {
        servers.indices.map { "s3://allot-\(Self.names[$0])/prod?endpoint=http://127.0.0.1:\(servers[$0].port)&region=\(Self.names[$0])" }
    }

    /// How many regions hold a manifest.
    func manifestCount() async throws -> Int {
        let script = """
            import boto3, sys
            count = 0
            for endpoint, region in zip(sys.argv[1::2], sys.argv[2::2]):
                s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id="AKIATEST", aws_secret_access_key="test")
                count += s3.list_objects_v2(Bucket="allot-" + region, Prefix="prod/manifest.json").get("KeyCount", 0)
            print(count)
            """
        let arguments = servers.indices.flatMap { ["http://127.0.0.1:\(servers[$0].port)", Self.names[$0]] }
        let result = try await runProcess(Moto.python, ["-c", script] + arguments)
        guard result.status == 0, let count = Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw CLIError(message: "cannot list the buckets: \(result.output)")
        }
        return count
    }

    func stop() { servers.forEach { $0.kill() } }
}
