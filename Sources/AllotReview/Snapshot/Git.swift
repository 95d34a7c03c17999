import Foundation

/// Runs git in a directory, for the tools that read a repository: `allot diff` (revisions) and
/// `allot compile` (version and created-at defaults from the commit).
public enum Git {
    /// The exit status and trimmed standard output, or nil when git cannot be started. git runs
    /// with `directory` as its working directory (a relative `directory` is relative to this
    /// process's), so pathspecs such as `.` in `arguments` are relative to it too.
    public static func run(_ arguments: [String], in directory: String) -> (status: Int32, output: String)? {
        command("git", arguments, in: directory)
    }

    /// Runs a program found on the PATH (stderr discarded): the exit status and trimmed output.
    public static func command(_ program: String, _ arguments: [String], in directory: String) -> (status: Int32, output: String)? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return nil
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The output of a successful command, or nil.
    public static func output(_ arguments: [String], in directory: String) -> String? {
        guard let result = run(arguments, in: directory), result.status == 0 else { return nil }
        return result.output
    }
}
