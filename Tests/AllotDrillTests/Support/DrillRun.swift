import AllotTestSupport
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One run of `ops/drill/drill.py --profile ci` against the built `allot` binary, shared by every
/// test of the suite: the drill takes a few minutes, each test asserts one of its outcomes.
enum DrillRun {
    static let root = Repository.root

    static var binary: String { AllotBinary.path }

    /// The drill's results, once it has run (started by the first test that asks).
    static func results() async throws -> DrillResults {
        try await shared.value
    }

    private static let shared = Task<DrillResults, any Error> { try await run() }

    private static func run() async throws -> DrillResults {
        guard AllotBinary.available else { throw DrillError(AllotBinary.missing) }
        guard let python = which("python3") else { throw DrillError("python3 is not on PATH") }
        let workdir = Scratch.folder("drill-test")
        // Waits without holding a thread of the cooperative pool for the minutes the drill runs.
        let result = try await runProcess(
            python,
            [
                root.appendingPathComponent("ops/drill/drill.py").path, "--profile", "ci", "--allot", binary, "--workdir", workdir,
                "--watch-parent", "--time-limit", "780",
            ],
            directory: root.path)
        let (status, text) = (result.status, result.output)
        guard let data = FileManager.default.contents(atPath: workdir + "/results.json") else {
            throw DrillError("the drill exited with \(status) and wrote no results:\n\(text)")
        }
        // Keep the logs of a failed run for whoever reads the failure; remove a good run's.
        if status == 0 { try? FileManager.default.removeItem(atPath: workdir) }
        return DrillResults(status: status, data: data, output: text, workdir: workdir)
    }
}

/// The drill's `results.json`, with accessors for what the tests check.
struct DrillResults: Sendable {
    let status: Int32
    let data: Data
    /// Everything the drill printed (its report).
    let output: String
    /// Where its logs are (kept when the drill failed).
    let workdir: String

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    /// The value at a path of object keys, e.g. `value("phases", "soak", "wrk_failed")`.
    func value(_ path: String...) -> Any? {
        var current: Any? = json
        for key in path { current = (current as? [String: Any])?[key] }
        return current
    }

    func object(_ path: String...) -> [String: Any] {
        var current: Any? = json
        for key in path { current = (current as? [String: Any])?[key] }
        return current as? [String: Any] ?? [:]
    }

    func int(_ path: String...) -> Int? {
        var current: Any? = json
        for key in path { current = (current as? [String: Any])?[key] }
        return (current as? NSNumber)?.intValue
    }

    /// The drill's own checks: name, passed, detail.
    var checks: [(name: String, ok: Bool, detail: String)] {
        (json["checks"] as? [[String: Any]] ?? []).map {
            ($0["name"] as? String ?? "?", $0["ok"] as? Bool ?? false, $0["detail"] as? String ?? "")
        }
    }

    /// The end of the drill's report, for failure messages.
    var outputTail: String {
        String(output.split(separator: "\n", omittingEmptySubsequences: false).suffix(60).joined(separator: "\n"))
            + "\n(logs in \(workdir))"
    }
}

struct DrillError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
