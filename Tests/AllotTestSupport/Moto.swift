import Foundation
public import Testing

/// How tests find moto's S3 server (moto 5, `pip install 'moto[server]'`).
///
/// `ALLOT_MOTO_SERVER` names the executable if set; otherwise the `moto_server` beside the
/// `python3` interpreter on PATH is used (so the process we start is the server itself, not a
/// shim), then any `moto_server` on PATH. Tests that need it are skipped only when none exists
/// (scripts/test installs it and sets the variable, so CI always runs them).
public enum Moto {
    public static let executable: String? = {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["ALLOT_MOTO_SERVER"], !path.isEmpty { return path }
        if let python = which("python3"),
            let result = try? runProcessBlocking(
                python, ["-c", "import sys, os; print(os.path.dirname(os.path.realpath(sys.executable)))"]),
            result.status == 0
        {
            let candidate = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + "/moto_server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return which("moto_server")
    }()

    public static let available = executable != nil
    public static let skipReason: Comment =
        "moto_server not found: install it with `pip install 'moto[server]' boto3` or set ALLOT_MOTO_SERVER to its path"

    /// The Python interpreter moto runs on (from its `#!` line), for helper scripts that need boto3.
    public static let python: String = {
        if let executable, let text = try? String(contentsOfFile: executable, encoding: .utf8), text.hasPrefix("#!") {
            let line = text.dropFirst(2).prefix { $0 != "\n" }.trimmingCharacters(in: .whitespaces)
            if !line.contains(" "), FileManager.default.isExecutableFile(atPath: line) { return line }
        }
        return which("python3") ?? "/usr/bin/python3"
    }()

    /// Starts one moto server on a free loopback port (or on `port`, to bring one back where its
    /// clients expect it).
    public static func start(environment: [String: String] = [:], port: Int? = nil) async throws -> ChildProcess {
        guard let executable else { throw ChildProcessError(skipReason.rawValue) }
        // moto imports Flask and every moto service before it listens: seconds alone, tens of
        // seconds on a busy 2-core machine.
        return try await ChildProcess.start(
            name: "moto", executable: executable, arguments: { ["-H", "127.0.0.1", "-p", "\($0)"] }, environment: environment, timeout: 90,
            port: port)
    }
}
