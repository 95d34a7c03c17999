import AllotTestSupport
import Foundation
import Testing

/// The deployment artefacts in ops/deploy, each checked by `ops/deploy/check.py NAME` with the real
/// tools: the release script and the build stamp, the Kubernetes overlays (kustomize,
/// kubernetes-validate, checkov), the container build file (hadolint, checkov, and its runtime stage
/// run in a scratch root), the systemd unit (systemd-analyze, and its ExecStart run by hand), the
/// least-privilege store policies (moto's IAM) and the scrape configs (promtool); docs/deploy.md's
/// walkthrough runs in DocumentationTests, as every page's examples do. docs/deploy.md says what each
/// proves. The checks run one after another (each starts
/// servers or linters of its own) without holding a thread of the test run.
@Suite("Deployment artefacts (ops/deploy/check.py)", .timeLimit(.minutes(10)))
struct DeployTests {
    static let checks = [
        "release", "stamp", "kubernetes", "checkov-kubernetes", "container", "scratch-root", "systemd", "systemd-run", "iam",
        "prometheus",
    ]
    static let script = Repository.root.appendingPathComponent("ops/deploy/check.py").path

    @Test("each deployment artefact passes its check", .serialized, arguments: checks)
    func check(name: String) async throws {
        try #require(AllotBinary.available, Comment(rawValue: AllotBinary.missing))
        let result = try await runProcess(
            "/usr/bin/env", ["python3", Self.script, name], environment: ["ALLOT_BINARY": AllotBinary.path])
        #expect(result.status == 0, "ops/deploy/check.py \(name) exited \(result.status):\n\(result.output)")
    }

    @Test("the checks run here are all the checks there are")
    func everyCheckIsRun() async throws {
        let result = try await runProcess("/usr/bin/env", ["python3", Self.script, "--list"])
        #expect(result.status == 0)
        #expect(Set(result.output.split(separator: "\n").map(String.init)) == Set(Self.checks))
    }
}
