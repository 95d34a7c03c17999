import AllotTestSupport
import Foundation
import Testing

/// The deployment artefacts in ops/deploy, each checked by `ops/deploy/check.py NAME` with the real
/// tools: the release script and the build stamp, the Kubernetes overlays (kustomize,
/// kubernetes-validate, checkov), the container build file (hadolint, checkov, and its runtime stage
/// run in a scratch root), the systemd unit (systemd-analyze, and its ExecStart run by hand), the
/// least-privilege store policies (moto's IAM), the scrape configs (promtool). docs/deploy.md says
/// what each proves.
@Suite("Deployment artefacts (ops/deploy/check.py)", .timeLimit(.minutes(10)))
struct DeployTests {
    @Test(
        "each deployment artefact passes its check",
        arguments: [
            "release", "stamp", "kubernetes", "checkov-kubernetes", "container", "scratch-root", "systemd", "systemd-run",
            "iam", "prometheus", "docs",
        ])
    func check(name: String) throws {
        try #require(AllotBinary.available, Comment(rawValue: AllotBinary.missing))
        let result = try runProcess(
            "/usr/bin/env", ["python3", Repository.root.appendingPathComponent("ops/deploy/check.py").path, name],
            environment: ["ALLOT_BINARY": AllotBinary.path])
        #expect(result.status == 0, "ops/deploy/check.py \(name) exited \(result.status):\n\(result.output)")
    }

    @Test("the checks run here are all the checks there are")
    func everyCheckIsRun() throws {
        let result = try runProcess(
            "/usr/bin/env", ["python3", Repository.root.appendingPathComponent("ops/deploy/check.py").path, "--list"])
        let names = result.stdout.split(separator: "\n").map(String.init)
        #expect(
            Set(names)
                == [
                    "release", "stamp", "kubernetes", "checkov-kubernetes", "container", "scratch-root", "systemd", "systemd-run",
                    "iam", "prometheus", "docs",
                ])
    }
}
